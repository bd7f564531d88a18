"""``import`` adapter: external videos (made elsewhere) put through the same normalisation as generated ones.

Configure a method that uses it, e.g.::

    [generators.hallo3_cluster]
    adapter = "import"
    videos = "incoming/hallo3/{clip_id}.mp4"     # a pattern, relative to the workspace
    # or: manifest = "incoming/hallo3.csv"      # columns clip_id, video (paths relative to the file)

``curate import candidates`` registers files as they are; this adapter instead
re-encodes them to the workspace format and muxes the clip's audio in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators._settings import build_config
from generators.base import GenerationRequest, GenerationResult
from storage.errors import CurateError, where


@dataclass
class ImportConfig:
    """Settings of a method with ``adapter = "import"``.

    Source (exactly one):
        videos: path pattern with ``{clip_id}``, relative to the workspace.
        manifest: CSV/JSONL/Parquet with ``clip_id`` and ``video`` columns.
    """

    videos: str | None = field(default=None, metadata={"help": "pattern such as incoming/{clip_id}.mp4"})
    manifest: Path | None = field(default=None, metadata={"help": "table of clip_id, video"})

    def __post_init__(self) -> None:
        if (self.videos is None) == (self.manifest is None):
            raise ValueError("give exactly one of `videos` (a pattern with {clip_id}) or `manifest`.")
        if self.videos is not None and "{clip_id}" not in self.videos:
            raise ValueError(f"`videos` must contain {{clip_id}}. Got {self.videos!r}.")


class ImportGenerator:
    kind = "import"

    def __init__(self, name: str, config: ImportConfig, root: Path):
        self.name = name
        self.config = config
        self.root = root

    def check(self) -> list[str]:
        c = self.config
        if c.manifest is not None and not c.manifest.is_file():
            return [f"manifest not found: {c.manifest}"]
        if c.videos is not None and not (self.root / c.videos).parent.exists():
            return [f"folder of `videos` not found: {(self.root / c.videos).parent}"]
        return []

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        try:
            table = self._table()
        except CurateError as e:
            return [GenerationResult(r.job_id, error=str(e)) for r in requests]
        results = []
        for r in requests:
            path = table.get(r.clip_id) if table is not None else self.root / self.config.videos.format(clip_id=r.clip_id)
            if path is None or not Path(path).is_file():
                results.append(GenerationResult(r.job_id, error=f"no video for clip {r.clip_id!r} ({path or 'not in manifest'})"))
            else:
                results.append(GenerationResult(r.job_id, raw_path=Path(path)))
        return results

    def _table(self) -> dict[str, Path] | None:
        if self.config.manifest is None:
            return None
        from storage.media import resolve_media_path
        from storage.tables import cell, read_table

        m = self.config.manifest
        df = read_table(m, ["clip_id", "video"])
        out = {}
        for i, rec in enumerate(df.to_dict("records"), 1):
            clip_id = cell(rec["clip_id"])
            if clip_id is None:
                raise CurateError(f"{where(m, i, 'clip_id')}: empty clip_id.")
            out[clip_id] = resolve_media_path(cell(rec["video"]) or "", m.parent, [self.root], where(m, i, "video"))
        return out


def make(name: str, settings: dict[str, Any], root: Path) -> ImportGenerator:
    return ImportGenerator(name, build_config(ImportConfig, name, settings, root), root)
