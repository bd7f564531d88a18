""""Clip n of N" (assign.queue) agrees with the dashboard and `curate stats` on the same store.

Three clips, k = 2, on SQLite and PostgreSQL. alice submits two clips, bob one and holds a
lease on a fourth hand-out, carol has had nothing. Hand-worked:

    clips: one with 2 raters (complete), one with alice + bob's lease, one untouched
    alice  done 2, in hand 0, could still get 1 (the untouched clip) -> clip 2 of 3
    bob    done 1, in hand 1, could still get 1 (the untouched clip) -> clip 2 of 3
    carol  done 0, in hand 0: the half-done clip's last slot is bob's lease -> clip 0 of 1
    stats / dashboard: 1 of 3 clips complete, 1 in progress, 1 not started; per annotator
    assignments_done = clips_rated = the queue's done, assignments_leased = its current.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from annotate_app.accounts import Account, add_annotator
from annotate_app.assign import AssignConfig, clip_view, next_clip, queue
from annotate_app.submit import CandidateScore, submit_clip
from storage import Annotator
from tests.fixtures.annotate_ws import rating_workspace

CFG = AssignConfig(overlap=2, gold_rate=0.0)


@pytest.fixture
def campaign(tmp_path, db_url):
    ws = rating_workspace(tmp_path / "ws", db=db_url, clips=3, overlap=2)
    store = ws.open_store()
    pks = {}
    for name in ("alice", "bob", "carol"):
        add_annotator(store, name)
        with store.session() as s:
            pks[name] = s.scalar(select(Annotator.id).where(Annotator.name == name))
    for name, submits in (("alice", 2), ("bob", 1)):
        for _ in range(submits):
            lease = next_clip(store, pks[name], CFG)
            view = clip_view(store, pks[name], lease.assignment_id)
            submit_clip(store, pks[name], lease.assignment_id, [CandidateScore(sl.candidate_pk, 3, 4) for sl in view.slots])
    assert next_clip(store, pks["bob"], CFG) is not None  # bob's clip in hand
    yield ws, store, pks
    store.dispose()


def _dashboard_script():
    from annotate_app.web import dashboard

    dashboard.render()


def test_queue_agrees_with_stats_and_dashboard(campaign, cli, monkeypatch):
    from streamlit.testing.v1 import AppTest

    ws, store, pks = campaign
    q = {name: queue(store, pk, CFG.overlap) for name, pk in pks.items()}
    assert {n: (x.done, x.current, x.left, x.n, x.total) for n, x in q.items()} == {
        "alice": (2, 0, 1, 2, 3), "bob": (1, 1, 1, 2, 3), "carol": (0, 0, 1, 0, 1)}

    st = json.loads(cli("stats", "--json", "-w", ws.root).output)
    p = st["progress"]
    assert (p["clips"], p["clips_complete"], p["clips_in_progress"], p["clips_not_started"]) == (3, 1, 1, 1)
    rows = {a["annotator_id"]: a for a in st["annotators"]}
    for name, x in q.items():
        assert (rows[name]["assignments_done"], rows[name]["clips_rated"], rows[name]["assignments_leased"]) == (
            x.done, x.done, x.current)
    # carol's N is the clips not complete whose open slots are not all leased: 3 - 1 complete - 1 (bob's lease)
    assert q["carol"].total == p["clips"] - p["clips_complete"] - 1

    monkeypatch.setenv("CURATE_WORKSPACE", str(ws.root))
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    at = AppTest.from_function(_dashboard_script, default_timeout=60)
    at.session_state["account"] = Account(pk=pks["alice"], name="boss", role="admin")
    at.run()
    assert not at.exception, at.exception
    assert at.metric[0].label == "Clips complete" and at.metric[0].value == "1 / 3"
    table = next(d.value for d in at.dataframe if "Annotator" in d.value.columns).set_index("Annotator")
    assert {n: int(table.loc[n, "Clips"]) for n in q} == {n: x.done for n, x in q.items()}
