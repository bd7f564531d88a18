"""Active allocation: settled clips are never handed out (even below k), doubtful ones are, up to overlap_max.

Six clips of three candidates (still, lipsync, lipsync_offset), k = 4, overlap_max = 5. Three annotators rate
every clip first (before any fit the hand-out follows the uniform rule). On clips 0-2 all three give
still 5/5, lipsync 3/3, lipsync_offset 1/1 (unanimous: pair still vs lipsync_offset, confidence > 0.95); on
clips 3-5 their orders cross (each rater puts a different candidate on top), so the pair is in doubt.
After the fit, the next annotators must only ever get clips 3-5.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from annotate_app.assign import AssignConfig, clip_view, next_clip
from annotate_app.doubt import priority
from annotate_app.submit import CandidateScore, submit_clip
from storage import Candidate
from tests.fixtures.annotate_data import add_clips, add_people

CLEAR = {"still": 5, "lipsync": 3, "lipsync_offset": 1}
CROSSING = [{"still": 5, "lipsync": 3, "lipsync_offset": 1}, {"still": 1, "lipsync": 5, "lipsync_offset": 3},
            {"still": 3, "lipsync": 1, "lipsync_offset": 5}]


@pytest.fixture
def store(workspace, monkeypatch):
    # The hand-out starts the background fit on a thread; here the test runs it itself, at known moments.
    monkeypatch.setattr(priority, "maybe_refresh", lambda *a, **k: False)
    s = workspace.open_store()
    yield s
    s.dispose()


def _rate(store, me, lease, scores: dict[str, int]):
    view = clip_view(store, me, lease.assignment_id)
    with store.session() as s:
        method = dict(s.execute(select(Candidate.id, Candidate.method)).all())
    submit_clip(store, me, lease.assignment_id,
                [CandidateScore(sl.candidate_pk, scores[method[sl.candidate_pk]], scores[method[sl.candidate_pk]],
                                seconds_watched=1.0) for sl in view.slots])


def test_settled_clips_are_never_handed_out(store):
    clips = add_clips(store, 6)
    people = add_people(store, 8)
    cfg = AssignConfig(overlap=4, overlap_max=5, gold_rate=0.0, allocation="active")
    for r, me in enumerate(people[:3]):
        while (lease := next_clip(store, me, cfg)) is not None:
            i = clips.index(lease.clip_pk)
            _rate(store, me, lease, CLEAR if i < 3 else CROSSING[r])
    res = priority.refresh(store, cfg.settle_confidence, cfg.overlap_max)
    assert res.clips == 6
    with store.session() as s:
        table = {pk: (conf, settled) for pk, conf, settled in
                 s.execute(text("SELECT clip_pk, confidence, settled FROM clip_priority"))}
    for pk in clips[:3]:
        assert table[pk][0] > 0.95 and table[pk][1]
    for pk in clips[3:]:
        assert table[pk][0] < 0.6 and not table[pk][1]
    # What `curate stats` and the dashboard show of that fit.
    from annotate_app.stats import compute_stats

    st = compute_stats(store, 4)
    assert (st["doubt"]["settled"], st["doubt"]["in_doubt"]) == (3, 3)
    exp = sum(c for c, _ in table.values()) / 6
    assert st["doubt"]["expected_pair_accuracy"] == pytest.approx(exp, abs=1e-4)
    figs = {f["annotator_id"]: f for f in st["annotator_figures"]}
    assert all(0 <= figs[f"ann{i:02d}"]["model_reliability"] <= 1 for i in range(3))
    handed = []
    for me in people[3:]:
        while (lease := next_clip(store, me, cfg)) is not None:
            handed.append(lease.clip_pk)
            _rate(store, me, lease, CLEAR)
    # Clips 0-2 stay at 3 ratings (below k = 4): settled. Clips 3-5 fill to overlap_max = 5 (two more each).
    assert sorted(handed) == sorted(clips[3:] * 2)


def test_one_rating_per_clip_per_fit_first(store):
    """Right after a fit, an in-doubt clip takes one new rating before any clip takes a second."""
    clips = add_clips(store, 3)
    people = add_people(store, 5)
    cfg = AssignConfig(overlap=2, overlap_max=5, gold_rate=0.0, allocation="active")
    for r, me in enumerate(people[:2]):
        while (lease := next_clip(store, me, cfg)) is not None:
            _rate(store, me, lease, CROSSING[r])
    priority.refresh(store, cfg.settle_confidence, cfg.overlap_max)
    first = [next_clip(store, me, cfg).clip_pk for me in people[2:]]  # held, not yet submitted
    assert sorted(first) == sorted(clips)


def test_background_refresh_writes_the_table(workspace):
    store = workspace.open_store()
    try:
        add_clips(store, 2)
        me = add_people(store, 1)[0]
        cfg = AssignConfig(overlap=1, gold_rate=0.0)
        while (lease := next_clip(store, me, cfg)) is not None:
            _rate(store, me, lease, CLEAR)
        assert priority.maybe_refresh(store, 0.95, every_s=3600)
        assert not priority.maybe_refresh(store, 0.95, every_s=3600)  # one per period
        priority._running[str(store.engine.url)].join(60)
        with store.session() as s:
            assert s.scalar(text("SELECT COUNT(*) FROM clip_priority")) == 2
            assert s.scalar(text("SELECT COUNT(*) FROM annotator_pace")) == 1
    finally:
        store.dispose()
