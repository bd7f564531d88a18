"""The Streamlit app through AppTest: sign-in, blind clip page, validation, submit, admin dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

import annotate_app.web
from annotate_app.accounts import add_annotator
from storage import Assignment, AssignmentStatus, Rating
from tests.fixtures.annotate_ws import METHODS, rating_workspace
from tests.fixtures.app_test import header_text, submit

APP = str(Path(annotate_app.web.__file__).with_name("app.py"))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return rating_workspace(tmp_path_factory.mktemp("app") / "ws", clips=2, overlap=1)


@pytest.fixture
def app(ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    return AppTest.from_file(APP, default_timeout=60)


_N = iter(range(1000))


def _person(ws, role="annotator"):
    store = ws.open_store()
    try:
        name = f"{role}{next(_N)}"
        pw, token = add_annotator(store, name, role=role)
    finally:
        store.dispose()
    return name, pw, token


def _sign_in(at, name, pw):
    at.run()
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(pw)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def _page_text(at) -> str:
    parts = [str(e.value) for kind in ("title", "subheader", "caption", "markdown", "text", "error", "success")
             for e in getattr(at, kind)]
    parts += [t.label for t in at.text_input]
    return "\n".join(parts)


def test_wrong_password_is_refused(app, ws):
    name, _, _ = _person(ws)
    at = _sign_in(app, name, "not-the-password")
    assert "Wrong name or password." in [e.value for e in at.error]
    assert not [c.value for c in at.caption if "curate" in c.value]  # annotators are not told to run a CLI
    assert not any(t.value.startswith("Clip ") for t in at.title)


def _answers(aid, scores, broken=(), comments=None, watched="ABC"):
    """A draft as the player sends it: ``scores`` maps slot -> (alignment, fidelity)."""
    return {"scores": {sl: {"alignment": a, "fidelity": f} for sl, (a, f) in scores.items()},
            "broken": {sl: True for sl in broken}, "comments": comments or {},
            "watched": {sl: {"frac": 1.0, "seconds": 1.0} for sl in watched}, "focus": 0}


def test_rate_a_clip_blind(app, ws):
    name, pw, _ = _person(ws)
    at = _sign_in(app, name, pw)
    title = at.title[0].value
    assert title.startswith("Clip sample-00") and title.endswith("clip 1 of 2")
    text = _page_text(at)
    for m in METHODS:
        assert m not in text.lower()
    aid = at.session_state["assignment_id"]
    # 1) scores missing and nothing watched: refused, nothing stored
    submit(at, aid)
    err = at.error[0].value
    assert "A: give Sync and Fidelity." in err and "C: play it to the end first" in err
    # 2) all scores, videos A and B watched, C marked broken (the player's draft, as it would send it)
    at.session_state[f"draft_{aid}"] = _answers(aid, {"A": (1, 2), "B": (3, 4), "C": (5, 1)}, broken="C",
                                                comments={"A": "lips lag"}, watched="AB")
    submit(at, aid)
    assert not at.exception and not at.error
    store = ws.open_store()
    try:
        with store.session() as s:
            a = s.get(Assignment, aid)
            rows = s.scalars(select(Rating).where(Rating.annotator_pk == a.annotator_pk).order_by(Rating.id)).all()
            assert a.status == AssignmentStatus.done
            assert len(rows) == 3
            assert sorted((r.alignment, r.fidelity) for r in rows) == [(1, 2), (3, 4), (5, 1)]
            assert [r.comment for r in rows if r.comment] == ["lips lag"]
            assert sum(r.broken for r in rows) == 1
            assert sorted(r.seconds_watched for r in rows if r.seconds_watched) == [1.0, 1.0]
    finally:
        store.dispose()
    assert at.title[0].value.startswith("Clip sample-00") and at.title[0].value != title  # next clip


def test_token_link_signs_in_and_admin_sees_dashboard(app, ws):
    _, _, token = _person(ws, role="admin")
    app.query_params["token"] = token
    at = app.run()
    assert not at.exception
    assert header_text(at).startswith("Signed in as **admin")
    # admins land on the dashboard; the rating page (which leases a clip) only when they open it
    assert at.title[0].value == "Dashboard"
    store = ws.open_store()
    try:
        with store.session() as s:
            from storage import Annotator

            me = s.scalar(select(Annotator.id).where(Annotator.name == header_text(at).split("**")[1]))
            assert s.scalar(select(func.count()).select_from(Assignment).where(Assignment.annotator_pk == me)) == 0
    finally:
        store.dispose()


def _dashboard_script():
    from annotate_app.web import dashboard

    dashboard.render()


def test_dashboard_shows_stats(ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from annotate_app.accounts import Account
    from annotate_app.assign import AssignConfig, clip_view, next_clip
    from annotate_app.submit import CandidateScore, submit_clip

    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    store = ws.open_store()
    try:
        # two annotators rate the same clip (gold_rate 0, k raised to 2 just for this hand-out)
        people = [_person(ws)[0] for _ in range(2)]
        with store.session() as s:
            from storage import Annotator
            pks = [s.scalar(select(Annotator.id).where(Annotator.name == n)) for n in people]
        for pk in pks:
            lease = next_clip(store, pk, AssignConfig(overlap=5, gold_rate=0.0))
            view = clip_view(store, pk, lease.assignment_id)
            submit_clip(store, pk, lease.assignment_id, [CandidateScore(sl.candidate_pk, 3, 4) for sl in view.slots])
        n_ratings = store.engine.connect().execute(select(func.count()).select_from(Rating)).scalar()
    finally:
        store.dispose()
    at = AppTest.from_function(_dashboard_script, default_timeout=60)
    at.session_state["account"] = Account(pk=1, name="boss", role="admin")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Dashboard"
    assert [s.value for s in at.subheader][:4] == ["Progress over time", "Agreement (Krippendorff's alpha, ordinal)",
                                                  "Scores per method", "Scores per annotator"]
    assert at.metric[1].label == "Ratings toward k" and n_ratings >= 6
    at.session_state["account"] = Account(pk=2, name="ann", role="annotator")
    at.run()
    assert at.error[0].value == "The dashboard is for admins."


def test_bad_token_is_refused(app):
    app.query_params["token"] = "1.not-a-token"
    at = app.run()
    assert "not valid" in at.error[0].value


def test_submit_reaches_the_store_on_both_backends(tmp_path, db_url, monkeypatch):
    """The same page on SQLite and PostgreSQL (the keyboard path is covered by the browser test)."""
    from streamlit.testing.v1 import AppTest

    ws = rating_workspace(tmp_path / "ws", db=db_url, clips=1, overlap=1)
    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.setenv("CURATE_DB_URL", db_url)
    name, pw, _ = _person(ws)
    at = _sign_in(AppTest.from_file(APP, default_timeout=60), name, pw)
    aid = at.session_state["assignment_id"]
    at.session_state[f"draft_{aid}"] = _answers(aid, {"A": (5, 4), "B": (3, 2), "C": (1, 1)}, broken="B")
    submit(at, aid)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("Nothing left to rate")  # the only clip is done
    store = ws.open_store()
    try:
        with store.session() as s:
            rows = s.scalars(select(Rating).order_by(Rating.id)).all()
            assert len(rows) == 3 and {(r.alignment, r.fidelity) for r in rows} == {(5, 4), (3, 2), (1, 1)}
            assert [r.broken for r in rows].count(True) == 1
            assert s.get(Assignment, aid).status == AssignmentStatus.done
    finally:
        store.dispose()


def test_password_session_survives_a_reload(app, ws):
    from streamlit.testing.v1 import AppTest

    name, pw, _ = _person(ws)
    at = _sign_in(app, name, pw)
    handle = at.query_params["session"]
    handle = handle[0] if isinstance(handle, list) else handle
    reloaded = AppTest.from_file(APP, default_timeout=60)  # a new browser session, same URL
    reloaded.query_params["session"] = handle
    reloaded.run()
    assert header_text(reloaded) == f"Signed in as **{name}**"
    reloaded.button(key="signout_btn").click().run()  # sign out ends the session
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["session"] = handle
    again.run()
    assert again.title[0].value == "Sign in"


def test_clip_whose_candidates_were_withdrawn_is_released(tmp_path, monkeypatch):
    from sqlalchemy import update
    from streamlit.testing.v1 import AppTest

    from storage import Candidate, CandidateStatus

    ws = rating_workspace(tmp_path / "ws", clips=2, overlap=1)
    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    name, pw, _ = _person(ws)
    at = _sign_in(AppTest.from_file(APP, default_timeout=60), name, pw)
    aid, first = at.session_state["assignment_id"], at.title[0].value
    store = ws.open_store()
    try:
        with store.session() as s:
            clip_pk = s.get(Assignment, aid).clip_pk
            s.execute(update(Candidate).where(Candidate.clip_pk == clip_pk).values(status=CandidateStatus.failed))
        at.run()
        assert at.title[0].value.startswith("Clip sample-") and at.title[0].value != first
        with store.session() as s:
            assert s.get(Assignment, aid).status == AssignmentStatus.released
    finally:
        store.dispose()
