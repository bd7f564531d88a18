"""Media behind sign-in: who may fetch a video or reference image, and how.

Two ways a page can show a file, both checked here on every HTTP request:

- **Signed URLs** (``/clip-media/<token>``) for players that need a plain URL. The token names
  the session's public handle, the assignment and the item (``ref`` or a candidate pk) and
  expires after ``URL_TTL_S`` (rounded up to a ``BUCKET_S`` step so the URL, and so the video,
  stays the same across reruns). It is HMAC-signed with ``CURATE_MEDIA_KEY``, a random key
  that ``curate annotate`` puts in the app's environment. A valid signature is not enough: the
  session must still be live, its annotator active, and the assignment leased to them and
  unexpired (an admin may view any assignment's files).
- **Streamlit's own** ``/media/<file id>`` (``st.video``/``st.image`` given bytes). Streamlit
  puts no check on it, so :class:`MediaGuard` answers 403 unless the request comes from a page
  with a live ``?session=`` handle (the browser's ``Referer``) and the file is on screen in a
  browser session that this handle signed in (Streamlit drops a file from a session's list
  when the page stops showing it, e.g. after the submit).

Both answer 401 without a session and 403 for a dead session, a foreign file or an expired link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROUTE_PREFIX = "/clip-media/"
KEY_ENV = "CURATE_MEDIA_KEY"
URL_TTL_S = 15 * 60
BUCKET_S = 5 * 60

_bound: dict[str, str] = {}  # Streamlit browser-session id -> app session handle (public part only)
_lock = threading.Lock()


MAX_BOUND = 10_000  # browser tabs closed without signing out are never unbound: keep the newest


def bind(browser_session_id: str, handle: str) -> None:
    """Remember that this Streamlit browser session is signed in with ``handle`` (``<handle>.<secret>``)."""
    with _lock:
        _bound.pop(browser_session_id, None)  # re-insert: newest last
        _bound[browser_session_id] = handle.partition(".")[0]
        while len(_bound) > MAX_BOUND:
            _shown.pop(oldest := next(iter(_bound)), None)
            del _bound[oldest]


def unbind(browser_session_id: str) -> None:
    with _lock:
        _bound.pop(browser_session_id, None)
        _shown.pop(browser_session_id, None)


def _key() -> bytes:
    key = os.environ.get(KEY_ENV)
    if not key:
        raise RuntimeError(f"{KEY_ENV} is not set: start the app with `curate annotate`.")
    return key.encode()


def _mac(payload: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(_key(), payload.encode(), hashlib.sha256).digest()[:20]).decode()


def _mask(public: str, scope) -> int:
    # Candidate pks are sequential, often in method order: shown as is they would unblind a
    # clip. In the URL a pk is XORed with a 48-bit mask only the server can compute.
    digest = hmac.new(_key(), f"mask~{public}~{scope}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:6], "big")


def sign(handle: str, assignment_id: int, item, now: float | None = None, ttl: float = URL_TTL_S) -> str:
    """The URL path of one file for one session's page: ``/clip-media/<handle>~<aid>~<item>~<exp>~<mac>``.

    ``handle`` may be the full ``<handle>.<secret>``: only the public part goes into the URL.
    ``item`` is ``ref`` (the reference image) or a candidate pk (masked in the URL).
    """
    now = time.time() if now is None else now
    public, aid = handle.partition(".")[0], int(assignment_id)
    expires = int(math.ceil((now + ttl) / BUCKET_S) * BUCKET_S)
    shown = "ref" if item == "ref" else f"c{int(item) ^ _mask(public, aid):x}"
    payload = f"{public}~{aid}~{shown}~{expires}"
    return f"{ROUTE_PREFIX}{payload}~{_mac(payload)}"


def sign_next(handle: str, clip_pk: int, candidate_pk: int, now: float | None = None, ttl: float = URL_TTL_S) -> str:
    """The URL path of a candidate of the clip this session is *predicted* to get next (loaded ahead).

    ``/clip-media/<handle>~n<clip>~<item>~<exp>~<mac>``: scoped to the clip, not an assignment (there
    is none yet), so the same URL can serve the page once the clip is leased and the browser's cache
    answers it. :func:`allowed_next_path` says who may fetch it.
    """
    now = time.time() if now is None else now
    public, scope = handle.partition(".")[0], f"n{int(clip_pk)}"
    expires = int(math.ceil((now + ttl) / BUCKET_S) * BUCKET_S)
    payload = f"{public}~{scope}~c{int(candidate_pk) ^ _mask(public, scope):x}~{expires}"
    return f"{ROUTE_PREFIX}{payload}~{_mac(payload)}"


def _open_token(token: str, now: float | None) -> list[str] | None:
    parts = token.split("~")
    if len(parts) != 5 or not parts[3].isdigit():
        return None
    if not hmac.compare_digest(_mac("~".join(parts[:4])), parts[4]):
        return None
    if int(parts[3]) <= (time.time() if now is None else now):
        return None
    return parts


def _unmask(public: str, scope, shown: str) -> str | None:
    if shown == "ref":
        return "ref"
    try:
        return str(int(shown[1:], 16) ^ _mask(public, scope)) if shown.startswith("c") else None
    except ValueError:
        return None


def verify(token: str, now: float | None = None) -> tuple[str, int, str] | None:
    """``(handle, assignment_id, item)`` of a genuine, unexpired token, else None (item: ``ref`` or a pk)."""
    parts = _open_token(token, now)
    if parts is None or not parts[1].isdigit():
        return None
    item = _unmask(parts[0], int(parts[1]), parts[2])
    return (parts[0], int(parts[1]), item) if item is not None else None


def verify_next(token: str, now: float | None = None) -> tuple[str, int, str] | None:
    """``(handle, clip_pk, candidate_pk)`` of a genuine, unexpired :func:`sign_next` token, else None."""
    parts = _open_token(token, now)
    if parts is None or not parts[1].startswith("n") or not parts[1][1:].isdigit():
        return None
    item = _unmask(parts[0], parts[1], parts[2])
    return (parts[0], int(parts[1][1:]), item) if item not in (None, "ref") else None


def referer_session(referer: str | None) -> str | None:
    """The ``?session=`` handle of the page a request came from."""
    values = parse_qs(urlsplit(referer or "").query).get("session") or []
    return values[0] if values else None


_shown: dict[str, frozenset[str]] = {}  # browser session -> file ids on screen after its last complete run


def _refs(mgr) -> dict[str, dict[str, str]] | None:
    return getattr(mgr, "_files_by_session_and_coord", None)  # streamlit 1.67 keeps a session's files here


def remember_shown() -> None:
    """Call at the end of a complete page run: what this browser session now shows.

    Streamlit forgets a session's files at the *start* of every rerun and re-adds them as the
    page draws them again; a video's range request in that gap (a score clicked during
    playback) must still be served, so the last complete run's files count too.
    """
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return
    mgr = Runtime.instance().media_file_mgr
    refs = _refs(mgr)
    if refs is None:
        return
    with mgr._lock:
        files = frozenset((refs.get(ctx.session_id) or {}).values())
    with _lock:
        if ctx.session_id in _bound:
            _shown[ctx.session_id] = files


def file_shown_to(file_id: str, handle: str) -> bool:
    """Is Streamlit's media file ``file_id`` on screen in a browser session signed in with ``handle``?"""
    from streamlit.runtime import Runtime

    mgr = Runtime.instance().media_file_mgr
    refs = _refs(mgr)
    if refs is None:
        return False  # unknown layout: refuse rather than serve to anyone
    public = handle.partition(".")[0]
    with _lock:
        sessions = [sid for sid, h in _bound.items() if h == public]
        if any(file_id in _shown.get(sid, ()) for sid in sessions):
            return True
    with mgr._lock:  # the manager's own lock: pages add and drop files from other threads
        return any(file_id in (refs.get(sid) or {}).values() for sid in sessions)


