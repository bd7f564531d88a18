"""App sessions are unguessable, checked on every operation, and revocable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

import annotate_app.web
from annotate_app.accounts import (
    add_annotator,
    close_session,
    open_session,
    reset_credentials,
    resume_session,
    set_active,
    sign_in_password,
    sign_in_token,
)
from annotate_app.assign import AssignConfig, next_clip
from annotate_app.web.signin import SESSION_ENDED
from storage import Assignment, AssignmentStatus
from storage.models import AppSession
from tests.fixtures.annotate_ws import rating_workspace
from tests.fixtures.app_test import header_text

APP = str(Path(annotate_app.web.__file__).with_name("app.py"))


@pytest.fixture
def ws(tmp_path, db_url):
    return rating_workspace(tmp_path / "ws", db=db_url, clips=2, overlap=2)


@pytest.fixture
def store(ws):
    s = ws.open_store()
    yield s
    s.dispose()


def _account(store, name, role="annotator"):
    pw, token = add_annotator(store, name, role=role)
    return sign_in_password(store, name, pw), pw, token


def _n_sessions(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AppSession))


def test_handles_are_random_and_the_secret_is_checked_everywhere(store):
    alice, _, _ = _account(store, "alice")
    bob, _, _ = _account(store, "bob")
    h1, h2 = open_session(store, alice), open_session(store, bob)
    for h in (h1, h2):
        handle, secret = h.split(".")
        assert len(handle) == 22 and len(secret) == 32  # 16 and 24 random bytes, base64url
        assert not handle.isdigit()
    # bob knows his own secret and alice's handle: he can neither resume nor end her session
    forged = h1.split(".")[0] + "." + h2.split(".")[1]
    assert resume_session(store, forged) is None
    assert close_session(store, forged) is False
    assert close_session(store, "1.x") is False  # the old sequential form
    assert resume_session(store, h1) == alice and _n_sessions(store) == 2
    assert close_session(store, h1) is True
    assert resume_session(store, h1) is None and resume_session(store, h2) == bob and _n_sessions(store) == 1


def test_expired_session_is_dead(store):
    alice, _, _ = _account(store, "alice")
    h = open_session(store, alice)
    with store.session() as s:
        s.execute(update(AppSession).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert resume_session(store, h) is None


def test_reset_and_disable_end_sessions(store):
    alice, _, _ = _account(store, "alice")
    bob, _, _ = _account(store, "bob")
    a1, a2, b1 = open_session(store, alice), open_session(store, alice), open_session(store, bob)
    reset_credentials(store, "alice")
    assert resume_session(store, a1) is None and resume_session(store, a2) is None
    assert resume_session(store, b1) == bob and _n_sessions(store) == 1
    # disable: sessions end, the lease goes back to the pool, sign-in is refused; enable lets them in again
    lease = next_clip(store, bob.pk, AssignConfig(overlap=2, gold_rate=0.0))
    _, bob_token = reset_credentials(store, "bob", password="bob-password-1")  # ends b1
    b2, b3 = open_session(store, bob), open_session(store, bob)
    assert set_active(store, "bob", False) == {"sessions_ended": 2, "leases_released": 1}
    assert resume_session(store, b2) is None and resume_session(store, b3) is None
    assert sign_in_password(store, "bob", "bob-password-1") is None
    assert sign_in_token(store, bob_token) is None
    with store.session() as s:
        assert s.get(Assignment, lease.assignment_id).status == AssignmentStatus.released
    reset_credentials(store, "bob", password="bob-password-2")  # reset does not re-enable
    assert sign_in_password(store, "bob", "bob-password-2") is None
    assert set_active(store, "bob", True) == {"sessions_ended": 0, "leases_released": 0}
    assert sign_in_password(store, "bob", "bob-password-2") == bob


def test_cli_disable_enable(cli, ws, store):
    bob, _, _ = _account(store, "bob")
    open_session(store, bob), open_session(store, bob)
    next_clip(store, bob.pk, AssignConfig(overlap=2, gold_rate=0.0))
    r = cli("annotators", "disable", "bob", "-w", ws.root)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "bob: disabled; 2 session(s) ended, 1 leased clip(s) released."
    assert "disabled" in cli("annotators", "list", "-w", ws.root).output.splitlines()[1]
    assert cli("annotators", "enable", "bob", "-w", ws.root).output.strip() == "bob: enabled."
    r = cli("annotators", "disable", "nobody", "-w", ws.root)
    assert r.exit_code == 1 and "no annotator named 'nobody'" in r.output and "Traceback" not in r.output


def test_an_open_tab_is_signed_out_by_disable(ws, store, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.setenv("CURATE_DB_URL", ws.database_url)
    _, _, token = _account(store, "carol")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["token"] = token
    at.run()
    assert not at.exception and header_text(at) == "Signed in as **carol**"
    handle = at.query_params["session"]
    handle = handle[0] if isinstance(handle, list) else handle
    assert "token" not in at.query_params  # the login link became a session
    assert resume_session(store, handle).name == "carol"
    set_active(store, "carol", False)
    at.run()  # the same tab, next interaction
    assert [i.value for i in at.info if i.value.startswith("Your session has ended")] == [SESSION_ENDED]
    assert "answers you gave are kept" in SESSION_ENDED
    assert at.title[0].value == "Sign in"


def test_migration_ends_old_sessions(db_url):
    from storage import make_engine
    from storage.migrate import upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0003_annotate")  # sessions addressed by integer id
        with engine.begin() as c:
            c.execute(text("INSERT INTO annotators (id, name, role, source, active, created_at) VALUES "
                           "(1, 'p', 'annotator', 'app', true, CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO app_sessions (id, annotator_pk, secret_hash, created_at, expires_at) VALUES "
                           "(1, 1, 'scrypt$x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        upgrade(engine)
        with engine.connect() as c:
            assert c.execute(text("SELECT COUNT(*) FROM app_sessions")).scalar() == 0
            assert c.execute(text("SELECT COUNT(*) FROM annotators")).scalar() == 1
    finally:
        engine.dispose()
