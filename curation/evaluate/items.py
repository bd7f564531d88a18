"""What to evaluate: (method, clip, video, ground truth, driving audio) from the store or from folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.errors import CurateError

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi")


@dataclass(frozen=True)
class Item:
    """One generated video to score."""

    method: str
    clip_id: str
    candidate_id: str
    video: Path
    reference: Path | None = None  # ground-truth recording (full-reference metrics, FID/FVD)
    audio: Path | None = None  # driving audio; None: the video's own audio track


def _videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTS)


def items_from_folders(videos: str | Path, reference: str | Path | None = None) -> list[Item]:
    """``videos/<method>/<clip>.mp4`` (or ``videos/<clip>.mp4``: one method named after the folder);
    the ground truth of ``<clip>`` is ``reference/<clip>.<ext>`` when it exists."""
    root = Path(videos).resolve()
    if not root.is_dir():
        raise CurateError(f"--videos {videos}: not a folder.")
    ref_root = Path(reference).resolve() if reference else None
    if ref_root is not None and not ref_root.is_dir():
        raise CurateError(f"--reference {reference}: not a folder.")
    refs = {p.stem: p for p in _videos(ref_root)} if ref_root else {}
    groups = [(root.name, _videos(root))] if _videos(root) else []
    groups += [(d.name, _videos(d)) for d in sorted(root.iterdir()) if d.is_dir() and _videos(d)]
    items = [
        Item(method=m, clip_id=v.stem, candidate_id=f"{v.stem}:{m}", video=v, reference=refs.get(v.stem))
        for m, files in groups
        for v in files
    ]
    if not items:
        raise CurateError(
            f"--videos {videos}: no video files ({', '.join(VIDEO_EXTS)}) in it or its subfolders."
        )
    return items


def items_from_store(ws, methods: list[str] | None = None, rounds: tuple[int, ...] | None = None) -> list[Item]:
    """Every ready candidate (optionally of ``methods``, of clips in ``rounds``), with its clip's ground truth
    and driving audio."""
    from sqlalchemy import select

    from storage import Candidate, CandidateStatus, Clip

    q = (
        select(
            Candidate.method,
            Clip.clip_id,
            Candidate.candidate_id,
            Candidate.video_path,
            Clip.video_path,
            Clip.audio_path,
        )
        .join(Clip, Candidate.clip_pk == Clip.id)
        .where(Candidate.status == CandidateStatus.ready, Candidate.video_path.is_not(None))
        .order_by(Clip.clip_id, Candidate.method)
    )
    if methods:
        q = q.where(Candidate.method.in_(methods))
    if rounds:
        q = q.where(Clip.round.in_(rounds))
    with ws.store() as store, store.session() as s:
        rows = s.execute(q).all()
    if methods:
        unknown = sorted(set(methods) - {r[0] for r in rows})
        if unknown:
            raise CurateError(f"--methods: no ready candidates of {unknown} in the store.")
    if not rows:
        raise CurateError("no ready candidates in the store; import or generate some first.")
    return [
        Item(
            method=m,
            clip_id=c,
            candidate_id=cid,
            video=ws.root / v,
            reference=ws.root / ref if ref else None,
            audio=ws.root / a if a else None,
        )
        for m, c, cid, v, ref, a in rows
    ]
