"""The face box of a candidate video, found once and stored with it (``candidates.face_box``).

The player's mouth zoom frames the lips from it (``annotate_app.web.player.mouth_box``). The
detector is the one ``curate eval`` uses (OpenCV's shipped Haar cascade,
``curation.evaluate.sync._detect``), run on a few frames spread over the video; the box is the
median of the largest face per frame, as fractions of the frame: ``"x0 y0 x1 y1"``. An empty
string means "looked, no face" (the zoom falls back to the fixed crop); NULL means not looked yet.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)
FRAMES = 5  # frames looked at per video, spread evenly


def _frames(path: Path, n: int = FRAMES):
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(path))
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 1
        out = []
        for i in np.linspace(0, max(0, total - 1), num=min(n, total)).round().astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
            ok, frame = cap.read()
            if ok:
                out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        return np.stack(out) if out else None
    finally:
        cap.release()


def face_box(path: str | Path) -> str:
    """``"x0 y0 x1 y1"`` (fractions of the frame, 4 decimals) of the face in the video; "" when none is found
    or the video cannot be read (the zoom then uses its fixed crop; never an error: this is a convenience)."""
    import numpy as np

    from curation.evaluate.sync import _detect

    try:
        frames = _frames(Path(path))
    except Exception as e:  # noqa: BLE001 - an unreadable video is reported by the import's own checks
        log.info("face box of %s: %s", path, e)
        return ""
    if frames is None:
        return ""
    found = _detect(frames)
    found = found[~np.isnan(found).any(axis=1)]
    if not len(found):
        return ""
    cx, cy, half = np.median(found, axis=0)
    h, w = frames.shape[1:3]
    box = [(cx - half) / w, (cy - half) / h, (cx + half) / w, (cy + half) / h]
    return " ".join(f"{min(1.0, max(0.0, v)):.4f}" for v in box)


def fill_missing(store, root: Path | None = None) -> int:
    """Find the face box of every rateable candidate that has none yet (generated ones, older stores); returns
    how many were looked at. Each video is looked at once: "" is stored when no face is found."""
    from sqlalchemy import select

    from storage import Candidate, CandidateStatus

    with store.session() as s:
        todo = s.execute(select(Candidate.id, Candidate.video_path).where(
            Candidate.face_box.is_(None), Candidate.video_path.is_not(None),
            Candidate.status.in_([CandidateStatus.ready, CandidateStatus.flagged]))).all()
    for pk, video in todo:
        p = Path(video)
        box = face_box(p if p.is_absolute() or root is None else root / p)
        with store.session() as s:
            s.get(Candidate, pk).face_box = box
    return len(todo)
