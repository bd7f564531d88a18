"""The pages' guard: a server-side failure is a calm message with a reference, logged for the admin."""

from __future__ import annotations

import json


def _failing_page():
    from annotate_app.web import chrome

    def boom():
        raise FileNotFoundError("[Errno 2] No such file: 'candidates/lipsync/sample-001.mp4'")

    chrome.guarded(boom, "rate")


def _stopping_page():
    import streamlit as st

    from annotate_app.web import chrome

    def stop():
        st.write("before the stop")
        st.stop()

    chrome.guarded(stop, "rate")
    st.write("never reached")


def test_failure_is_calm_and_logged(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from storage.workspace import init

    ws = init(tmp_path / "ws")
    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    at = AppTest.from_function(_failing_page, default_timeout=30).run()
    assert not at.exception
    [shown] = [w.value for w in at.warning]
    assert shown.startswith("Something went wrong on our side") and "logged for the admin" in shown
    assert "candidates" not in shown and "lipsync" not in shown and "Errno" not in shown
    [line] = (ws.root / "logs" / "app-errors.log").read_text().splitlines()
    entry = json.loads(line)
    assert f"reference {entry['ref']})" in shown and entry["page"] == "rate"
    assert entry["error"].startswith("FileNotFoundError") and "candidates/lipsync/sample-001.mp4" in entry["traceback"]

    from annotate_app.web.chrome import recent_errors

    assert recent_errors(ws) == (1, [entry])


def test_streamlit_stop_passes_through(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CURATE_WORKSPACE", str(tmp_path))
    at = AppTest.from_function(_stopping_page, default_timeout=30).run()
    assert not at.exception and not at.warning
    assert [m.value for m in at.markdown] == ["before the stop"]
    assert not (tmp_path / "logs").exists()


def test_tab_ownership_by_hand(monkeypatch):
    from annotate_app.web import tabs

    alive = {"t1", "t2"}
    monkeypatch.setattr(tabs, "_alive", lambda sid: sid in alive)
    monkeypatch.setattr(tabs, "RELOAD_GRACE_S", 0.1)
    assert tabs.claim(7, "t1") is False  # first tab
    assert tabs.taken_elsewhere(7, "t1") is False
    assert tabs.claim(7, "t2") is True  # a second open tab takes it over
    assert tabs.taken_elsewhere(7, "t1") is True and tabs.taken_elsewhere(7, "t2") is False
    alive.discard("t2")  # t2 closed: t1 may go on; a reload (t3) of a closed tab is no second tab
    assert tabs.taken_elsewhere(7, "t1") is False
    assert tabs.claim(7, "t3") is False
    tabs.forget(7)
    assert tabs.taken_elsewhere(7, "t1") is False
