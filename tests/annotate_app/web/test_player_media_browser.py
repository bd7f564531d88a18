"""The comparison player's bad moments in headless Chromium at 1366x768 (Debian's /usr/bin/chromium).

A video that cannot load (missing file, corrupt file) is a "could not load" tile that stays out of
the clock and is reported broken; broken needs no scores; the watched badge and the check round
alike; tiles show loading, the clock waits for every tile, the next clip is loaded ahead and a
reload revalidates (304) instead of downloading; every tile within a frame; the mouth zoom frames
the lips of the stored face box. Screenshots go to ``CURATE_SCREENSHOT_DIR`` when set (docs/).
"""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select, update

from annotate_app.accounts import add_annotator
from annotate_app.web.player import mouth_box
from storage import Assignment, AssignmentStatus, Candidate, CandidateStatus, Rating
from storage.models import BrokenReport
from tests.fixtures.annotate_ws import rating_workspace
from tests.fixtures.browser import CHROMIUM, MISSING, launched_chromium

pytestmark = [pytest.mark.browser, pytest.mark.skipif(MISSING, reason=f"{CHROMIUM} missing: apt-get install chromium")]

METHODS4 = ("still", "lipsync", "lipsync_offset", "lipsync_blur")
VIEW = {"width": 1366, "height": 768}
FRAME = 1 / 25
SHOTS = os.environ.get("CURATE_SCREENSHOT_DIR")


def _serve(tmp, **kw):
    from annotate_app.web.server import start, stop
    from tests.fixtures.browser import free_port, wait_healthy

    ws = rating_workspace(tmp / "ws", methods=METHODS4, **kw)
    port = free_port()
    log = open(tmp / "app.log", "wb")  # noqa: SIM115 - open for the server's life, closed by close()
    proc = start(ws, port=port, gold_rate=0.0, stdout=log, stderr=log)
    wait_healthy(port, proc)

    def close():
        stop(proc, timeout=15)
        log.close()
    return ws, port, close


@pytest.fixture
def browser():
    with launched_chromium() as b:
        yield b


def _token(ws, name="rater"):
    store = ws.open_store()
    try:
        return add_annotator(store, name)[1]
    finally:
        store.dispose()


def _open(browser, port, token, wait_ready=True):
    page = browser.new_page(viewport=VIEW)
    page.goto(f"http://127.0.0.1:{port}/?token={token}")
    page.locator(".cp video").first.wait_for(state="attached", timeout=30_000)
    if wait_ready:
        _settled(page)
    page.mouse.click(5, 760)
    return page


def _settled(page, timeout=30_000):
    """Every tile has loaded or failed."""
    page.locator(".cp").first.wait_for(state="attached", timeout=timeout)  # the last clip's may linger a moment
    page.wait_for_function(  # one player (the last clip's has gone) and no tile still loading
        "() => { const cs = Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot)"
        ".map(e => e.shadowRoot.querySelector('.cp')).filter(Boolean);"
        " return cs.length === 1 && cs[0].querySelectorAll('.cp-cell').length > 0 &&"
        " cs[0].querySelectorAll('.cp-cell.cp-loading').length === 0; }", timeout=timeout)


def _box(page, js):
    return page.locator(".cp").evaluate(js)


def _leased_clip(ws) -> int:
    """The clip pk of the latest leased assignment."""
    store = ws.open_store()
    try:
        with store.session() as s:
            return s.scalars(select(Assignment.clip_pk).where(Assignment.status == AssignmentStatus.leased)
                             .order_by(Assignment.id.desc())).first()
    finally:
        store.dispose()


def _slot_of(ws, method):
    """The slot letter the page shows ``method`` under (the latest leased assignment's blind order)."""
    from annotate_app.assign import clip_view

    store = ws.open_store()
    try:
        with store.session() as s:
            a = s.scalars(select(Assignment).where(Assignment.status == AssignmentStatus.leased)
                          .order_by(Assignment.id.desc())).first()
            pk = s.scalar(select(Candidate.id).where(Candidate.clip_pk == a.clip_pk, Candidate.method == method))
        view = clip_view(store, a.annotator_pk, a.id)
        return next(sl.label for sl in view.slots if sl.candidate_pk == pk), pk
    finally:
        store.dispose()


