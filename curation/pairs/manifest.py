"""Writing a pair manifest: the Parquet file with its metadata (atomic, never overwriting a version) and its card.

:mod:`curation.pairs.build` computes; this module only writes what it computed.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from curation.pairs.config import BuildPairsConfig
from storage.errors import CurateError

if TYPE_CHECKING:
    from curation.pairs.build import PairsResult

# The manifest's columns, in order: a contract with `curate train-dpo` and the exports (docs/pairs.md).
MANIFEST_COLUMNS = [
    "pair_id", "clip_id", "winner_candidate_id", "loser_candidate_id", "winner_method", "loser_method",
    "winner_video", "loser_video", "image", "audio", "prompt", "skeleton", "winner_reward", "loser_reward",
    "margin", "winner_alignment", "winner_fidelity", "loser_alignment", "loser_fidelity", "winner_raters",
    "loser_raters", "confidence",
]  # fmt: skip
# Columns added after the first manifests were written: a reader accepts a manifest without them.
LATER_COLUMNS = ("confidence",)
_VERSIONED = re.compile(r"^pairs-v(\d{4,})\.parquet$")


def manifest_metadata(cfg: BuildPairsConfig, result: PairsResult, version: int | None) -> dict:
    """File-level metadata of a manifest: parameters, provenance, counts."""
    from importlib.metadata import version as package_version

    counts = {k: v for k, v in result.stats.items() if isinstance(v, int)}
    return {
        "kind": "dpo-pairs",
        "manifest_version": version,
        **cfg.as_metadata(),
        "source": result.source["label"],
        "source_kind": result.source["kind"],
        "source_sha256": result.source["sha256"],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool_version": package_version("portrait-curate"),
        "counts": counts,
        "notes": result.notes,
    }


def next_version(folder: Path) -> int:
    """1 + the highest ``pairs-vNNNN.parquet`` in ``folder`` (1 when there is none)."""
    found = [int(m.group(1)) for p in folder.glob("pairs-v*.parquet") if (m := _VERSIONED.match(p.name))]
    return max(found, default=0) + 1


def write_manifest(
    cfg: BuildPairsConfig, result: PairsResult, out: Path | None = None, folder: Path | None = None,
    force: bool = False,
) -> tuple[Path, Path, dict]:
    """Write the manifest and its card; returns their paths and the metadata.

    With ``out``: that file (an existing one only with ``force``). Without: the next ``pairs-vNNNN.parquet`` in
    ``folder``, claimed with a hard link so that two builds running at once never take the same version.
    """
    from curation.pairs.card import render_card
    from storage.parquet import write_parquet_atomic, write_text_atomic

    table = result.manifest.select(MANIFEST_COLUMNS)
    if out is not None:
        out = Path(out)
        if out.exists() and not force:
            raise CurateError(f"{out}: already exists; pass --force to replace it, or leave out --out.")
        m = _VERSIONED.match(out.name)
        meta = manifest_metadata(cfg, result, int(m.group(1)) if m else None)
        path = write_parquet_atomic(table, out, meta)
    else:
        path, meta = _write_next_version(cfg, result, table, Path(folder))
    card = write_text_atomic(path.with_suffix(".md"), render_card(path.stem, meta, result.stats))
    return path, card, meta


def _write_next_version(cfg, result, table, folder: Path) -> tuple[Path, dict]:
    from storage.parquet import write_parquet_atomic

    folder.mkdir(parents=True, exist_ok=True)
    while True:
        n = next_version(folder)
        meta = manifest_metadata(cfg, result, n)
        path = folder / f"pairs-v{n:04d}.parquet"
        partial = folder / f".{path.name}.{os.getpid()}.tmp"
        try:
            write_parquet_atomic(table, partial, meta)
            os.link(partial, path)  # fails if the name was taken meanwhile: then try the next number
            return path, meta
        except FileExistsError:
            continue
        finally:
            partial.unlink(missing_ok=True)
