"""Sign-in: a login link (``?token=``) or name + password. Sets ``st.session_state["account"]``.

A password sign-in opens a server-side session whose handle goes into the URL
(``?session=``), so reloading the page keeps the annotator signed in.
"""

from __future__ import annotations

import streamlit as st

from annotate_app import context
from annotate_app.accounts import close_session, open_session, resume_session, sign_in_password, sign_in_token


def current_account():
    """The signed-in account, from this browser session, a ``?session=`` handle or a ``?token=`` link."""
    account = st.session_state.get("account")
    if account is not None:
        return account
    if handle := st.query_params.get("session"):
        account = resume_session(context.store(), handle)
        if account is None:
            del st.query_params["session"]
            st.info("Your session has ended; please sign in again.")
    elif token := st.query_params.get("token"):
        account = sign_in_token(context.store(), token)
        if account is None:
            st.error("This login link is not valid (any more). Ask for a new one, or sign in below.")
    st.session_state["account"] = account
    return account


def render() -> None:
    """The sign-in form."""
    st.title("Sign in")
    st.caption("Use the name and one-time password from `curate annotators add`, or open your login link.")
    with st.form("signin"):
        name = st.text_input("Name", key="signin_name")
        password = st.text_input("Password", type="password", key="signin_password")
        ok = st.form_submit_button("Sign in", type="primary")
    if ok:
        account = sign_in_password(context.store(), name, password)
        if account is None:
            st.error("Wrong name or password.")
            return
        st.session_state["account"] = account
        st.query_params["session"] = open_session(context.store(), account)
        st.rerun()


def sign_out() -> None:
    if handle := st.query_params.get("session"):
        close_session(context.store(), handle)
    for k in list(st.session_state.keys()):
        del st.session_state[k]
    st.query_params.clear()