def _play_all_to_end(page):
    if _box(page, "b => Array.from(b.querySelectorAll('.cp-cell:not(.cp-failed) video')).every(v => v.paused)"):
        page.keyboard.press("Space")  # (still playing: let it run to the end)
    _box(page, "b => Promise.race([new Promise((_, no) => setTimeout(() => no(new Error('not ended in 30 s: ' + b.className + ' '"
               " + JSON.stringify(Array.from(b.querySelectorAll('video')).map(v => [v.currentTime, v.duration, v.paused,"
               " v.ended, v.readyState])))), 30000)),"
               " Promise.all(Array.from(b.querySelectorAll('.cp-cell:not(.cp-failed) video')).map(v =>"
               " v.ended ? 0 : new Promise(r => v.addEventListener('ended', r, {once: true}))))])")


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / name))


def _gone(page, text, tmp):
    """Wait until ``text`` has left the page (the clip was stored); on a timeout say what the page shows."""
    try:
        page.wait_for_function(f"!document.body.innerText.includes({text!r})", timeout=20_000)
    except Exception as e:
        log = (tmp / "app.log").read_text(errors="replace")[-1500:]
        raise AssertionError(f"{page.locator('body').inner_text()[:1500]}\n--- app.log ---\n{log}") from e


def _rows(ws):
    store = ws.open_store()
    try:
        with store.session() as s:
            return (s.scalars(select(Rating)).all(), s.scalars(select(BrokenReport)).all(),
                    {c.id: c.status for c in s.scalars(select(Candidate))})
    finally:
        store.dispose()


def test_missing_file_is_a_could_not_load_tile_reported_broken(tmp_path, browser):
    ws, port, close = _serve(tmp_path, clips=1)
    try:
        v = Path(ws.root, "media", "cand", "v1.mp4")  # lipsync's video
        v.unlink()
        page = _open(browser, port, _token(ws))
        slot, pk = _slot_of(ws, "lipsync")
        text = page.content() + _box(page, "b => b.outerHTML") + page.locator("body").inner_text()
        assert "Traceback" not in text and "lipsync" not in text and "v1.mp4" not in text and "cand/" not in text
        cell = page.locator(f".cp-cell[data-slot={slot}]")
        assert "cp-failed" in cell.get_attribute("class")
        assert "Could not load" in cell.inner_text()
        assert cell.locator(".cp-broken input").is_checked()
        _shot(page, "annotate-failed-tile.png")
        _play_all_to_end(page)
        for _ in range(3):  # the three that play: two scores each, the failed tile needs none
            for k in "34":
                page.keyboard.press(k)
        page.keyboard.press("Enter")
        _gone(page, "Clip sample-001", tmp_path)
        ratings, reports, status = _rows(ws)
        assert len(ratings) == 3 and pk not in {r.candidate_pk for r in ratings}
        assert [(r.candidate_pk, r.seconds_watched or 0.0) for r in reports] == [(pk, 0.0)]
        assert status[pk] == CandidateStatus.flagged  # the admin's flags
        assert b"v1.mp4" in (tmp_path / "app.log").read_bytes()  # the path is in the server's log, not the page
    finally:
        close()


