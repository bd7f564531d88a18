"""No writer holds SQLite's lock during slow work, and a busy store never shows a traceback.

The lock is held from another connection with a raw ``BEGIN IMMEDIATE``, as a long
``curate import candidates`` used to hold it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pytest

import annotate_app.web
from annotate_app.accounts import add_annotator
from tests.fixtures.annotate_ws import rating_workspace
from tests.fixtures.media import make_video

APP = str(Path(annotate_app.web.__file__).with_name("app.py"))


def _db(ws) -> Path:
    return ws.root / "curate.db"


def _lock_is_free(db: Path) -> bool:
    """Can another connection take the write lock right now (no waiting)?"""
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()


def test_ingest_and_import_candidates_do_slow_work_without_the_lock(sqlite_workspace, monkeypatch):
    from curation import file_import as imports
    from curation import ingest
    from curation.demo.media import make_sample_clips

    ws, free = sqlite_workspace, []

    def watching(fn):
        def wrapped(*a, **k):
            free.append(_lock_is_free(_db(ws)))  # called while the command does its slow work
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(ingest, "audio_duration", watching(ingest.audio_duration))
    manifest = make_sample_clips(ws.path("media", "sample"), n=3, seconds=0.5, size=32)
    assert ingest.ingest_manifest(ws, manifest).added == 3
    assert free == [True] * 3  # one audio decode per clip, the lock free during each
    free.clear()
    d = ws.path("media", "cands")
    rows = []
    for i, clip in enumerate(["sample-001", "sample-002", "sample-003"]):
        make_video(d / f"{clip}.mp4", seconds=0.4, fps=10, size=(32, 32), seed=i)
        rows.append((clip, "m", f"{clip}.mp4"))
    pd.DataFrame(rows, columns=["clip_id", "method", "video"]).to_csv(d / "c.csv", index=False)
    monkeypatch.setattr(imports, "probe_video", watching(imports.probe_video))
    monkeypatch.setattr(imports, "sha256_file", watching(imports.sha256_file))
    assert imports.import_candidates(ws, d / "c.csv").added == 3
    assert free == [True] * 6  # 3 probes + 3 hashes


class _Holder:
    """Holds SQLite's write lock from another connection until ``release()``."""

    def __init__(self, db: Path):
        self.con = sqlite3.connect(db, timeout=5, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self.con.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        with self._lock:  # the timer's thread and the test's may both call it
            if self.con is not None:
                self.con.execute("ROLLBACK")
                self.con.close()
                self.con = None


@pytest.fixture
def app_ws(tmp_path, monkeypatch):
    ws = rating_workspace(tmp_path / "ws", clips=2, overlap=1)
    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    store = ws.open_store()
    pw, _ = add_annotator(store, "ann")
    store.dispose()
    return ws, pw


def _sign_in(at, pw):
    at.run()
    at.text_input(key="signin_name").input("ann")
    at.text_input(key="signin_password").input(pw)
    at.button[0].click().run()
    return at


def test_sign_in_waits_for_a_short_lock(app_ws):
    from streamlit.testing.v1 import AppTest

    ws, pw = app_ws
    holder = _Holder(_db(ws))
    timer = threading.Timer(1.5, holder.release)  # a short write elsewhere, as the import's is now
    timer.start()
    try:
        at = _sign_in(AppTest.from_file(APP, default_timeout=60), pw)
    finally:
        timer.join()
        holder.release()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("Clip sample-")


def test_a_lock_held_past_the_timeout_shows_a_calm_note(app_ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import storage._engine as engine

    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 200)  # 30 s in real life; the app's store opens after this
    ws, pw = app_ws
    at = _sign_in(AppTest.from_file(APP, default_timeout=60), pw)
    assert at.title[0].value.startswith("Clip sample-")
    holder = _Holder(_db(ws))
    try:
        at.run()  # the page reads and writes the store: busy past the timeout
        assert not at.exception, at.exception
        assert "The database is still busy. Nothing was lost; please reload the page in a minute." in [
            w.value for w in at.warning]
        fresh = _sign_in(AppTest.from_file(APP, default_timeout=60), pw)  # signing in while it is held
        assert not fresh.exception, fresh.exception
        assert any("still busy" in w.value for w in fresh.warning)
    finally:
        holder.release()
    at.run()
    assert not at.exception and at.title[0].value.startswith("Clip sample-")


@pytest.mark.browser
def test_signing_in_during_a_long_import_candidates(tmp_path, monkeypatch):
    """The issue's scenario end to end: `import candidates` of 120 videos runs while an annotator
    signs in to the served app; the page comes up with no database error in it. (The import here
    lasts seconds, under SQLite's 30 s timeout, so the old code would pass too, only slower: the
    probe-without-the-lock test above is the one that catches a regression.)"""
    from playwright.sync_api import sync_playwright

    from annotate_app.web.server import start, stop
    from curation import file_import as imports
    from tests.fixtures.browser import ARGS, CHROMIUM, MISSING, free_port, wait_healthy

    if MISSING:
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    ws = rating_workspace(tmp_path / "ws", clips=2, overlap=1)
    store = ws.open_store()
    _, token = add_annotator(store, "ann")
    store.dispose()
    video = make_video(ws.path("media", "bulk", "v.mp4"), seconds=0.4, fps=10, size=(32, 32), seed=5)
    rows = [(f"sample-00{c}", f"bulk{i:03d}", video.name) for c in (1, 2) for i in range(60)]
    pd.DataFrame(rows, columns=["clip_id", "method", "video"]).to_csv(video.parent / "bulk.csv", index=False)
    probing = threading.Event()
    real_probe = imports.probe_video

    def probe(*a, **k):
        probing.set()
        return real_probe(*a, **k)

    monkeypatch.setattr(imports, "probe_video", probe)
    result: dict = {}
    port = free_port()
    with open(tmp_path / "app.log", "wb") as log:
        proc = start(ws, port=port, stdout=log, stderr=log)
        try:
            wait_healthy(port, proc)
            worker = threading.Thread(target=lambda: result.update(rep=imports.import_candidates(ws, video.parent / "bulk.csv")))
            worker.start()
            assert probing.wait(30)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    page = browser.new_page()
                    page.goto(f"http://127.0.0.1:{port}/?token={token}")
                    page.get_by_role("heading", name="Clip sample-").first.wait_for(timeout=60_000)
                    body = page.inner_text("body")
                finally:
                    browser.close()
            worker.join(120)
        finally:
            stop(proc, timeout=15)
    assert result["rep"].added == 120
    for bad in ("OperationalError", "Traceback", "database is locked"):
        assert bad not in body
