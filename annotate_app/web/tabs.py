"""One clip, one tab: which browser tab of an annotator may save a clip's draft and submit it.

Two tabs of one annotator are handed the same leased clip (the hand-out resumes the lease), and
before this check each saved its own draft over the other's without a word. Now the tab that
opened the clip last owns it; a tab that finds another live tab owning its clip stops saving and
says so, and the tab that took the clip over says that another tab had it. "Continue here" takes
it back (the other tab then stops saving on its next save).

The owner is kept in this server process (the app is one Streamlit process), keyed by assignment;
a tab is Streamlit's browser-session id, which is new per tab and per reload. A tab that was
closed or reloaded is no longer an active session, so it never blocks the tab that replaced it.
"""

from __future__ import annotations

import threading
import time

_owner: dict[int, str] = {}  # assignment id -> browser-session id of the tab that owns the clip
_lock = threading.Lock()
MAX_OWNERS = 10_000  # clips are done or given back and never forgotten here: keep the newest
RELOAD_GRACE_S = 0.5


def _alive(session_id: str) -> bool:
    from streamlit.runtime import Runtime

    return Runtime.exists() and Runtime.instance().is_active_session(session_id)


def claim(assignment_id: int, tab: str) -> bool:
    """Make ``tab`` the owner of the clip; True when another tab that is still open owned it."""
    with _lock:
        before = _owner.pop(assignment_id, None)
        _owner[assignment_id] = tab  # re-insert: newest last
        while len(_owner) > MAX_OWNERS:
            del _owner[next(iter(_owner))]
    if before is None or before == tab:
        return False
    end = time.monotonic() + RELOAD_GRACE_S  # a reload's old tab may not have been seen to disconnect yet
    while _alive(before):
        if time.monotonic() >= end:
            return True
        time.sleep(0.05)
    return False


def taken_elsewhere(assignment_id: int, tab: str) -> bool:
    """True when another open tab owns the clip (this tab must not save or submit it)."""
    with _lock:
        owner = _owner.get(assignment_id)
    return owner is not None and owner != tab and _alive(owner)


def forget(assignment_id: int) -> None:
    """The clip left the annotator's hands (submitted, skipped)."""
    with _lock:
        _owner.pop(assignment_id, None)