def test_corrupt_focused_video_does_not_freeze_the_clock(tmp_path, browser):
    ws, port, close = _serve(tmp_path, clips=1, seconds=2.0)
    try:
        Path(ws.root, "media", "cand", "v2.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
        page = _open(browser, port, _token(ws))
        slot, _ = _slot_of(ws, "lipsync_offset")
        assert "cp-failed" in page.locator(f".cp-cell[data-slot={slot}]").get_attribute("class")
        page.locator(f".cp-cell[data-slot={slot}] .cp-score").first.click()  # try to give the failed tile the focus
        assert _box(page, "b => b.dataset.focusSlot") != slot  # the keys stay on tiles that play
        page.mouse.click(5, 760)
        page.keyboard.press("Space")
        time.sleep(1.0)
        t = _box(page, "b => Array.from(b.querySelectorAll('.cp-cell:not(.cp-failed) video')).map(v => v.currentTime)")
        assert len(t) == 3 and min(t) > 0.5, t  # the others play on their clock
        assert max(t) - min(t) < 3 * FRAME, t
    finally:
        close()


def test_broken_needs_no_scores_and_the_watched_badge_rounds_like_the_check(tmp_path, browser):
    from annotate_app import drafts

    ws, port, close = _serve(tmp_path, clips=2)
    try:
        page = _open(browser, port, _token(ws))
        slot, pk = _slot_of(ws, "still")
        # 94.5 % watched everywhere: the badge must not show 95 % while the check refuses
        store = ws.open_store()
        try:
            with store.session() as s:
                a = s.scalars(select(Assignment).where(Assignment.status == AssignmentStatus.leased)).first()
            labels = list("ABCD")
            d = drafts.empty()
            d["watched"] = {lab: {"frac": 0.945, "seconds": 0.945} for lab in labels}
            drafts.save(store, a.annotator_pk, a.id, d, labels)
        finally:
            store.dispose()
        page.reload()
        _settled(page)
        page.mouse.click(5, 760)
        badges = _box(page, "b => Array.from(b.querySelectorAll('.cp-watch')).map(e => e.textContent)")
        assert badges == ["94% watched"] * 4, badges
        page.keyboard.press("Enter")
        page.locator(".cp-msg").wait_for(state="visible", timeout=5_000)
        assert "play it to the end" in page.locator(".cp-msg").inner_text()
        _play_all_to_end(page)
        for lab in "ABCD":
            if lab == slot:
                page.locator(f".cp-cell[data-slot={lab}] .cp-field").first.click()
                page.mouse.click(5, 760)
                page.keyboard.press("b")  # broken: no scores
                page.keyboard.press("ArrowDown")
                continue
            for k in "25":
                page.keyboard.press(k)
        clip = page.get_by_role("heading", name="Clip sample-").first.inner_text()
        page.keyboard.press("Enter")
        _gone(page, clip, tmp_path)
        ratings, reports, status = _rows(ws)
        assert sorted((r.alignment, r.fidelity) for r in ratings) == [(2, 5)] * 3
        assert [r.candidate_pk for r in reports] == [pk] and status[pk] == CandidateStatus.flagged
    finally:
        close()


def _get(url, etag=None):
    req = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_loading_tiles_clock_waits_next_clip_loaded_ahead_and_cached(tmp_path, browser):
    ws, port, close = _serve(tmp_path, clips=3, seconds=2.0, video_size=256)
    try:
        ctx = browser.new_context(viewport=VIEW)  # one context, one cache
        warm = ctx.new_page()
        warm.goto(f"http://127.0.0.1:{port}/?token={_token(ws, 'warm')}")  # the app's own scripts in the cache
        warm.locator(".cp video").first.wait_for(state="attached", timeout=30_000)
        warm.close()
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        # 20 kB/s: the four videos take seconds, long enough to see the loading state and press Space
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 40,
                                                       "downloadThroughput": 20_000, "uploadThroughput": 20_000})
        responses = []
        page.on("response", lambda r: responses.append((r.url, r.status)))
        page.goto(f"http://127.0.0.1:{port}/?token={_token(ws)}", wait_until="commit", timeout=60_000)
        page.locator(".cp-cell.cp-loading").first.wait_for(timeout=30_000)
        assert "loading" in page.locator(".cp-cell.cp-loading").first.inner_text()
        _shot(page, "annotate-loading.png")
        page.mouse.click(5, 760)
        page.keyboard.press("Space")  # asked to play while tiles load: nothing plays until every tile can
        time.sleep(0.3)
        states = _box(page, "b => Array.from(b.querySelectorAll('video')).map(v => [v.readyState, v.paused])")
        if not all(rs >= 3 for rs, _ in states):
            assert all(paused for _, paused in states), states
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                       "downloadThroughput": -1, "uploadThroughput": -1})
        _settled(page, 60_000)
        page.wait_for_function("() => true")
        time.sleep(0.8)
        t = _box(page, "b => Array.from(b.querySelectorAll('video')).map(v => v.currentTime)")
        assert min(t) > 0.2 and max(t) - min(t) < 3 * FRAME, t  # started together once all could play
        # the next clip's four videos are fetched ahead (a clip-scoped token, "~n<clip>~")
        page.wait_for_function("() => true")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len({u for u, s in responses if "~n" in u and s == 200}) < 4:
            time.sleep(0.2)
        ahead = {u for u, s in responses if "~n" in u and s == 200}
        assert len(ahead) == 4, responses
        # cache headers: private, an ETag, 304 for a matching If-None-Match
        status, headers, _ = _get(next(iter(ahead)))
        assert status == 200 and "private" in headers["cache-control"] and headers.get("etag")
        assert _get(next(iter(ahead)), headers["etag"])[0] == 304
        # the next clip's page uses those very URLs
        _play_all_to_end(page)
        for _ in range(8):
            page.keyboard.press("3")
        clip = page.get_by_role("heading", name="Clip sample-").first.inner_text()
        page.keyboard.press("Enter")
        _gone(page, clip, tmp_path)
        _settled(page)
        srcs = set(_box(page, "b => Array.from(b.querySelectorAll('video')).map(v => v.currentSrc)"))
        predicted = {int(u.split("~n", 1)[1].split("~", 1)[0]) for u in ahead}  # the clip pk in "~n<clip>~"
        if predicted == {_leased_clip(ws)}:
            assert srcs == ahead
        else:  # the hand-out gave another clip than predicted: it loads under its own URLs (no cache to reuse)
            assert not srcs & ahead and all("~n" not in u for u in srcs), (srcs, ahead)
    finally:
        close()


