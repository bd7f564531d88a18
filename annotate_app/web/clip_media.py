"""The URLs the comparison player loads, the next clip's videos loaded ahead, and how the files are sent.

Every file of the clip page goes through ``/clip-media/<signed token>`` (``media_guard``): the page
never reads a file, so a missing one cannot stop the page; the browser gets a 404 for that video
and the player shows a "could not load" tile (the admin finds the path in the server log).

Loading ahead: while a clip is rated, the server predicts the clip this annotator gets next (the
same pick as the hand-out, nothing leased) and signs its candidates with :func:`media_guard.sign_next`,
a token scoped to the clip. The player fetches them into the browser's cache; when that clip is
leased, the page reuses the same URLs (kept in the session), so its videos come from the cache.
A wrong prediction (someone else took the clip) only wastes the download.

Caching: ``Cache-Control: private, no-cache`` with an ``ETag``: the browser keeps the file but asks
each time (so a dead session or an ended lease still stops it), and an unchanged file is answered
``304 Not Modified`` with no body.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from annotate_app.web import media_guard

log = logging.getLogger(__name__)
CACHE = "private, no-cache"
NOT_LOADED = "This video could not be loaded. It has been reported; skip it or go on rating the others."
MIN_LEFT_S = 5 * 60  # a loaded-ahead URL with less life left than this is signed anew for the page
_KEY = "prefetched_media"  # session state: candidate pk -> (url, expires)


def etag(stat) -> str:
    """A strong validator from the file's size and modification time (changes whenever the file does)."""
    return '"' + hashlib.sha1(f"{stat.st_size}-{stat.st_mtime_ns}".encode()).hexdigest()[:20] + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether the browser's ``If-None-Match`` already names ``tag`` (``*`` or a list; weak tags match too)."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or tag in tags


def allowed_next_path(store, handle: str, clip_pk: int, candidate_pk: str, root: Path | None = None) -> Path | None:
    """The video behind a :func:`media_guard.sign_next` URL, else None.

    Live session, active annotator, a rateable candidate of the clip, and the annotator either holds
    the clip's live lease (it became their clip) or has never been given the clip (it is still ahead;
    only the server signs such a URL). A clip they submitted, skipped or whose lease ended is refused.
    """
    from sqlalchemy import select

    from storage import AnnotatorRole, Assignment, AssignmentStatus, Candidate, CandidateStatus

    now = datetime.now(timezone.utc)
    with store.reader() as conn:
        who = media_guard.live_annotator(conn, handle, now)
        if who is None or not candidate_pk.isdigit():
            return None
        mine = conn.execute(select(Assignment.status, Assignment.lease_expires_at).where(
            Assignment.clip_pk == clip_pk, Assignment.annotator_pk == who.id)).all()
        live = [a for a in mine if a.status == AssignmentStatus.leased
                and (a.lease_expires_at is None or media_guard._aware(a.lease_expires_at) > now)]
        if mine and not live and who.role != AnnotatorRole.admin:
            return None
        path = conn.scalar(select(Candidate.video_path).where(
            Candidate.id == int(candidate_pk), Candidate.clip_pk == clip_pk,
            Candidate.status.in_([CandidateStatus.ready, CandidateStatus.flagged])))
    if not path:
        return None
    p = Path(path)
    return p if p.is_absolute() or root is None else root / p


def predict_next(store, annotator_pk: int, cfg) -> tuple[int, list[int]] | None:
    """``(clip_pk, candidate pks)`` of the open clip the hand-out would give this annotator next; nothing is
    leased (the transaction is rolled back). Gold and escalated clips are not predicted."""
    from sqlalchemy import select

    from annotate_app.assign import _pick_open
    from storage import Candidate, CandidateStatus

    with store.session() as s:
        try:
            clip = _pick_open(s, annotator_pk, cfg, datetime.now(timezone.utc))
            pks = [] if clip is None else list(s.scalars(select(Candidate.id).where(
                Candidate.clip_pk == clip, Candidate.video_path.is_not(None),
                Candidate.status.in_([CandidateStatus.ready, CandidateStatus.flagged])).order_by(Candidate.id)))
        finally:
            s.rollback()
    return (clip, pks) if clip is not None and pks else None


def player_sources(view, handle: str, state: dict) -> tuple[list[tuple[str, str]], str]:
    """``([(slot letter, video URL)], reference image URL)`` for the clip on screen; a video loaded ahead
    keeps the URL it was loaded under (``state``: the Streamlit session state)."""
    ahead = state.get(_KEY) or {}
    now = time.time()
    slots = []
    for s in view.slots:
        url, expires = ahead.get(s.candidate_pk, (None, 0))
        if url is None or expires - now < MIN_LEFT_S:
            url = media_guard.sign(handle, view.assignment_id, s.candidate_pk)
        slots.append((s.label, url))
    return slots, media_guard.sign(handle, view.assignment_id, "ref")


def prefetch_urls(store, annotator_pk: int, cfg, handle: str, state: dict, aid: int) -> list[str]:
    """The URLs of the predicted next clip's videos, remembered in ``state`` for that clip's page (predicted
    once per clip on screen ``aid``, not on every rerun)."""
    done = state.get(_KEY + "_for")
    if done and done[0] == aid:
        return done[1]
    try:
        nxt = predict_next(store, annotator_pk, cfg)
    except Exception:
        log.exception("predicting the next clip failed")
        return []
    if nxt is None:
        state[_KEY + "_for"] = (aid, [])
        return []
    clip, pks = nxt
    now = time.time()
    ahead = {pk: v for pk, v in (state.get(_KEY) or {}).items() if v[1] > now}  # the clip on screen keeps its own
    urls = []
    for pk in pks:
        url = media_guard.sign_next(handle, clip, pk, now=now)
        ahead[pk] = (url, int(url.rsplit("~", 2)[1]))
        urls.append(url)
    state[_KEY] = ahead
    state[_KEY + "_for"] = (aid, urls)
    return urls


def face_boxes(store, view) -> dict[str, list[float] | None]:
    """Slot letter -> the face box stored with its candidate (fractions of the frame), None when none."""
    from sqlalchemy import select

    from storage import Candidate

    pks = {s.candidate_pk: s.label for s in view.slots}
    with store.reader() as conn:
        rows = conn.execute(select(Candidate.id, Candidate.face_box).where(Candidate.id.in_(list(pks)))).all()
    out: dict[str, list[float] | None] = {label: None for label in pks.values()}
    for pk, box in rows:
        out[pks[pk]] = parse_box(box)
    return out


def parse_box(text: str | None) -> list[float] | None:
    """``"x0 y0 x1 y1"`` (fractions) as four floats, None for anything else."""
    try:
        b = [float(v) for v in (text or "").split()]
    except ValueError:
        return None
    return b if len(b) == 4 and 0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1 else None
