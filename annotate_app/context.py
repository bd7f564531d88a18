"""The app's workspace and store, opened once per server process (shared by every browser session)."""

from __future__ import annotations

import os

import streamlit as st


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
