"""The admin dashboard in headless Chromium at 1366x768: every table fits, no horizontal scrollbar.

Three annotators rate two clips (k = 2, one clip escalated by hand), an admin signs in with a
login link and opens the dashboard. The page must not scroll sideways and no table's grid may
scroll sideways either (glide-data-grid's ``.dvn-scroller``: scrollWidth > clientWidth means a
column is cut off). A screenshot of the whole page (same width) is kept (``CURATE_SCREENSHOT`` copies it out).
"""

from __future__ import annotations

import os
import shutil

import pytest

from annotate_app.accounts import add_annotator
from tests.fixtures.annotate_ws import rating_workspace
from tests.fixtures.browser import CHROMIUM, MISSING, app_page

pytestmark = [pytest.mark.browser, pytest.mark.skipif(MISSING, reason=f"{CHROMIUM} missing: apt-get install chromium")]

OVERFLOW = """() => ({
  page: document.documentElement.scrollWidth - window.innerWidth,
  grids: Array.from(document.querySelectorAll('[data-testid="stDataFrame"]')).map(g => {
    const s = g.querySelector('.dvn-scroller');
    return s ? s.scrollWidth - s.clientWidth : -1;
  }),
})"""


def _rate(ws) -> str:
    """Three raters on two clips (k = 2), one open escalation; returns the admin's login token."""
    from sqlalchemy import select, text

    from annotate_app.assign import AssignConfig, clip_view, next_clip
    from annotate_app.submit import CandidateScore, submit_clip
    from storage import Annotator

    store = ws.open_store()
    try:
        _, token = add_annotator(store, "boss", role="admin")
        for i, name in enumerate(["alice.long-name", "bob", "carol"]):
            add_annotator(store, name)
            with store.session() as s:
                pk = s.scalar(select(Annotator.id).where(Annotator.name == name))
            for _ in range(2):
                lease = next_clip(store, pk, AssignConfig(overlap=3, gold_rate=0.0))
                view = clip_view(store, pk, lease.assignment_id)
                submit_clip(store, pk, lease.assignment_id,
                            [CandidateScore(sl.candidate_pk, 1 + (i + j) % 5, 5 - j % 5, "frozen" if i == j == 2 else "",
                                            i == j == 2) for j, sl in enumerate(view.slots)])
        with store.session() as s:
            s.execute(text("INSERT INTO clip_targets (clip_pk, target) SELECT MIN(id), 4 FROM clips"))
    finally:
        store.dispose()
    return token


def test_dashboard_fits_1366_wide(tmp_path):


    ws = rating_workspace(tmp_path / "ws", clips=2, overlap=2)
    token = _rate(ws)
    shot = tmp_path / "dashboard.png"
    with app_page(ws, tmp_path, {"width": 1366, "height": 768}) as (page, port):
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_function("document.body.innerText.includes('Rate clips')", timeout=30_000)
            page.wait_for_url("**session=*", timeout=30_000)  # the login link became a session handle
            page.goto(page.url.replace(f"{port}/", f"{port}/dashboard", 1))
            page.locator("#flagged-videos").wait_for(timeout=60_000)  # the last section (a metric shares its label)
            page.locator('[data-testid="stDataFrame"] .dvn-scroller').nth(3).wait_for(timeout=30_000)
            page.wait_for_timeout(500)  # the grids size their columns after the first paint
            text = page.inner_text("body")
            over = page.evaluate(OVERFLOW)
            # Streamlit scrolls inside its own container: a tall window at the same width shows it all
            page.set_viewport_size({"width": 1366, "height": 4200})
            page.wait_for_timeout(500)
            page.screenshot(path=str(shot))
    if os.environ.get("CURATE_SCREENSHOT"):
        shutil.copy(shot, os.environ["CURATE_SCREENSHOT"])
    for heading in ("Progress over time", "Annotators", "Escalated clips (adaptive overlap): 1 open",
                    "Progress per clip", "Flagged videos"):
        assert heading in text
    assert over["page"] <= 0, over
    assert len(over["grids"]) >= 4 and all(0 <= g <= 0 for g in over["grids"]), over


# The figures of the hand-worked campaign of tests/fixtures/stats_seed.py (k = 2) as the page must show them;
# each is worked out in tests/annotate_app/stats/test_compute_stats.py (and the round in tests/curation/cli/test_round.py).
SEED_FIGURES = {
    "Clips complete": "2 / 4",        # c1 and c3 have k ratings on every ready candidate; c2 half, c4 none
    "Ratings toward k": "9 / 12",     # 6 ready candidates * 2 (c2:m2 flagged by its broken report); c1 2+2, c2 1, c3 2+2, c4 0
    "Ratings per hour": "68.6",       # alice's app ratings: 4 gaps in 60+60+30+60 = 210 s -> 4 * 3600 / 210
    "Flagged videos": "1",            # c2:m2, broken by alice
    "Over-assigned": "1",             # of the 4 candidates rated, c1:m1 got 3 > k ratings (c3 is gold)
}
SEED_ALPHA = {  # ordinal alpha over c1:m1, c1:m2 (gold c3 left out)
    "alignment": "0.800",   # (4,4,3), (2,2)
    "fidelity": "0.726",    # (5,4,4), (2,3): 69 / 95
    "composite": "0.680",   # (9,8,7), (4,5)
}
# Round 1, gold c3 left out: m1's mean composite beats m2's on c1 (4.0 vs 2.25) and c2 (5 vs 3); a bootstrap
# over two won clips can only give 100 %.
SEED_H2H = "m1 beats m2 on 100 % [100, 100] of 2 clips (2 wins, 0 ties, 0 losses)"


def _after(lines: list[str], label: str, start: int = 0) -> str:
    """The first non-empty line after the first line equal to ``label`` (at or after ``start``)."""
    i = lines.index(label, start)
    return next(line for line in lines[i + 1:] if line)


def test_dashboard_shows_the_hand_worked_figures(tmp_path):
    """The admin's dashboard, read off the page: headline counts, progress, alpha and the round's win rate."""

    from storage.workspace import init
    from tests.fixtures.stats_seed import K, seed

    ws = init(tmp_path / "ws", overlap=K)
    seed(ws)
    store = ws.open_store()
    try:
        _, token = add_annotator(store, "boss", role="admin")  # an admin with no ratings: no figure changes
    finally:
        store.dispose()
    with app_page(ws, tmp_path, {"width": 1366, "height": 4200}) as (page, port):
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_url("**session=*", timeout=30_000)  # the login link became a session handle
            page.goto(page.url.replace(f"{port}/", f"{port}/dashboard", 1))
            page.get_by_text(SEED_H2H).wait_for(timeout=60_000)
            lines = [line.strip() for line in page.inner_text("body").splitlines()]
    shown = {label: _after(lines, label) for label in SEED_FIGURES}
    assert shown == SEED_FIGURES, lines
    assert "75.0% of the ratings wanted (k = 2)" in lines  # 9 / 12
    agreement = lines.index("Agreement (Krippendorff's alpha, ordinal)")
    assert {axis: _after(lines, axis, agreement) for axis in SEED_ALPHA} == SEED_ALPHA, lines
    assert "Rounds (current: 1)" in lines
