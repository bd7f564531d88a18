"""Media only for a signed-in annotator holding the clip, checked with real HTTP requests.

The app is served by `curate annotate`'s own command (`annotate_app.web.server.start`), two annotators
sign in with real headless Chromium, and the files their pages show are then requested with urllib:
with the page's session (200), without one (401), from another annotator's page (403), after
sign-out (403), after the session expired (403), after the lease ended (403).
"""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from annotate_app.accounts import add_annotator
from annotate_app.web import media_guard
from storage import Assignment, AssignmentStatus, Candidate, Clip
from storage.models import AppSession
from tests.fixtures.annotate_ws import METHODS
from tests.fixtures.browser import ARGS, CHROMIUM, MISSING, free_port, wait_healthy

pytestmark = [pytest.mark.browser, pytest.mark.skipif(MISSING, reason=f"{CHROMIUM} missing: apt-get install chromium")]
KEY = "test-media-key-0123456789"


def test_signed_url_by_hand(monkeypatch):
    monkeypatch.setenv(media_guard.KEY_ENV, KEY)
    url = media_guard.sign("AbCdEfGhIjKlMnOpQrStUv.secret-part", 7, "ref", now=1000, ttl=900)
    token = url.removeprefix(media_guard.ROUTE_PREFIX)
    assert token.startswith("AbCdEfGhIjKlMnOpQrStUv~7~ref~2100~")  # ceil(1900 / 300) * 300; no secret in it
    assert "secret" not in url
    assert media_guard.verify(token, now=2099) == ("AbCdEfGhIjKlMnOpQrStUv", 7, "ref")
    assert media_guard.verify(token, now=2100) is None  # expired
    assert media_guard.verify(token.replace("~7~", "~8~"), now=1000) is None  # another assignment
    assert media_guard.sign("h", 7, "ref", now=1001) == media_guard.sign("h", 7, "ref", now=1199)  # same URL per step
    # a candidate pk is masked: not readable in the URL, different per session, recovered by the server
    u1, u2 = (media_guard.sign(h, 7, 42, now=1000).removeprefix(media_guard.ROUTE_PREFIX) for h in ("h1", "h2"))
    assert u1.split("~")[2] != u2.split("~")[2] and "42" not in u1.split("~")[2][1:] + u2.split("~")[2][1:]
    assert media_guard.verify(u1, now=1000) == ("h1", 7, "42") and media_guard.verify(u2, now=1000) == ("h2", 7, "42")
    monkeypatch.setenv(media_guard.KEY_ENV, KEY + "x")
    assert media_guard.verify(token, now=1000) is None  # another server's key


def test_bound_sessions_keep_the_newest(monkeypatch):
    monkeypatch.setattr(media_guard, "MAX_BOUND", 2)
    monkeypatch.setattr(media_guard, "_bound", {})
    for sid, handle in (("a", "h1.s"), ("b", "h2.s"), ("a", "h1.s"), ("c", "h3.s")):
        media_guard.bind(sid, handle)
    assert media_guard._bound == {"a": "h1", "c": "h3"}  # b was the oldest; no secret kept
    media_guard.unbind("a")
    assert media_guard._bound == {"c": "h3"}


