"""The clip page's skip and edit-last buttons, and a draft restored in a new browser session (AppTest)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

import annotate_app.web
from annotate_app.accounts import add_annotator
from storage import Assignment, AssignmentStatus, Rating
from storage.models import ClipSkip
from tests.fixtures.annotate_ws import rating_workspace
from tests.fixtures.app_test import submit

APP = str(Path(annotate_app.web.__file__).with_name("app.py"))


def _signed_in(ws, monkeypatch, name: str):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.setenv("CURATE_GOLD_RATE", "0")
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    store = ws.open_store()
    try:
        _, token = add_annotator(store, name)
    finally:
        store.dispose()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["token"] = token
    at.run()
    assert not at.exception, at.exception
    return at, token


def _full(watched="ABC", a=3):
    return {"scores": {s: {"alignment": a, "fidelity": 4} for s in "ABC"}, "broken": {}, "comments": {},
            "watched": {s: {"frac": 1.0, "seconds": 1.0} for s in watched}, "focus": 0}


def test_skip_with_reason_moves_on(tmp_path, monkeypatch):
    ws = rating_workspace(tmp_path / "ws", clips=2, overlap=1)
    at, _ = _signed_in(ws, monkeypatch, "sk")
    aid, first = at.session_state["assignment_id"], at.title[0].value
    assert first.endswith("clip 1 of 2")
    at.text_input(key=f"skip_reason_{aid}").input("face cut off")
    at.button(key=f"skip_btn_{aid}").click().run()
    assert not at.exception
    assert at.title[0].value != first and at.title[0].value.endswith("clip 1 of 1")  # the skipped clip left the queue
    store = ws.open_store()
    try:
        with store.session() as s:
            assert s.get(Assignment, aid).status == AssignmentStatus.released
            assert s.get(ClipSkip, aid).reason == "face cut off"
    finally:
        store.dispose()


def test_draft_survives_a_new_session_and_last_clip_can_be_edited(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    ws = rating_workspace(tmp_path / "ws", clips=2, overlap=1)
    at, token = _signed_in(ws, monkeypatch, "ed")
    aid = at.session_state["assignment_id"]
    # what the player's debounced save stores, then a reload (a new session with the same link)
    from annotate_app import drafts

    store = ws.open_store()
    try:
        with store.session() as s:
            me = s.get(Assignment, aid).annotator_pk
        assert drafts.save(store, me, aid, _full(watched="AB", a=2), list("ABC"))
    finally:
        store.dispose()
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["token"] = token
    again.run()
    assert again.session_state["assignment_id"] == aid
    assert again.session_state[f"draft_{aid}"]["scores"]["A"] == {"alignment": 2, "fidelity": 4}
    submit(again, aid)  # C was not watched: refused, at the top
    assert again.error[0].value == "Not submitted: C: play it to the end first (or mark it broken)."
    again.session_state[f"draft_{aid}"] = _full(a=2)
    submit(again, aid)
    assert not again.error and again.session_state["assignment_id"] != aid
    again.button(key=f"edit_btn_{aid}").click().run()  # reopen it: the old answers come back as the draft
    assert again.session_state["assignment_id"] == aid
    assert again.session_state[f"draft_{aid}"]["scores"]["B"] == {"alignment": 2, "fidelity": 4}
    again.session_state[f"draft_{aid}"] = _full(a=5)
    submit(again, aid)
    assert not again.error and not again.exception
    store = ws.open_store()
    try:
        with store.session() as s:
            me = s.get(Assignment, aid).annotator_pk
            assert s.get(Assignment, aid).status == AssignmentStatus.done
            assert [r.alignment for r in s.scalars(select(Rating).where(Rating.annotator_pk == me))] == [5, 5, 5]
    finally:
        store.dispose()


def test_break_holds_the_clip_and_work_resumes(tmp_path, monkeypatch):
    ws = rating_workspace(tmp_path / "ws", clips=1, overlap=1)
    at, _ = _signed_in(ws, monkeypatch, "br")
    aid = at.session_state["assignment_id"]
    store = ws.open_store()
    try:
        with store.session() as s:
            before = s.get(Assignment, aid).lease_expires_at
        at.button(key=f"break_btn_{aid}").click().run()
        assert at.title[0].value == "On a break" and "kept for 60 minutes" in at.info[0].value
        with store.session() as s:
            during = s.get(Assignment, aid).lease_expires_at
        assert (during - before).total_seconds() > 25 * 60  # 30-minute lease -> held for 60 minutes from now
        at.button(key=f"resume_btn_{aid}").click().run()
        assert at.title[0].value.startswith("Clip sample-001") and at.session_state["assignment_id"] == aid
    finally:
        store.dispose()
