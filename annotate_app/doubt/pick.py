"""The active hand-out's choice among rated clips, read from ``clip_priority`` (see ``priority``).

Rules, in order: never a clip the annotator rated or holds (``_NOT_MINE``), never a settled clip (pair
confidence >= ``settle_confidence`` at the last fit), never past ``overlap_max`` (k when unset) ratings;
among the rest, walking the priority index a page (``PAGE`` rows) at a time, the top ``WINDOW`` of the first
page that has any by the average annotator's gain per second, re-ranked by this annotator's own seconds
(``annotator_pace``). A clip takes one new rating per fit first (the gain is that of one
rating); when every open clip has had it, clips fill up to the maximum before the next fit. Before the first
fit has written a table, the uniform rule (k per clip) hands out, so a campaign never waits on the model.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.queries_assign import TAKEN
from storage.queries_doubt import HAS_PRIORITY, LOCK_PROGRESS, MEAN_PACE, PACE, PAGE_ROWS, PICK_PRIORITY

WINDOW = 64
PAGE = 256  # priority rows read per step of the walk (see storage.queries_doubt)
DEFAULT_PACE = (20.0, 1.5)


def _pace(s: Session, me: int) -> tuple[float, float]:
    row = s.execute(PACE, {"me": me}).first() or s.execute(MEAN_PACE).first()
    return (float(row[0]), float(row[1])) if row and row[0] is not None else DEFAULT_PACE


def pick_active(s: Session, me: int, cfg, now: datetime) -> int | None:
    """The clip_pk to lease, or None (every clip settled, full, or rated by this annotator)."""
    if s.scalar(HAS_PRIORITY) is None:
        from annotate_app.assign import _pick_open

        return _pick_open(s, me, cfg, now)
    kmax = cfg.overlap_max or cfg.overlap
    overhead, pace = _pace(s, me)
    pg = s.get_bind().dialect.name == "postgresql"
    for per_fit in (True, False):
        offset = 0
        while True:
            clip = _from_page(s, me, now, kmax, per_fit, offset, overhead, pace, pg, cfg.max_skips)
            if clip is not None:
                return clip
            if s.scalar(PAGE_ROWS, {"page": PAGE, "offset": offset}) < PAGE:
                break  # that was the last page
            offset += PAGE
    return None


def _from_page(s: Session, me: int, now: datetime, kmax: int, per_fit: bool, offset: int, overhead: float,
               pace: float, pg: bool, max_skips: int) -> int | None:
    skip = [-1]
    for _ in range(max_skips):
        row = s.execute(PICK_PRIORITY, {"me": me, "now": now, "kmax": kmax, "per_fit": per_fit, "skip": skip,
                                        "page": PAGE, "offset": offset, "window": WINDOW, "overhead": overhead,
                                        "pace": pace}).first()
        if row is None:
            return None
        clip, cap = row
        if not pg:  # SQLite: hand-outs are serialised (BEGIN IMMEDIATE), the count above stands
            return clip
        # PostgreSQL: take the clip's progress row, then re-count in a fresh statement (as _pick_open does).
        if s.scalar(LOCK_PROGRESS, {"clip": clip}) is not None and \
                s.scalar(TAKEN, {"me": me, "now": now, "clip": clip}) < cap:
            return clip
        skip.append(clip)
    return None