def _get(url: str, referer: str | None = None, range_: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if referer:
        req.add_header("Referer", referer)
    if range_:
        req.add_header("Range", range_)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _distinct_workspace(root: Path):
    """Two clips whose candidate videos all differ (rating_workspace shares one file per method,
    and Streamlit's media ids are content hashes: the same bytes are the same file for everyone)."""
    import csv

    from curation.demo.media import make_sample_clips
    from curation.file_import import import_candidates
    from curation.ingest import ingest_manifest
    from storage.workspace import init
    from tests.fixtures.media import make_video

    ws = init(root, overlap=1)
    ingest_manifest(ws, make_sample_clips(ws.path("media", "sample"), n=2, seconds=1.0, size=64))
    table = ws.path("media", "cand", "candidates.csv")
    table.parent.mkdir(parents=True, exist_ok=True)
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip_id", "method", "video"])
        for c in range(2):
            for m, method in enumerate(METHODS):
                v = make_video(ws.path("media", "cand", f"c{c}m{m}.mp4"), seconds=1.0, seed=10 * c + m)
                w.writerow([f"sample-{c + 1:03d}", method, v.name])
    import_candidates(ws, table)
    return ws


@pytest.fixture
def served(tmp_path, monkeypatch):
    from annotate_app.web.server import start, stop

    monkeypatch.setenv(media_guard.KEY_ENV, KEY)
    ws = _distinct_workspace(tmp_path / "ws")
    store = ws.open_store()
    tokens = [add_annotator(store, name)[1] for name in ("ann1", "ann2")]
    port = free_port()
    with open(tmp_path / "app.log", "wb") as log:
        proc = start(ws, port=port, stdout=log, stderr=log)
        try:
            wait_healthy(port, proc)
            yield ws, store, port, tokens
        finally:
            stop(proc, timeout=15)
            store.dispose()


def _open_clip(browser, port: int, token: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/?token={token}")
    page.get_by_role("heading", name="Clip sample-").first.wait_for(timeout=30_000)
    videos = page.locator(".cp video")  # the comparison player renders in a shadow root; locators pierce it
    videos.nth(2).wait_for(state="attached", timeout=30_000)
    page.wait_for_function("location.search.includes('session=')", timeout=10_000)
    page.wait_for_function("() => true")
    srcs = videos.evaluate_all("vs => vs.map(v => v.currentSrc || v.src)")
    assert len(srcs) == 3, srcs
    return page, srcs


def _handle(page_url: str) -> str:
    return media_guard.referer_session(page_url)


def _lease(store, handle: str) -> Assignment:
    with store.session() as s:
        pk = s.scalar(select(AppSession.annotator_pk).where(AppSession.handle == handle.partition(".")[0]))
        return s.scalar(select(Assignment).where(Assignment.annotator_pk == pk, Assignment.status == AssignmentStatus.leased))


def test_media_needs_the_session_that_holds_the_clip(served):
    from playwright.sync_api import sync_playwright

    ws, store, port, (tok1, tok2) = served
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page1, srcs1 = _open_clip(browser, port, tok1)
            page2, srcs2 = _open_clip(browser, port, tok2)
            url1, url2 = page1.url, page2.url
            h1, h2 = _handle(url1), _handle(url2)
            lease1, lease2 = _lease(store, h1), _lease(store, h2)
            assert lease1.clip_pk != lease2.clip_pk
            with store.session() as s:
                videos1 = {Path(v).read_bytes() for v in s.scalars(select(Candidate.video_path).where(Candidate.clip_pk == lease1.clip_pk))}
                cands1 = list(s.scalars(select(Candidate.id).where(Candidate.clip_pk == lease1.clip_pk)))
                image1 = Path(s.scalar(select(Clip.image_path).where(Clip.id == lease1.clip_pk))).read_bytes()

            # the player's videos: signed URLs of the page's session (no file name, no method, pk masked)
            assert all("/clip-media/" in u for u in srcs1 + srcs2)
            status, body = _get(srcs1[0], referer=url1)
            assert status == 200 and body in videos1
            assert _get(srcs2[0], referer=url2)[0] == 200
            assert _get("/".join(srcs1[0].split("/")[:3]) + "/media/0123abcd.mp4")[0] == 401  # Streamlit's: no session

            # signed URLs: lease holder only, short-lived, range requests for the player
            ref1 = base + media_guard.sign(h1, lease1.id, "ref")
            vid1 = base + media_guard.sign(h1, lease1.id, str(cands1[0]))
            assert _get(ref1) == (200, image1)
            status, part = _get(vid1, range_="bytes=0-99")
            assert status == 206 and len(part) == 100
            assert _get(base + media_guard.sign(h1, lease2.id, "ref"))[0] == 403  # ann2's clip, ann1's session
            assert _get(base + media_guard.sign(h1, lease1.id, "99999"))[0] == 403  # not a candidate of the clip
            assert _get(base + media_guard.sign(h1, lease1.id, "ref", ttl=-600))[0] == 403  # expired link
            assert _get(ref1[:-3] + "AAA")[0] == 403  # tampered signature

            # a rerun (a score key) while the store is busy: Streamlit has already forgotten the page's
            # files and not yet re-added them; the video must still play
            holder = sqlite3.connect(ws.root / "curate.db", timeout=5, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                page1.mouse.click(5, 300)
                page1.keyboard.press("3")
                page1.wait_for_timeout(1500)  # the rerun is now waiting for the lock, past its start
                assert _get(srcs1[0], referer=url1)[0] == 200
            finally:
                holder.execute("ROLLBACK")
                holder.close()

            # sign-out (ann2, in the browser) ends both kinds of access
            ref2 = base + media_guard.sign(h2, lease2.id, "ref")
            assert _get(ref2)[0] == 200
            page2.get_by_role("button", name="Sign out").click()
            page2.get_by_role("heading", name="Sign in").wait_for(timeout=20_000)
            assert _get(srcs2[0], referer=url2)[0] == 403
            assert _get(ref2)[0] == 403

            # the lease ends (expired): the signed URL stops; the session expires: everything stops
            with store.session() as s:
                s.execute(update(Assignment).where(Assignment.id == lease1.id)
                          .values(lease_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
            assert _get(ref1)[0] == 403
            with store.session() as s:
                s.execute(update(AppSession).where(AppSession.handle == h1.partition(".")[0])
                          .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
            assert _get(srcs1[0], referer=url1)[0] == 403
        finally:
            browser.close()
