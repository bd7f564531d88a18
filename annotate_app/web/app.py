"""The annotation app (Streamlit). Started by ``curate annotate``; thin: sign-in, then pages.

No sidebar: each page has a compact header with "Sign out" (``chrome.header``). An admin lands
on the dashboard (the rating page, which leases a clip, only when they choose it in the top bar);
an annotator has one page.
"""

from __future__ import annotations

import streamlit as st

from annotate_app.web import chrome, clip_page, context, dashboard, media_guard, signin

st.set_page_config(page_title="Rate clips", layout="wide", initial_sidebar_state="collapsed")


def main() -> None:
    account = signin.current_account()
    if account is None:
        page = st.navigation([st.Page(signin.render, title="Sign in", url_path="signin")], position="hidden")
        chrome.guarded(page.run, "signin")
        return
    rate = st.Page(clip_page.render, title="Rate clips", url_path="rate", default=True)
    if account.is_admin:
        board = st.Page(dashboard.render, title="Dashboard", url_path="dashboard")
        page = st.navigation([board, rate], position="top")
        if page is rate and not st.session_state.get("landed"):
            # An admin's first page is the dashboard (also at /dashboard); the rating page, which leases
            # a clip, runs only when they choose it. Not the default page: its URL would be / only.
            st.session_state["landed"] = True
            st.switch_page(board)
        st.session_state["landed"] = True
    else:
        page = st.navigation([rate], position="hidden")
    chrome.guarded(page.run, page.url_path or "page")


# A store busy for longer than its timeout: a calm note; any other failure (sign-in included): a calm
# message with a reference, logged for the admin. Never a traceback.
context.calm_when_busy(lambda: chrome.guarded(main, "app"))
media_guard.remember_shown()  # reached only when the run completed (not on st.rerun / st.stop)