SPREAD = """async ([secs]) => { const vs = Array.from(document.querySelectorAll('*')).map(e => e.shadowRoot)
  .filter(Boolean).map(r => r.querySelector('.cp')).find(Boolean).querySelectorAll('video'); const out = [];
  await new Promise(r => setTimeout(r, 300));  // past the start (bench/app_browser.py measures from the first frame)
  const end = performance.now() + secs * 1000;
  while (performance.now() < end) { await new Promise(r => requestAnimationFrame(r));
    const t = Array.from(vs).filter(v => !v.paused && !v.ended).map(v => v.currentTime);
    if (t.length === vs.length) out.push(Math.max(...t) - Math.min(...t)); }
  return out; }"""


def test_every_tile_within_one_frame_at_1x_and_2x(tmp_path, browser):
    """p99 of the spread of the four videos' currentTime, sampled on every animation frame, within one frame."""
    ws, port, close = _serve(tmp_path, clips=1, seconds=10.0)
    try:
        page = _open(browser, port, _token(ws))
        # 1x: two frames here on a loaded CI machine; the one-frame p99 target is bench/app_browser.py's. 2x: within the
        # controller's hard-seek threshold (3 frames); 2x misses one frame at p99 on 2 cores (docs/annotate.md).
        for rate_keys, secs, limit in (([], 4.0, 2 * FRAME), (["=", "=", "="], 3.0, 3 * FRAME)):
            page.keyboard.press("Home")
            for k in rate_keys:
                page.keyboard.press(k)
            page.keyboard.press("Space")
            spread = sorted(page.evaluate(SPREAD, [secs]))
            page.keyboard.press("k")
            assert len(spread) > 60, len(spread)
            p99 = spread[round(0.99 * (len(spread) - 1))]  # nearest rank, as bench/app_browser.py
            assert p99 <= limit, (rate_keys, len(spread), p99, spread[-5:])
    finally:
        close()


def test_mouth_zoom_frames_the_stored_face(tmp_path, browser):
    ws, port, close = _serve(tmp_path, clips=1)
    try:
        store = ws.open_store()
        try:
            with store.session() as s:
                s.execute(update(Candidate).values(face_box="0.3 0.1 0.7 0.5"))
        finally:
            store.dispose()
        page = _open(browser, port, _token(ws))
        page.keyboard.press("z")
        tf = _box(page, "b => b.querySelector('.cp-cell.focused video').style.transform")
        x0, y0, x1, y1 = mouth_box([0.3, 0.1, 0.7, 0.5], (1 / 3, 2 / 3, 2 / 3, 1))
        assert (x0, y0, x1, y1) == (0.38, 0.34, 0.62, 0.52)
        s = 1 / max(x1 - x0, y1 - y0)
        assert abs(float(tf.split("scale(")[1].rstrip(")")) - s) < 1e-4, tf
        assert "scale(3)" not in tf  # not the fixed lower third
    finally:
        close()
