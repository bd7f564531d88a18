"""The clip page's comparison player in a real headless Chromium at 1366x768 (Debian's /usr/bin/chromium).

One server for the module; every test signs in a new annotator (k = 5, so each gets its own
lease on the same clips). Four candidates of one second each, 25 fps (one frame = 0.04 s).
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from annotate_app.accounts import add_annotator
from storage import Assignment, AssignmentStatus, Rating
from storage.models import ClipDraft
from tests.fixtures.annotate_ws import rating_workspace
from tests.fixtures.browser import (
    CHROMIUM,
    MISSING,
    launched_chromium,
    served_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(MISSING, reason=f"{CHROMIUM} missing: apt-get install chromium")]

METHODS4 = ("still", "lipsync", "lipsync_offset", "lipsync_blur")
FRAME = 1 / 25
VIEW = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ws14")
    ws = rating_workspace(tmp / "ws", clips=3, overlap=5, methods=METHODS4)
    with served_app(ws, tmp, gold_rate=0.0) as port:
        yield ws, port


_N = iter(range(1000))


@pytest.fixture
def browser():
    with launched_chromium() as b:
        yield b


def _open(server, browser):
    ws, port = server
    store = ws.open_store()
    try:
        _, token = add_annotator(store, f"w{next(_N)}")
    finally:
        store.dispose()
    page = browser.new_page(viewport=VIEW)
    url = f"http://127.0.0.1:{port}/?token={token}"
    page.goto(url)
    _ready(page)
    return page, url


def _ready(page) -> None:
    page.locator(".cp").wait_for(timeout=30_000)
    page.wait_for_function("() => true")
    page.locator(".cp video").first.wait_for(state="attached", timeout=30_000)
    page.locator(".cp").evaluate(
        "box => Promise.all(Array.from(box.querySelectorAll('video')).map(v => v.readyState >= 2 ? 0 :"
        " new Promise(r => v.addEventListener('loadeddata', r, {once: true}))))")
    page.mouse.click(5, 760)  # focus the page, not a widget


def _box(page, js: str):
    return page.locator(".cp").evaluate(js)


def _focus(page) -> tuple[str, str]:
    return tuple(_box(page, "b => { const f = b.querySelector('.cp-field.focused'); return [f.dataset.slot, f.dataset.axis]; }"))



TIMES = "b => Array.from(b.querySelectorAll('video')).map(v => v.currentTime)"


def _spread(page) -> float:
    t = _box(page, TIMES)
    return max(t) - min(t)


def _draft(ws, aid: int) -> dict | None:
    store = ws.open_store()
    try:
        with store.session() as s:
            d = s.get(ClipDraft, aid)
            return json.loads(d.payload) if d else None
    finally:
        store.dispose()


def _wait(cond, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if v := cond():
            return v
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_grid_fits_viewport_keys_move_outline_no_download(server, browser):
    page, _ = _open(server, browser)
    cells = page.locator(".cp-cell")
    assert cells.count() == 4
    for i in range(4):  # every candidate and both of its score rows on the first screen, no scrolling
        for part in (cells.nth(i).locator("video"), cells.nth(i).locator(".cp-field").nth(1)):
            bb = part.bounding_box()
            assert bb["y"] >= 0 and bb["y"] + bb["height"] <= VIEW["height"], (i, bb)
    assert _focus(page) == ("A", "alignment")
    page.keyboard.press("4")
    assert _focus(page) == ("A", "fidelity")  # moved by the key handler itself, before any rerun
    page.keyboard.press("2")
    assert _focus(page) == ("B", "alignment")
    page.keyboard.press("ArrowDown")  # next candidate, same axis
    assert _focus(page) == ("C", "alignment")
    page.keyboard.press("ArrowRight")
    assert _focus(page) == ("C", "fidelity")
    page.keyboard.press("Backspace")
    page.keyboard.press("ArrowUp")
    assert _focus(page) == ("B", "alignment")
    assert _box(page, "b => b.querySelector('.cp-cell.focused').dataset.slot") == "B"
    on = _box(page, "b => Array.from(b.querySelectorAll('.cp-score.on')).map(e => e.parentElement.dataset.slot"
                    " + e.parentElement.dataset.axis + e.dataset.v)")
    assert on == ["Aalignment4", "Afidelity2"]
    vids = _box(page, "b => Array.from(b.querySelectorAll('video')).map(v => [v.getAttribute('controlslist'),"
                      " v.controls, v.muted, v.disablePictureInPicture, v.currentSrc])")
    assert all("nodownload" in cl and not ctl and pip for cl, ctl, _, pip, _ in vids)
    assert [muted for _, _, muted, _, _ in vids].count(False) == 1  # one audio source: the focused candidate
    html = _box(page, "b => b.outerHTML") + page.content()
    for m in METHODS4:
        assert m not in html and not any(m in src for *_, src in vids)
    assert all("/clip-media/" in src for *_, src in vids)  # signed, opaque (no file name, no method)


def test_one_clock_play_seek_step(server, browser):
    page, _ = _open(server, browser)
    page.keyboard.press("Space")
    time.sleep(0.45)
    playing = _box(page, "b => Array.from(b.querySelectorAll('video')).map(v => !v.paused)")
    assert all(playing), playing
    # How close they stay *while* playing depends on the machine's load: bench/app_browser.py measures it.
    page.keyboard.press("k")
    t = _box(page, TIMES)
    assert max(t) - min(t) <= FRAME and t[0] > 0.1, t
    page.locator(".cp-scrub").fill("500")  # scrub all to the middle
    t = _box(page, TIMES)
    assert all(abs(x - 0.5) < FRAME for x in t), t
    page.mouse.click(5, 760)
    frame = int(t[0] * 25 + 1e-3)  # the frame on screen
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press(",")
    t = _box(page, TIMES)
    assert all(abs(x - ((frame + 1) / 25 + 0.0001)) < 1e-3 for x in t), (frame, t)  # +2 -1 frames, everywhere
    page.keyboard.press("z")
    assert "scale(3)" in _box(page, "b => b.querySelector('.cp-cell.focused video').style.transform")
    page.keyboard.press("s")
    assert _box(page, "b => Array.from(b.querySelectorAll('.cp-cell')).filter(c => !c.hidden).length") == 1


def test_reload_restores_scores_comment_broken_watched_focus(server, browser):
    ws, _ = server
    page, _ = _open(server, browser)
    page.keyboard.press("Space")  # play all to the end: watched for every candidate
    page.wait_for_function("() => true")
    _box(page, "b => new Promise(r => { const v = b.querySelector('video'); v.ended ? r() :"
               " v.addEventListener('ended', r, {once: true}); })")
    for k in "4253":
        page.keyboard.press(k)
    page.keyboard.press("b")  # four scores put the keys on C: C is broken
    page.locator(".cp-cell[data-slot=C] .cp-comment").click()
    page.keyboard.type("jaw wobbles 5")  # typed keys stay in the box: no "b" toggle, no "5" score
    page.keyboard.press("Escape")
    aid = _wait(lambda: _aid(ws))
    _wait(lambda: (d := _draft(ws, aid)) and d["comments"].get("C") == "jaw wobbles 5" and d["broken"].get("C"))
    page.reload()
    _ready(page)
    assert _box(page, "b => Number(b.dataset.aid)") == aid
    on = _box(page, "b => Array.from(b.querySelectorAll('.cp-score.on')).map(e => e.parentElement.dataset.slot"
                    " + e.parentElement.dataset.axis + e.dataset.v)")
    assert on == ["Aalignment4", "Afidelity2", "Balignment5", "Bfidelity3"]
    assert page.locator(".cp-cell[data-slot=C] .cp-comment").input_value() == "jaw wobbles 5"
    assert page.locator(".cp-cell[data-slot=C] .cp-broken input").is_checked()
    assert not page.locator(".cp-cell[data-slot=B] .cp-broken input").is_checked()
    assert _focus(page) == ("C", "alignment")
    assert _box(page, "b => Array.from(b.querySelectorAll('.cp-watch.ok')).length") == 4


def _aid(ws) -> int | None:
    store = ws.open_store()
    try:
        with store.session() as s:
            return s.scalar(select(Assignment.id).where(Assignment.status == AssignmentStatus.leased)
                            .order_by(Assignment.id.desc()).limit(1))
    finally:
        store.dispose()


def test_refused_submit_is_visible_then_rate_by_keys_and_submit(server, browser):
    ws, _ = server
    page, _ = _open(server, browser)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    msg = page.locator(".cp-msg")
    msg.wait_for(state="visible", timeout=5_000)
    assert "A: play it to the end first" in msg.inner_text() and "B: give Sync and Fidelity." in msg.inner_text()
    bb = msg.bounding_box()
    assert 0 <= bb["y"] and bb["y"] + bb["height"] <= VIEW["height"]
    assert _focus(page) == ("A", "fidelity")  # the first missing field has the keys
    first = page.locator(".cp-field.cp-missing").first
    fb = first.bounding_box()
    assert 0 <= fb["y"] and fb["y"] + fb["height"] <= VIEW["height"]
    page.mouse.click(5, 760)
    page.keyboard.press("Space")
    _box(page, "b => Promise.all(Array.from(b.querySelectorAll('video')).map(v => v.ended ? 0 :"
               " new Promise(r => v.addEventListener('ended', r, {once: true}))))")
    for k in "5" + "3" * 6:  # A.fidelity, then B..D
        page.keyboard.press(k)
    clip = page.get_by_role("heading", name="Clip sample-").first.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_function(f"!document.body.innerText.includes({clip!r})", timeout=20_000)
    store = ws.open_store()
    try:
        with store.session() as s:
            a = s.scalar(select(Assignment).where(Assignment.status == AssignmentStatus.done)
                         .order_by(Assignment.completed_at.desc()).limit(1))
            rows = s.scalars(select(Rating).where(Rating.annotator_pk == a.annotator_pk)).all()
            assert sorted((r.alignment, r.fidelity) for r in rows) == [(1, 5), (3, 3), (3, 3), (3, 3)]
            assert all(r.seconds_watched and r.seconds_watched > 0.9 for r in rows)
            assert s.get(ClipDraft, a.id) is None  # the draft became the ratings
    finally:
        store.dispose()
