"""Sign-in: a login link (``?token=``) or name + password. Sets ``st.session_state["account"]``.

Either way a server-side session is opened and its handle goes into the URL
(``?session=<handle>.<secret>``), so reloading the page keeps the annotator signed in.
The handle is checked against the store on every run of the page (one indexed read),
so sign-out, ``curate annotators reset`` and ``disable`` end an open tab at once.
"""

from __future__ import annotations

import streamlit as st

from annotate_app import signin_limit
from annotate_app.accounts import close_session, open_session, resume_session, sign_in_password, sign_in_token
from annotate_app.web import context, media_guard

HANDLE = "session_handle"
SESSION_ENDED = ("Your session has ended; the answers you gave are kept (submitted clips and the draft of the "
                 "clip you were rating). Please sign in again to carry on.")


def _browser_session() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def _clear() -> None:
    if sid := _browser_session():
        media_guard.unbind(sid)
    for k in list(st.session_state.keys()):
        del st.session_state[k]


def _start(account, handle: str) -> None:
    st.session_state["account"], st.session_state[HANDLE] = account, handle
    if st.query_params.get("session") != handle:  # a reload keeps the session
        st.query_params["session"] = handle
    if sid := _browser_session():
        media_guard.bind(sid, handle)  # Streamlit's /media/ files of this page are this session's


def _address() -> str | None:
    try:
        return st.context.ip_address
    except Exception:  # noqa: BLE001  (no client address outside a browser run: the per-name limit still holds)
        return None


def current_account():
    """The signed-in account, from a live ``?session=`` handle, else a ``?token=`` link; None when signed out."""
    handle = st.session_state.get(HANDLE) or st.query_params.get("session")
    if handle:
        account = context.busy_retry(lambda: resume_session(context.store(), handle))
        if account is None:
            _clear()
            st.query_params.pop("session", None)
            st.info(SESSION_ENDED)
            return None
        _start(account, handle)
        return account
    if st.session_state.get("account") is not None:  # set by a test harness without a handle
        return st.session_state["account"]
    if token := st.query_params.get("token"):
        account, limited = signin_limit.attempt(
            lambda: context.busy_retry(lambda: sign_in_token(context.store(), token)),
            "token:" + token.partition(".")[0], _address())
        if account is None:
            st.error(limited or "This login link is not valid (any more). Ask for a new one, or sign in below.")
            return None
        st.query_params.pop("token", None)  # the session handle replaces the link in the address bar
        _start(account, context.busy_retry(lambda: open_session(context.store(), account)))
        return account
    return None


def render() -> None:
    """The sign-in form."""
    st.title("Sign in")
    st.caption("Use the name and password you were given, or open your personal login link.")
    with st.form("signin"):
        name = st.text_input("Name", key="signin_name")
        password = st.text_input("Password", type="password", key="signin_password")
        ok = st.form_submit_button("Sign in", type="primary")
    if ok:
        account, limited = signin_limit.attempt(
            lambda: context.busy_retry(lambda: sign_in_password(context.store(), name, password)), name, _address())
        if account is None:
            st.error(limited or "Wrong name or password.")
            return
        _start(account, context.busy_retry(lambda: open_session(context.store(), account)))
        st.rerun()


def sign_out() -> None:
    """End this browser's session (its secret is checked) and forget everything about it."""
    handle = st.session_state.get(HANDLE) or st.query_params.get("session")
    if handle:
        context.busy_retry(lambda: close_session(context.store(), handle))
    _clear()
    st.query_params.clear()
