"""Pair manifests in other trainers' formats: a Hugging Face dataset folder, or Pick-a-Pic-style columns."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.pairs.manifest import LATER_COLUMNS, MANIFEST_COLUMNS
from storage.errors import CurateError

# README header that makes `datasets.load_dataset(folder)` find the Parquet shard as the train split.
HF_HEADER = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
"""


def read_manifest(path: str | Path) -> tuple[pa.Table, dict]:
    """The manifest table and its ``portrait_curate`` metadata; an error if a contract column is missing."""
    from storage.parquet import read_parquet_metadata

    path = Path(path)
    try:
        table = pq.read_table(path)
        meta = read_parquet_metadata(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise CurateError(f"{path}: cannot be read as Parquet: {e}") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in table.column_names and c not in LATER_COLUMNS]
    if missing:
        raise CurateError(f"{path}: not a pair manifest; missing column(s) {', '.join(missing)}.")
    return table, meta


def _check_free(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise CurateError(f"{out}: already exists; pass --force to replace it.")


def export_hf(manifest: str | Path, out: str | Path, force: bool = False) -> tuple[Path, int]:
    """A dataset folder: ``data/train-00000-of-00001.parquet`` and ``README.md`` (config header + the card)."""
    from storage.parquet import write_parquet_atomic, write_text_atomic

    table, meta = read_manifest(manifest)
    out = Path(out)
    _check_free(out, force)
    # Build beside the target and rename at the end, so a failure leaves no half-made folder.
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_parquet_atomic(table, tmp / "data" / "train-00000-of-00001.parquet", meta)
        card = Path(manifest).with_suffix(".md")
        body = card.read_text() if card.is_file() else f"# {Path(manifest).stem}\n"
        write_text_atomic(tmp / "README.md", HF_HEADER + "\n" + body)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out, table.num_rows


def winner_first(seed: int, pair_id: str) -> bool:
    """Whether the winner goes to side 0: the first byte of sha256("<seed>:<pair_id>") is even.

    Seeded, reproducible and independent of row order (unlike drawing from one RNG down the rows).
    """
    return hashlib.sha256(f"{seed}:{pair_id}".encode()).digest()[0] % 2 == 0


def pickapic_table(table: pa.Table, seed: int) -> pa.Table:
    """Pick-a-Pic-style columns: the two videos in a seeded random order, label_0/label_1 the preference."""
    rows = table.select(
        ["pair_id", "clip_id", "prompt", "image", "audio", "winner_video", "loser_video", "winner_candidate_id",
         "loser_candidate_id", "winner_method", "loser_method", "winner_reward", "loser_reward"]
    ).to_pylist()
    out = []
    for r in rows:
        first = winner_first(seed, r["pair_id"])
        a, b = ("winner", "loser") if first else ("loser", "winner")
        out.append(
            {
                "pair_id": r["pair_id"],
                "clip_id": r["clip_id"],
                "caption": r["prompt"] or "",
                "image": r["image"],
                "audio": r["audio"],
                "video_0": r[f"{a}_video"],
                "video_1": r[f"{b}_video"],
                "candidate_id_0": r[f"{a}_candidate_id"],
                "candidate_id_1": r[f"{b}_candidate_id"],
                "method_0": r[f"{a}_method"],
                "method_1": r[f"{b}_method"],
                "reward_0": r[f"{a}_reward"],
                "reward_1": r[f"{b}_reward"],
                "label_0": 1.0 if first else 0.0,
                "label_1": 0.0 if first else 1.0,
            }
        )
    return pa.Table.from_pylist(out, schema=PICKAPIC_SCHEMA)


PICKAPIC_SCHEMA = pa.schema(
    [(c, pa.string()) for c in ("pair_id", "clip_id", "caption", "image", "audio", "video_0", "video_1",
                                "candidate_id_0", "candidate_id_1", "method_0", "method_1")]
    + [(c, pa.float64()) for c in ("reward_0", "reward_1", "label_0", "label_1")]
)


def export_pickapic(manifest: str | Path, out: str | Path, seed: int = 0, force: bool = False) -> tuple[Path, int]:
    """One Parquet file in Pick-a-Pic's layout (``video_0, video_1, label_0, caption`` + ids)."""
    from storage.parquet import write_parquet_atomic

    table, meta = read_manifest(manifest)
    out = Path(out)
    if out.is_dir():
        raise CurateError(f"{out}: is a folder; --format pickapic writes one .parquet file.")
    _check_free(out, force)
    meta = {**meta, "kind": "dpo-pairs-pickapic", "side_seed": seed, "from_manifest": str(manifest)}
    write_parquet_atomic(pickapic_table(table, seed), out, meta)
    return out, table.num_rows
