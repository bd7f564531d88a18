"""The app's workspace and store, opened once per server process (shared by every browser session)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def _open(root: str, db: str | None):
    from storage.workspace import load

    ws = load(root, db=db)
    return ws, ws.open_store()


def _key() -> tuple[str, str | None]:
    root = os.environ.get("CURATE_WORKSPACE")
    if not root:
        st.error("CURATE_WORKSPACE is not set: start the app with `curate annotate`.")
        st.stop()
    return root, os.environ.get("CURATE_DB_URL") or None


def workspace():
    return _open(*_key())[0]


def store():
    return _open(*_key())[1]


DEFAULT_GOLD_RATE = 0.05


def gold_rate() -> float:
    """Chance that a hand-out tries a gold clip first (``curate annotate --gold-rate``)."""
    try:
        return float(os.environ.get("CURATE_GOLD_RATE", DEFAULT_GOLD_RATE))
    except ValueError:
        return DEFAULT_GOLD_RATE


BUSY_ATTEMPTS = 6


def busy_retry(fn: Callable[[], T], attempts: int = BUSY_ATTEMPTS) -> T:
    """``fn()``, run again while the store is busy (SQLite's write lock held elsewhere, a
    PostgreSQL deadlock), with a calm "busy, retrying" note instead of a traceback.

    After ``attempts`` the page says to reload later and stops; nothing was written.
    """
    from sqlalchemy.exc import DBAPIError

    from storage._engine import is_transient

    note = None
    for i in range(attempts):
        try:
            out = fn()
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            note = note or st.empty()
            note.info("The database is busy (another job is writing); retrying...")
            time.sleep(min(2.0, 0.25 * 2**i))
            continue
        if note is not None:
            note.empty()
        return out
    note.warning("The database is still busy. Nothing was lost; please reload the page in a minute.")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


BUSY_RERUNS = 3


def calm_when_busy(run: Callable[[], None]) -> None:
    """Run a page; if the store stays busy past SQLite's busy timeout (or PostgreSQL reports a
    deadlock), show "busy, retrying" and run the page again a few times, never a traceback.

    The pages' own writes already retry (``in_transaction``); this also covers their reads and
    any path that does not. Other errors are not caught here.
    """
    from sqlalchemy.exc import DBAPIError

    from storage._engine import is_transient

    try:
        run()
    except DBAPIError as exc:
        if not is_transient(exc):
            raise
        n = st.session_state.get("_busy_reruns", 0) + 1
        if n > BUSY_RERUNS:
            st.session_state["_busy_reruns"] = 0
            st.warning("The database is still busy. Nothing was lost; please reload the page in a minute.")
            return
        st.session_state["_busy_reruns"] = n
        st.info("The database is busy (another job is writing); retrying...")
        time.sleep(min(2.0, 0.25 * 2**n))
        st.rerun()
    else:
        st.session_state.pop("_busy_reruns", None)