def page_url(assignment_id: int, item: str) -> str:
    """The signed URL of a file for the page being drawn (a player that needs a plain URL)."""
    import streamlit as st

    return sign(st.session_state["session_handle"], assignment_id, item)


def _aware(t):
    from datetime import timezone

    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def live_annotator(conn, handle: str, now):
    """``(expires_at, id, role, active)`` of the annotator signed in with ``handle``; None unless live and active."""
    from sqlalchemy import select

    from storage import Annotator
    from storage.models import AppSession

    who = conn.execute(
        select(AppSession.expires_at, Annotator.id, Annotator.role, Annotator.active)
        .join(Annotator, Annotator.id == AppSession.annotator_pk)
        .where(AppSession.handle == handle.partition(".")[0])
    ).first()
    return None if who is None or not who.active or _aware(who.expires_at) <= now else who


def allowed_path(store, handle: str, assignment_id: int, item: str, root: Path | None = None) -> Path | None:
    """The file behind a signed URL when its session may see it now, else None.

    Live session, active annotator, and the assignment leased to them and unexpired (admins:
    any assignment); ``item`` is ``ref`` or a ready/flagged candidate of the assignment's clip.
    """
    from datetime import datetime, timezone

    from sqlalchemy import select

    from storage import AnnotatorRole, Assignment, AssignmentStatus, Candidate, CandidateStatus, Clip

    now = datetime.now(timezone.utc)
    with store.reader() as conn:
        who = live_annotator(conn, handle, now)
        if who is None:
            return None
        a = conn.execute(select(Assignment.annotator_pk, Assignment.status, Assignment.lease_expires_at,
                                Assignment.clip_pk).where(Assignment.id == assignment_id)).first()
        if a is None:
            return None
        if who.role != AnnotatorRole.admin and (
            a.annotator_pk != who.id or a.status != AssignmentStatus.leased
            or (a.lease_expires_at is not None and _aware(a.lease_expires_at) <= now)
        ):
            return None
        if item == "ref":
            path = conn.scalar(select(Clip.image_path).where(Clip.id == a.clip_pk))
        elif item.isdigit():
            path = conn.scalar(select(Candidate.video_path).where(
                Candidate.id == int(item), Candidate.clip_pk == a.clip_pk,
                Candidate.status.in_([CandidateStatus.ready, CandidateStatus.flagged])))
        else:
            return None
    if not path:
        return None
    p = Path(path)
    return p if p.is_absolute() or root is None else root / p
