"""PostgreSQL restarting or out of reach mid-submit: the transaction runs again once it is back (nothing lost, nothing
stored twice), and the page shows the calm "busy, retrying" note instead of an OperationalError with host and SQL."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError

from annotate_app import drafts
from annotate_app.assign import AssignConfig, clip_view, next_clip
from annotate_app.submit import CandidateScore, submit_clip
from storage import Assignment, Rating
from storage._engine import is_transient, is_unavailable
from storage.models import ClipDraft
from storage.workspace import init
from tests.conftest import PG_ADMIN_URL
from tests.fixtures.annotate_data import add_clips, add_people

K1 = AssignConfig(overlap=1, lease_minutes=10, gold_rate=0.0)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on return: nothing listens there


def _refused_error() -> DBAPIError:
    eng = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x", connect_args={"connect_timeout": 2})
    try:
        with eng.connect():
            pass
    except DBAPIError as e:
        return e
    finally:
        eng.dispose()
    raise AssertionError("connected to a closed port")


def test_an_unreachable_server_is_transient_and_other_errors_are_not(tmp_path):
    assert is_unavailable(_refused_error()) and is_transient(_refused_error())
    eng = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(DBAPIError) as e, eng.connect() as c:
        c.execute(text("SELECT * FROM no_such_table"))
    assert not is_unavailable(e.value) and not is_transient(e.value)
    eng.dispose()


def test_postgres_restart_mid_submit_stores_the_ratings_once(tmp_path, pg_url):
    ws = init(tmp_path / "ws", db=pg_url)
    store = ws.open_store()
    try:
        add_clips(store, 1)
        (me,) = add_people(store, 1)
        lease = next_clip(store, me, K1)
        view = clip_view(store, me, lease.assignment_id)
        labels = [sl.label for sl in view.slots]
        assert drafts.save(store, me, lease.assignment_id, {"scores": {labels[0]: {"alignment": 2}}}, labels)
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        cut = {"done": 0}

        @event.listens_for(store.engine, "before_cursor_execute")
        def server_restarts(conn, cursor, statement, params, context, executemany):
            # The first write of the submit: the server ends this backend, as a restart does.
            if not cut["done"] and statement.lstrip().upper().startswith("INSERT INTO RATINGS"):
                cut["done"] = 1
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                with admin.connect() as a:
                    a.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        result = submit_clip(store, me, lease.assignment_id,
                             [CandidateScore(sl.candidate_pk, 4, 3, seconds_watched=1.0) for sl in view.slots])
        admin.dispose()
        assert cut["done"] == 1 and result is not None
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Rating)) == len(view.slots)
            assert s.get(Assignment, lease.assignment_id).status.value == "done"
            assert s.scalar(select(func.count()).select_from(ClipDraft)) == 0
    finally:
        store.dispose()


class _Note:
    def __init__(self, shown):
        self.shown = shown

    def info(self, text):
        self.shown.append(("info", text))

    def warning(self, text):
        self.shown.append(("warning", text))

    def empty(self):
        self.shown.append(("empty", ""))


class _Stopped(Exception):
    pass


class _FakeSt:
    def __init__(self):
        self.shown = []

    def empty(self):
        return _Note(self.shown)

    def stop(self):
        raise _Stopped


def test_the_page_says_busy_retrying_while_the_server_is_out_of_reach(monkeypatch):
    from annotate_app.web import context

    fake = _FakeSt()
    monkeypatch.setattr(context, "st", fake)
    monkeypatch.setattr(context.time, "sleep", lambda s: None)
    calls = []

    def submit():
        calls.append(1)
        raise _refused_error()

    with pytest.raises(_Stopped):  # the page stops calmly; no OperationalError reaches the browser
        context.busy_retry(submit)
    assert len(calls) == context.BUSY_ATTEMPTS
    texts = [t for kind, t in fake.shown if kind != "empty"]
    assert texts[0] == "The database is busy (another job is writing); retrying..."
    assert texts[-1] == "The database is still busy. Nothing was lost; please reload the page in a minute."
    assert not any("127.0.0.1" in t or "SELECT" in t for t in texts)
