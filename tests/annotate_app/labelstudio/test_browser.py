"""The pushed project in Label Studio's own UI, driven by headless Chromium (Debian's, via Playwright).

An annotator signs up through the invite link, logs in, opens the task, hears that the video
carries sound (the browser decodes its AAC track), is stopped by the required ratings, rates the
three videos with the stars, submits; pull then stores the three ratings against the right
candidates. Nothing the browser loads names a method or a clip.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from annotate_app.labelstudio import LabelStudioConfig, pull, push
from storage.workspace import init
from tests.fixtures import browser
from tests.fixtures import labelstudio_server as ls_fixture
from tests.fixtures.labelstudio_data import METHODS, add_campaign, ls_ratings, task_slots
from tests.fixtures.media import make_png, make_video

labelstudio_server = ls_fixture.labelstudio_server  # the session-scoped server
chromium = browser.chromium  # its path; fails (CURATE_REQUIRE_BROWSER=1) or skips before the server starts
ARGS = browser.ARGS

pytestmark = [
    pytest.mark.labelstudio,
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:label_studio_sdk"),
]

# LS draws video frames on a canvas; the <video> element exists but is hidden and may be re-mounted.
PLAY_FIRST_VIDEO = """async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const stats = v => ({audio: v.webkitAudioDecodedByteCount, video: v.webkitVideoDecodedByteCount, muted: v.muted});
  for (const end = Date.now() + 20000; Date.now() < end; ) {
    const v = document.querySelector('video');
    if (!v || v.readyState < 2) { await sleep(200); continue; }
    try { await v.play(); } catch (e) {}
    await sleep(500);
    if (v.webkitAudioDecodedByteCount > 0) { v.pause(); return stats(v); }
  }
  const v = document.querySelector('video');
  return v ? stats(v) : null;
}"""


def _annotations(srv, task_id):
    r = requests.get(
        f"{srv.url}/api/tasks/{task_id}/annotations/",
        headers={"Authorization": f"Token {srv.legacy_token}"},
        timeout=30,
    )
    r.raise_for_status()
    return r.json()


def test_annotator_rates_a_clip_in_the_label_studio_ui(chromium, labelstudio_server, tmp_path):
    from playwright.sync_api import sync_playwright

    srv = labelstudio_server
    ws = init(srv.media_root / f"ws-{uuid.uuid4().hex[:8]}", overlap=2)
    store = ws.open_store()
    src = (make_video(tmp_path / "v.mp4", seconds=1.0, fps=25, size=(64, 64)), make_png(tmp_path / "r.png"))
    add_campaign(store, ws.path("media", "cands"), *src, n_clips=1)
    store.dispose()
    cfg = LabelStudioConfig(
        url=srv.url,
        api_key=srv.legacy_token,
        project=f"ui-{uuid.uuid4().hex[:6]}",
        document_root=srv.media_root,
    )
    project_id = push(ws, cfg).project_id
    ((task_id, slots),) = task_slots(ws, project_id).items()
    email, password = f"ui-{uuid.uuid4().hex[:6]}@example.com", "Pw-" + uuid.uuid4().hex[:12]
    srv.add_user(email, password)

    urls: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1400})
            page.on("request", lambda r: urls.append(r.url))
            page.goto(f"{srv.url}/user/login/")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(f"{srv.url}/projects/{project_id}/data?task={task_id}")
            page.wait_for_function("document.querySelectorAll('.ant-rate').length === 6", timeout=90_000)
            played = page.evaluate(PLAY_FIRST_VIDEO)
            assert played and played["audio"] > 0 and played["video"] > 0 and not played["muted"], played

            stars = page.locator(".ant-rate")  # in config order: alignment_1, fidelity_1, alignment_2, ...
            stars.nth(0).locator("li").nth(3).click()
            page.get_by_role("button", name="Submit").click()
            page.get_by_text("Video 1: rate Portrait fidelity (1-5)").wait_for(timeout=30_000)
            assert _annotations(srv, task_id) == []  # required ratings block the submit
            page.get_by_role("button", name="OK").click()

            values = {1: (5, 2), 2: (4, 1), 3: (3, 3)}  # slot -> (alignment, fidelity)
            for i, v in enumerate(v for slot in (1, 2, 3) for v in values[slot]):
                if i > 0 or v != 4:  # clicking the selected star again would clear it
                    stars.nth(i).locator("li").nth(v - 1).click()
            page.get_by_role("button", name="Submit").click()
            deadline = time.monotonic() + 30
            while not _annotations(srv, task_id) and time.monotonic() < deadline:
                time.sleep(0.5)
            html = page.content()
        finally:
            browser.close()

    rep = pull(ws, cfg)
    assert (rep.added, rep.problems) == (3, [])
    got = ls_ratings(ws)
    assert {cid: v[:2] for (cid, name), v in got.items() if name == email} == {
        slots[slot].candidate_id: values[slot] for slot in (1, 2, 3)
    }
    # Blind in the browser too: no method name or clip id in the page or in any URL it loaded.
    seen = html + "\n".join(urls)
    for secret in (*METHODS, "lsclip"):
        assert secret not in seen
    assert any("/data/local-files/?d=labelstudio-media/" in u for u in urls)
