"""Stored text is shown as text (no Markdown) and CSV downloads run no formulas."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import update

from annotate_app.accounts import add_annotator
from annotate_app.web.plain_text import md_plain
from storage import Annotator, Clip
from storage.csv_safe import formula_safe, formula_safe_frame
from tests.fixtures.annotate_ws import rating_workspace
from tests.fixtures.browser import CHROMIUM, MISSING, app_page

EVIL_ID = "![x](http://127.0.0.1:9/pixel.png) :smile: www.example.com a_b_ <b>bold</b>"
EVIL_NAME = "**boss** [link](http://127.0.0.1:9/) <img src=x>"


def test_md_plain_by_hand():
    assert md_plain("sample-001") == "sample-001"  # ids read as typed
    assert md_plain("![x](http://h/p)") == "\\!\\[x\\]\\(http\u2060\\:\\/\\/h\\/p\\)"
    assert md_plain("a_b*c") == r"a\_b\*c"
    assert md_plain("a@b.c") == "a\u2060\\@b\u2060\\.c"
    assert md_plain("a\nb\u202ec\x00d") == "a b c d"  # newline, bidi override, NUL


def test_formula_safe_by_hand():
    assert formula_safe('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    for cell in ("+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert formula_safe(cell) == "'" + cell
    assert formula_safe("ok =1") == "ok =1" and formula_safe(-2) == -2 and formula_safe(None) is None
    assert formula_safe(["=a", "b"]) == ["'=a", "b"]
    df = pd.DataFrame({"name": ["=cmd", "ann"], "score": [-1.5, 2.0], "comments": [["@x"], []],
                       "who": pd.Categorical(["+x", "y"])})
    out = formula_safe_frame(df)
    assert out["name"].tolist() == ["'=cmd", "ann"] and out["score"].tolist() == [-1.5, 2.0]
    assert out["who"].tolist() == ["'+x", "y"]
    assert out["comments"].tolist() == [["'@x"], []]
    assert df["name"].tolist() == ["=cmd", "ann"]  # the input is left alone


def _dashboard_script():
    from annotate_app.web import dashboard

    dashboard.render()


def test_dashboard_tables_are_formula_safe(tmp_path, monkeypatch):
    """The tables' CSV download (Streamlit's toolbar) offers what st.dataframe got: check that."""
    from sqlalchemy import select
    from streamlit.testing.v1 import AppTest

    from annotate_app.accounts import Account
    from annotate_app.assign import AssignConfig, clip_view, next_clip
    from annotate_app.submit import CandidateScore, submit_clip

    ws = rating_workspace(tmp_path / "ws", clips=1, overlap=1)
    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    store = ws.open_store()
    try:
        add_annotator(store, "mallory")
        with store.session() as s:  # a name from before the id rule
            s.execute(update(Annotator).where(Annotator.name == "mallory").values(name='=HYPERLINK("http://x","y")'))
            pk = s.scalar(select(Annotator.id).where(Annotator.name.like("=HYPERLINK%")))
        lease = next_clip(store, pk, AssignConfig(overlap=1, gold_rate=0.0))
        view = clip_view(store, pk, lease.assignment_id)
        submit_clip(store, pk, lease.assignment_id,
                    [CandidateScore(sl.candidate_pk, 3, 4, "@SUM(1+1)", True) for sl in view.slots])
    finally:
        store.dispose()
    at = AppTest.from_function(_dashboard_script, default_timeout=60)
    at.session_state["account"] = Account(pk=1, name="boss", role="admin")
    at.run()
    assert not at.exception, at.exception
    cells = [v for df in (d.value for d in at.dataframe) for col in df.columns for v in df[col]]
    flat = [x for v in cells for x in (v if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else [v])]
    texts = [x for x in flat if isinstance(x, str)]
    assert '\'=HYPERLINK("http://x","y")' in texts
    assert "'@SUM(1+1)" in texts
    assert not [t for t in texts if t.startswith(("=", "+", "@"))], texts


@pytest.mark.browser
@pytest.mark.skipif(MISSING, reason=f"{CHROMIUM} missing: apt-get install chromium")
def test_clip_id_and_name_render_as_plain_text(tmp_path):


    ws = rating_workspace(tmp_path / "ws", clips=1, overlap=1)
    store = ws.open_store()
    try:
        _, token = add_annotator(store, "rater1")
        with store.session() as s:  # both from before the id rule
            s.execute(update(Clip).values(clip_id=EVIL_ID))
            s.execute(update(Annotator).where(Annotator.name == "rater1").values(name=EVIL_NAME))
    finally:
        store.dispose()
    urls = []
    with app_page(ws, tmp_path, {"width": 1400, "height": 1000}) as (page, port):
            page.on("request", lambda r: urls.append(r.url))
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            heading = page.locator("h1").filter(has_text="Clip ").first
            heading.wait_for(timeout=30_000)
            page.locator(".cp video").nth(2).wait_for(state="attached", timeout=30_000)
            title = heading.inner_text().strip().replace("\u2060", "")
            assert title.startswith(f"Clip {EVIL_ID} · clip "), title  # then "n of N"
            text = heading.locator("[data-heading-text]")  # (the h1 also holds Streamlit's anchor link)
            assert text.locator("img, a, b, strong, em").count() == 0
            side = page.locator("[data-testid=stCaptionContainer]").filter(has_text="Signed in as")  # the header
            assert f"Signed in as {EVIL_NAME}" in side.inner_text().replace("\u2060", "")
            assert side.locator("a, img").count() == 0
    assert not [u for u in urls if "127.0.0.1:9" in u or "pixel.png" in u], urls
