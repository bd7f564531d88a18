"""End to end in a real headless Chromium (Debian's /usr/bin/chromium via Playwright; no browser download).

Serves the app with `annotate_app.web.server.start` on a free port, signs in with a login
link, plays every video (one clock, Space), rates the clip with the keyboard only, submits with Enter and
checks the rows in the store and that no method name reached the browser (page HTML,
requested URLs, video sources). The server is always stopped.
"""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import select

from annotate_app.accounts import add_annotator
from storage import Assignment, AssignmentStatus, Rating
from tests.fixtures.annotate_ws import METHODS, rating_workspace
from tests.fixtures.browser import ARGS, CHROMIUM, free_port, wait_healthy
from tests.fixtures.browser import MISSING as _MISSING  # CURATE_REQUIRE_BROWSER=1: a missing browser fails

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_MISSING, reason=f"{CHROMIUM} missing: apt-get install chromium")]


@pytest.fixture
def served(tmp_path):
    from annotate_app.web.server import start, stop

    ws = rating_workspace(tmp_path / "ws", clips=2, overlap=1)
    store = ws.open_store()
    _, token = add_annotator(store, "rater1")
    store.dispose()
    port = free_port()
    with open(tmp_path / "app.log", "wb") as log:
        proc = start(ws, port=port, stdout=log, stderr=log)
        try:
            wait_healthy(port, proc)
            yield ws, port, token, tmp_path
        finally:
            stop(proc, timeout=15)


PLAY_ALL = """box => Promise.all(Array.from(box.querySelectorAll('video')).map(v => v.ended ? 0 :
  new Promise(done => v.addEventListener('ended', done, {once: true}))))"""


def test_sign_in_play_rate_with_keys_submit(served):
    from playwright.sync_api import sync_playwright

    ws, port, token, tmp = served
    urls: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("request", lambda r: urls.append(r.url))
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.get_by_role("heading", name="Clip sample-").first.wait_for(timeout=30_000)
            page.locator(".cp video").nth(2).wait_for(state="attached", timeout=30_000)
            first_clip = page.get_by_role("heading", name="Clip sample-").first.inner_text()
            box = page.locator(".cp")
            page.mouse.click(5, 1000)  # focus the page, not a widget
            page.keyboard.press(" ")  # Space plays every candidate on one clock
            box.evaluate(PLAY_ALL)
            page.wait_for_function("() => true")
            assert box.evaluate("b => b.querySelectorAll('.cp-watch.ok').length") == 3
            html = page.content() + box.evaluate("b => b.outerHTML")
            srcs = box.evaluate("b => Array.from(b.querySelectorAll('video')).map(v => v.currentSrc)")
            page.screenshot(path=str(tmp / "clip_page.png"), full_page=True)
            if os.environ.get("CURATE_SCREENSHOT"):  # to look at the page during development
                shutil.copy(tmp / "clip_page.png", os.environ["CURATE_SCREENSHOT"])
            for key in "423514":
                page.keyboard.press(key)
            assert box.evaluate("b => b.querySelectorAll('.cp-score.on').length") == 6
            page.keyboard.press("Enter")
            page.wait_for_function(
                f"!document.body.innerText.includes({first_clip!r})", timeout=20_000)
        finally:
            browser.close()
    store = ws.open_store()
    try:
        with store.session() as s:
            done = s.scalars(select(Assignment).where(Assignment.status == AssignmentStatus.done)).all()
            assert len(done) == 1
            rows = s.scalars(select(Rating).where(Rating.annotator_pk == done[0].annotator_pk)).all()
            got = {}
            for r in rows:
                assert r.seconds_watched and r.seconds_watched > 0.9 and r.source == "app"
                got[r.candidate_pk] = (r.alignment, r.fidelity)
    finally:
        store.dispose()
    assert sorted(got.values()) == sorted([(4, 2), (3, 5), (1, 4)])
    for m in METHODS:
        assert m not in html, f"method {m!r} in page HTML"
        assert not [u for u in urls + srcs if m in u], f"method {m!r} in a URL"
    assert all("/clip-media/" in s for s in srcs)
