"""Shared fixtures: workspaces on a real SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid

import pytest

PG_ADMIN_URL = os.environ.get("CURATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("CURATE_REQUIRE_POSTGRES") == "1"


def _pg_reachable() -> str | None:
    """None when the server answers, else the reason."""
    try:
        from sqlalchemy import create_engine, text

        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as e:  # driver missing, server down, auth refused
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(e).__name__}: {str(e).splitlines()[0]}"


# Variables that steer what the code and its worker processes load or use. CURATE_LOG_LEVEL is left out:
# `curate` exports it on every run by design (storage/logs.py).
_WATCHED_ENV = ("PYTHONPATH", "CUDA_VISIBLE_DEVICES")


def _watched_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k in _WATCHED_ENV or (k.startswith("CURATE_") and k != "CURATE_LOG_LEVEL")}


@pytest.fixture(autouse=True)
def _environment_left_unchanged():
    """A test that changes these variables for the tests after it (not through monkeypatch) errors."""
    before = _watched_env()
    yield
    after = _watched_env()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the test changed {changed} in os.environ for later tests: use monkeypatch.setenv"


@pytest.fixture(autouse=True)
def _media_key(monkeypatch):
    """The key that signs the clip page's media URLs: `curate annotate` sets it; in-process app tests need one."""
    if not os.environ.get("CURATE_MEDIA_KEY"):
        monkeypatch.setenv("CURATE_MEDIA_KEY", "test-media-key-" + uuid.uuid4().hex)


@pytest.fixture(scope="session")
def pg_available() -> None:
    reason = _pg_reachable()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (CURATE_REQUIRE_POSTGRES=1 makes this a failure)")
        pytest.skip(reason)


@pytest.fixture
def pg_url(pg_available) -> str:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"curate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """The same test on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def workspace(tmp_path, db_url):
    """An initialised workspace (SQLite or PostgreSQL store) in a temp folder."""
    from storage.workspace import init

    return init(tmp_path / "ws", db=db_url)


@pytest.fixture
def sqlite_workspace(tmp_path):
    """An initialised workspace with its default embedded SQLite store."""
    from storage.workspace import init

    return init(tmp_path / "ws")


@pytest.fixture
def sample_manifest(workspace):
    """Three sample clips (png + wav) ingested into ``workspace``; returns the manifest path."""
    from curation.demo.media import make_sample_clips
    from curation.ingest import ingest_manifest

    manifest = make_sample_clips(workspace.path("media", "sample"), n=3, seconds=1.0, size=64)
    ingest_manifest(workspace, manifest)
    return manifest


@pytest.fixture
def cand_videos(workspace, sample_manifest):
    """Two real candidate videos, a.mp4 and b.mp4 (0.4 s, 32x32), in the workspace's media/cands folder."""
    from tests.fixtures.media import make_video

    d = workspace.path("media", "cands")
    make_video(d / "a.mp4", seconds=0.4, fps=10, size=(32, 32), seed=1)
    make_video(d / "b.mp4", seconds=0.4, fps=10, size=(32, 32), seed=2)
    return d


@pytest.fixture
def cli():
    """Run ``curate`` in-process: ``cli("status", "--json")`` returns click's Result."""
    from click.testing import CliRunner

    from curation.cli import cli as group

    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(group, [str(a) for a in args], input=input, catch_exceptions=False)

    return run
