"""``curate ingest``: clips from a manifest, checked, hashed and stored in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from tqdm import tqdm

from storage import Clip
from storage.errors import CurateError, where
from storage.ids import check_id
from storage.media import (
    audio_duration,
    check_image,
    check_path_text,
    probe_video,
    resolve_media_path,
    sha256_file,
)
from storage.tables import cell, read_table
from storage.workspace import Workspace

REQUIRED = ["clip_id", "image", "audio"]
OPTIONAL = ["prompt", "skeleton", "video"]


@dataclass(frozen=True)
class ClipRow:
    """One validated manifest row, ready to store."""

    row: int
    clip_id: str
    image_path: str
    image_sha256: str
    image_width: int
    image_height: int
    audio_path: str
    audio_sha256: str
    audio_duration: float
    prompt: str | None
    skeleton_path: str | None
    skeleton_sha256: str | None
    video_path: str | None = None  # ground truth, for `curate eval`'s full-reference metrics
    video_sha256: str | None = None

    def same_content(self, clip: Clip) -> bool:
        return (
            clip.image_sha256 == self.image_sha256
            and clip.audio_sha256 == self.audio_sha256
            and clip.skeleton_sha256 == self.skeleton_sha256
            and clip.video_sha256 == self.video_sha256
            and (clip.prompt or None) == self.prompt
        )


@dataclass
class IngestReport:
    added: int = 0
    unchanged: int = 0


def _hash_skeleton(path: Path) -> str:
    """A skeleton is a pose video/file, or a folder of per-frame pose files (EchoMimic-v2)."""
    if path.is_file():
        return sha256_file(path)
    import hashlib

    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode() + b"\0" + sha256_file(f).encode())
    return h.hexdigest()


def _skeleton(value: str, base: Path, roots: list[Path], what: str) -> Path:
    check_path_text(value, what)
    p = Path(value)
    resolved = (p if p.is_absolute() else base / p).resolve()
    if resolved.is_dir():
        # Same containment rule as files; resolve_media_path only accepts files.
        from storage.media import is_within

        if not any(is_within(resolved, r) for r in [base.resolve(), *roots]):
            raise CurateError(f"{what}: path {value!r} is outside the manifest's folder and the media roots.")
        return resolved
    return resolve_media_path(value, base, roots, what)


def validate_row(i: int, rec: dict, manifest: Path, roots: list[Path]) -> ClipRow:
    """Check and hash one manifest row (``i`` counts rows from 1)."""
    base = manifest.parent
    clip_id = check_id(rec.get("clip_id"), where(manifest, i, "clip_id"), "clip_id")
    image = resolve_media_path(cell(rec.get("image")) or "", base, roots, where(manifest, i, "image"))
    w, h = check_image(image, where(manifest, i, "image"))
    audio = resolve_media_path(cell(rec.get("audio")) or "", base, roots, where(manifest, i, "audio"))
    dur = audio_duration(audio, where(manifest, i, "audio"))
    skel_value = cell(rec.get("skeleton"))
    skel = _skeleton(skel_value, base, roots, where(manifest, i, "skeleton")) if skel_value else None
    video_value = cell(rec.get("video"))
    video = resolve_media_path(video_value, base, roots, where(manifest, i, "video")) if video_value else None
    if video is not None:
        probe_video(video, where(manifest, i, "video"))
    return ClipRow(
        row=i,
        clip_id=clip_id,
        image_path=str(image),
        image_sha256=sha256_file(image),
        image_width=w,
        image_height=h,
        audio_path=str(audio),
        audio_sha256=sha256_file(audio),
        audio_duration=dur,
        prompt=cell(rec.get("prompt")),
        skeleton_path=str(skel) if skel else None,
        skeleton_sha256=_hash_skeleton(skel) if skel else None,
        video_path=str(video) if video else None,
        video_sha256=sha256_file(video) if video else None,
    )


def validate_manifest(manifest: str | Path, roots: list[Path], progress: bool = False) -> list[ClipRow]:
    """Every row checked; duplicate clip_ids inside the file must carry the same content."""
    manifest = Path(manifest).resolve()
    df = read_table(manifest, REQUIRED, OPTIONAL)
    rows: dict[str, ClipRow] = {}
    records = df.to_dict("records")
    for i, rec in enumerate(tqdm(records, desc="checking clips", unit="clip", disable=not progress), start=1):
        row = validate_row(i, rec, manifest, roots)
        prev = rows.get(row.clip_id)
        if prev is not None and (
            prev.image_sha256, prev.audio_sha256, prev.skeleton_sha256, prev.prompt, prev.video_sha256
        ) != (row.image_sha256, row.audio_sha256, row.skeleton_sha256, row.prompt, row.video_sha256):
            raise CurateError(
                f"{where(manifest, i, 'clip_id')}: duplicate clip_id {row.clip_id!r} with different content "
                f"than row {prev.row}."
            )
        rows.setdefault(row.clip_id, row)
    return list(rows.values())


def ingest_manifest(ws: Workspace, manifest: str | Path, progress: bool = False) -> IngestReport:
    """Add the manifest's clips to the store: all or nothing, and idempotent.

    Raises:
        CurateError: on the first bad row; the store is left exactly as it was.
    """
    rows = validate_manifest(manifest, ws.media_roots, progress=progress)
    report = IngestReport()
    with ws.store() as store, store.session() as s:
        existing = {
            c.clip_id: c
            for c in s.scalars(select(Clip).where(Clip.clip_id.in_([r.clip_id for r in rows])))
        }
        for r in rows:
            old = existing.get(r.clip_id)
            if old is not None:
                if not r.same_content(old):
                    raise CurateError(
                        f"{where(manifest, r.row, 'clip_id')}: clip_id {r.clip_id!r} is already in the store "
                        "with different content (image, audio, skeleton, prompt or video). Use a new clip_id."
                    )
                report.unchanged += 1
                continue
            s.add(Clip(**{k: v for k, v in r.__dict__.items() if k != "row"}))
            report.added += 1
    return report
