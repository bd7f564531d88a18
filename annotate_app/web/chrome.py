"""What every signed-in page shares: a compact header, and a guard against server-side failures.

The header holds the page title, who is signed in and "Sign out" in one row at the top, so the
app needs no sidebar (an open sidebar took the width the four candidates need).

The guard: a page that fails on the server (a candidate file gone, a bug) shows a calm message
with a short reference instead of Streamlit's traceback, which would show file paths (and a path
such as ``candidates/<method>/...`` breaks the blind). The full error goes to the app's log and
to ``logs/app-errors.log`` in the workspace, one JSON line each, for the admin.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from collections.abc import Callable
from datetime import datetime, timezone

import streamlit as st

from annotate_app.web.plain_text import md_plain

log = logging.getLogger("annotate_app.web")
ERROR_LOG = ("logs", "app-errors.log")
CALM = ("Something went wrong on our side while showing this page (reference {ref}). It was logged for "
        "the admin. Your saved answers are kept.")
# Less chrome above the content: Streamlit's own header is thin (no sidebar, minimal toolbar); with the
# admins' page links in it, it is taller.
HEADER_CSS = """<style>
.block-container { padding-top: %s !important; padding-bottom: 1rem !important; }
h1 { font-size: 1.25rem !important; padding: 0 !important; }
.st-key-signout button { min-height: 1.6rem; padding: 0 .5rem; }
</style>"""


def header(title: str, account, signout: Callable[[], None]) -> None:
    """One row: ``title`` (stored text is escaped by the caller), the account's name and "Sign out"."""
    st.html(HEADER_CSS % ("4.2rem" if account.is_admin else "2.6rem"))
    left, who, out = st.columns([8, 2, 1], vertical_alignment="center", gap="small")
    left.title(title, anchor=False)
    who.caption(f"Signed in as **{md_plain(account.name)}**")
    with out.container(key="signout"):
        st.button("Sign out", on_click=signout, key="signout_btn", type="tertiary")


def _control(exc: BaseException) -> bool:
    """Streamlit's own st.stop()/st.rerun() and a busy store (retried by ``context.calm_when_busy``)."""
    from sqlalchemy.exc import DBAPIError
    from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

    from storage._engine import is_transient

    return isinstance(exc, ScriptControlException) or (isinstance(exc, DBAPIError) and is_transient(exc))


def record(exc: BaseException, where: str) -> str:
    """Log ``exc`` for the admin (app log + the workspace's ``logs/app-errors.log``); returns its reference."""
    ref = secrets.token_hex(3)
    account = st.session_state.get("account")
    log.error("page error %s on %s (%s)", ref, where, getattr(account, "name", "-"), exc_info=exc)
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "ref": ref, "page": where,
             "annotator": getattr(account, "name", None), "assignment": st.session_state.get("assignment_id"),
             "error": f"{type(exc).__name__}: {exc}",
             "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}
    try:
        from annotate_app.web import context

        path = context.workspace().path(*ERROR_LOG)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
    except Exception:  # (the log line above already holds it; the page must still answer)
        log.exception("could not append to %s", "/".join(ERROR_LOG))
    return ref


def guarded(run: Callable[[], None], where: str, recover: Callable[[str], None] | None = None) -> None:
    """``run()``; any failure becomes a calm message (then ``recover(ref)``, e.g. offering to skip)."""
    try:
        run()
    except Exception as exc:  # (every failure: the annotator never sees a traceback)
        if _control(exc):
            raise
        ref = record(exc, where)
        st.warning(CALM.format(ref=ref))
        if recover is not None:
            recover(ref)


def recent_errors(ws, limit: int = 5) -> tuple[int, list[dict]]:
    """How many page errors the workspace's log holds, and the newest ``limit`` (for the dashboard)."""
    path = ws.path(*ERROR_LOG)
    if not path.exists():
        return 0, []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    out = []
    for line in lines[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return len(lines), out[::-1]
