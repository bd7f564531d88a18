"""The annotation app (Streamlit). Started by ``curate annotate``; thin: sign-in, then pages."""

from __future__ import annotations

import streamlit as st

from annotate_app.web import clip_page, context, dashboard, media_guard, signin
from annotate_app.web.plain_text import md_plain

st.set_page_config(page_title="Rate clips", layout="wide")


def main() -> None:
    account = signin.current_account()
    if account is None:
        st.navigation([st.Page(signin.render, title="Sign in", url_path="signin")], position="hidden").run()
        return
    pages = [st.Page(clip_page.render, title="Rate clips", url_path="rate", default=True)]
    if account.is_admin:
        pages.append(st.Page(dashboard.render, title="Dashboard", url_path="dashboard"))
    with st.sidebar:
        st.markdown(f"Signed in as **{md_plain(account.name)}**")
        st.button("Sign out", on_click=signin.sign_out)
    st.navigation(pages).run()


context.calm_when_busy(main)  # a store busy for longer than its timeout: a calm note, never a traceback
media_guard.remember_shown()  # reached only when the run completed (not on st.rerun / st.stop)
