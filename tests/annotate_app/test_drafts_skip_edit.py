"""Workstation bookkeeping on real stores: drafts, skip, the queue, edit of the last clip, player settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from annotate_app import drafts
from annotate_app.accounts import add_annotator
from annotate_app.assign import AssignConfig, clip_view, last_editable, next_clip, queue, skip
from annotate_app.submit import CandidateScore, SubmitError, reopen, submit_clip
from annotate_app.web.player import PlayerConfig, problems
from storage import Annotator, Assignment, AssignmentStatus, Rating
from storage.models import ClipDraft, ClipSkip, RatingRevision
from tests.fixtures.annotate_ws import rating_workspace

CFG = AssignConfig(overlap=1, gold_rate=0.0)


def _pk(store, name: str) -> int:
    add_annotator(store, name)
    with store.session() as s:
        return s.scalar(select(Annotator.id).where(Annotator.name == name))


@pytest.fixture
def store(tmp_path, db_url):
    ws = rating_workspace(tmp_path / "ws", db=db_url, clips=3, overlap=1)
    st = ws.open_store()
    yield st
    st.dispose()


def test_sanitize_keeps_only_well_formed_answers():
    raw = {"scores": {"A": {"alignment": 4, "fidelity": 9}, "B": {"alignment": True}, "Z": {"alignment": 3}},
           "broken": {"A": True, "B": "yes"}, "comments": {"A": "x" * 600, "C": "  "},
           "watched": {"A": {"frac": 1.7, "seconds": 2.0}, "B": {"frac": -1, "seconds": 1}}, "focus": 5}
    d = drafts.sanitize(raw, ["A", "B", "C"])
    # 9 and True are not scores, Z is no slot, "yes" is not True, blank comments vanish, frac caps at 1
    assert d == {"scores": {"A": {"alignment": 4}}, "broken": {"A": True}, "comments": {"A": "x" * 500},
                 "watched": {"A": {"frac": 1.0, "seconds": 2.0}}, "focus": 5}
    assert drafts.sanitize(raw, ["A", "B"])["focus"] == 0  # 5 is past the last field of two candidates
    assert drafts.sanitize("junk", ["A"]) == drafts.empty()


def test_watched_only_grows():
    old = {"A": {"frac": 0.9, "seconds": 1.8}}
    new = {"A": {"frac": 0.2, "seconds": 0.4}, "B": {"frac": 0.5, "seconds": 1.0}}
    assert drafts.merge_watched(old, new) == {"A": {"frac": 0.9, "seconds": 1.8}, "B": {"frac": 0.5, "seconds": 1.0}}


def test_problems_name_slot_and_what_is_missing():
    d = drafts.sanitize({"scores": {"A": {"alignment": 2, "fidelity": 3}, "B": {"fidelity": 1}},
                         "broken": {"B": True}, "watched": {"A": {"frac": 0.94, "seconds": 1}}}, ["A", "B"])
    # B is marked broken: a broken video needs no scores (annotators would invent them)
    assert problems(d, ["A", "B"], 0.95) == [("A", "A: play it to the end first (or mark it broken).")]
    assert problems(d, ["A", "B"], 0.9) == []
    d["broken"] = {}  # not broken: B needs both scores and a full watch
    assert problems(d, ["A", "B"], 0.9) == [("B", "B: give Sync."),
                                            ("B", "B: play it to the end first (or mark it broken).")]


@pytest.mark.parametrize("bad", [{"min_fraction": 0}, {"mouth_crop": (0.5, 0.0, 0.4, 1.0)},
                                 {"mouth_crop": (0, 0, 1)}, {"fps": 0}])
def test_player_config_rejects(bad):
    with pytest.raises(ValueError):
        PlayerConfig(**bad)


def test_draft_round_trip_only_for_own_live_lease(store):
    me, other = _pk(store, "d1"), _pk(store, "d2")
    lease = next_clip(store, me, CFG)
    slots = [s.label for s in clip_view(store, me, lease.assignment_id).slots]
    d = {"scores": {"A": {"alignment": 5}}, "comments": {"B": "blur"}, "focus": 1}
    assert drafts.save(store, me, lease.assignment_id, d, slots)
    d["scores"]["A"]["fidelity"] = 2  # a second save updates the same row
    assert drafts.save(store, me, lease.assignment_id, d, slots)
    assert not drafts.save(store, other, lease.assignment_id, d, slots)  # not theirs
    got = drafts.load(store, me, lease.assignment_id, slots)
    assert got["scores"] == {"A": {"alignment": 5, "fidelity": 2}} and got["comments"] == {"B": "blur"}
    assert drafts.load(store, other, lease.assignment_id, slots) == drafts.empty()
    with store.session() as s:
        assert s.scalar(text("SELECT COUNT(*) FROM clip_drafts")) == 1
    submit_clip(store, me, lease.assignment_id, [
        CandidateScore(sl.candidate_pk, 3, 3) for sl in clip_view(store, me, lease.assignment_id).slots])
    with store.session() as s:
        assert s.get(ClipDraft, lease.assignment_id) is None  # submit turned it into ratings
    assert not drafts.save(store, me, lease.assignment_id, d, slots)  # done: no draft any more


def test_skip_returns_clip_to_pool_never_to_the_skipper(store):
    me, other = _pk(store, "s1"), _pk(store, "s2")
    first = next_clip(store, me, CFG)
    drafts.save(store, me, first.assignment_id, {"scores": {"A": {"alignment": 1}}}, ["A", "B", "C"])
    assert queue(store, me, 1).n == 1 and queue(store, me, 1).total == 3
    assert skip(store, me, first.assignment_id, "  audio missing  ")
    assert not skip(store, me, first.assignment_id)  # already released
    with store.session() as s:
        assert s.get(ClipSkip, first.assignment_id).reason == "audio missing"
        assert s.get(ClipDraft, first.assignment_id) is None
        assert s.get(Assignment, first.assignment_id).status == AssignmentStatus.released
    q = queue(store, me, 1)
    assert (q.done, q.current, q.left, q.total) == (0, 0, 2, 2)  # the skipped clip left my queue
    seen = {next_clip(store, me, CFG).clip_pk}
    for lease in iter(lambda: next_clip(store, me, CFG), None):
        seen.add(lease.clip_pk)
        submit_clip(store, me, lease.assignment_id, [
            CandidateScore(sl.candidate_pk, 3, 3) for sl in clip_view(store, me, lease.assignment_id).slots])
    assert first.clip_pk not in seen
    assert next_clip(store, other, CFG).clip_pk == first.clip_pk  # the only clip still open


def _rate_one(store, me, a=2, f=4):
    lease = next_clip(store, me, CFG)
    view = clip_view(store, me, lease.assignment_id)
    submit_clip(store, me, lease.assignment_id, [CandidateScore(sl.candidate_pk, a, f) for sl in view.slots])
    return lease, view


def test_edit_last_clip_replaces_ratings_and_keeps_the_old_ones(store):
    me = _pk(store, "e1")
    lease, view = _rate_one(store, me)
    assert last_editable(store, me, CFG)[0] == lease.assignment_id
    with store.session() as s:
        n_done = s.scalar(text("SELECT n_done FROM clip_progress WHERE clip_pk = :c"), {"c": lease.clip_pk})
    assert n_done == 1
    d = reopen(store, me, lease.assignment_id, edit_minutes=10, lease_minutes=30)
    assert d["scores"] == {sl.label: {"alignment": 2, "fidelity": 4} for sl in view.slots}
    assert drafts.load(store, me, lease.assignment_id, [sl.label for sl in view.slots])["scores"] == d["scores"]
    with store.session() as s:
        assert s.get(Assignment, lease.assignment_id).status == AssignmentStatus.leased
        # still there, and still counted towards k, while the edit is open (what an edit is)
        assert s.scalar(text("SELECT n_done FROM clip_progress WHERE clip_pk = :c"), {"c": lease.clip_pk}) == 1
        assert s.scalar(text("SELECT COUNT(*) FROM ratings")) == 3
    new = [CandidateScore(sl.candidate_pk, 2, 4) for sl in view.slots]
    new[0] = CandidateScore(view.slots[0].candidate_pk, 5, 1, "on second look")
    res = submit_clip(store, me, lease.assignment_id, new)
    assert res.stored == 1  # one candidate changed
    with store.session() as s:
        rows = {r.candidate_pk: r for r in s.scalars(select(Rating))}
        assert len(rows) == 3
        assert (rows[view.slots[0].candidate_pk].alignment, rows[view.slots[0].candidate_pk].fidelity) == (5, 1)
        revs = s.scalars(select(RatingRevision)).all()
        assert [(r.rating_pk, r.alignment, r.fidelity) for r in revs] == [(rows[view.slots[0].candidate_pk].id, 2, 4)]
        assert s.get(Assignment, lease.assignment_id).status == AssignmentStatus.done
        assert s.scalar(text("SELECT n_done FROM clip_progress WHERE clip_pk = :c"), {"c": lease.clip_pk}) == 1


def test_edit_refused_after_the_window_and_for_others(store):
    me, other = _pk(store, "w1"), _pk(store, "w2")
    lease, _ = _rate_one(store, me)
    later = datetime.now(timezone.utc) + timedelta(minutes=11)
    assert last_editable(store, me, CFG, now=later) is None
    with pytest.raises(SubmitError, match="more than 10 minutes ago"):
        reopen(store, me, lease.assignment_id, edit_minutes=10, lease_minutes=30, now=later)
    with pytest.raises(SubmitError, match="only your own"):
        reopen(store, other, lease.assignment_id, edit_minutes=10, lease_minutes=30)
    with store.session() as s:
        assert s.get(Assignment, lease.assignment_id).status == AssignmentStatus.done


def test_revision_0006_upgrades_and_downgrades(db_url):
    from alembic import command
    from sqlalchemy import inspect

    from storage import make_engine
    from storage.migrate import alembic_config, upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"clip_drafts", "clip_skips", "rating_revisions"} <= tables
        command.downgrade(alembic_config(engine), "0006_workstation")  # off the merge revision, back to branches
        command.downgrade(alembic_config(engine), "0006_workstation@-1")
        tables = set(inspect(engine).get_table_names())
        assert not {"clip_drafts", "clip_skips", "rating_revisions"} & tables and "clip_progress" in tables
    finally:
        engine.dispose()


def test_disagreement_rule_hand_worked():
    from annotate_app.overlap import disagrees

    # composites: rater 1 {10: 4.5, 11: 2.0, 12: 1.0}, rater 2 {10: 4.0, 11: 2.5, 12: 1.5}: agree
    agree = {1: {10: (5, 4), 11: (2, 2), 12: (1, 1)}, 2: {10: (4, 4), 11: (3, 2), 12: (2, 1)}}
    assert not disagrees(agree, 2.0)
    # candidate 11: 2.0 vs 4.0 -> spread 2.0 >= 2
    assert disagrees({1: agree[1], 2: {10: (5, 5), 11: (4, 4), 12: (1, 1)}}, 2.0)
    # spreads all 1.0 but the bests differ (10 vs 11): disagree; with spread 1.0 it is the spread already
    swap = {1: {10: (4, 4), 11: (3, 3), 12: (1, 1)}, 2: {10: (3, 3), 11: (4, 4), 12: (1, 1)}}
    assert disagrees(swap, 5.0) and disagrees(swap, 1.0)
    # a tie for best with the other rater's best is agreement
    tie = {1: {10: (4, 4), 11: (4, 4), 12: (1, 1)}, 2: {10: (3, 3), 11: (4, 4), 12: (1, 1)}}
    assert not disagrees(tie, 5.0)
    assert not disagrees({1: agree[1]}, 2.0)  # one rater never disagrees


def _rate(store, me, cfg, a_f):
    lease = next_clip(store, me, cfg)
    if lease is None:
        return None
    view = clip_view(store, me, lease.assignment_id)
    submit_clip(store, me, lease.assignment_id, [CandidateScore(sl.candidate_pk, *a_f(sl)) for sl in view.slots],
                cfg=cfg)
    return lease.clip_pk


def test_adaptive_overlap_escalates_disagreeing_clip_up_to_max(tmp_path, db_url):
    ws = rating_workspace(tmp_path / "ws", db=db_url, clips=1, overlap=2)
    store = ws.open_store()
    try:
        cfg = AssignConfig(overlap=2, gold_rate=0.0, overlap_max=3, disagree_spread=2.0)
        people = [_pk(store, f"o{i}") for i in range(5)]
        order = {}

        def by_pk(lo, hi):  # lowest candidate id gets lo, others hi
            return lambda sl: (lo, lo) if sl.candidate_pk == min(order) else (hi, hi)

        with store.session() as s:
            order.update({pk: pk for pk in s.scalars(text("SELECT id FROM candidates"))})
        assert _rate(store, people[0], cfg, by_pk(5, 1)) is not None  # first candidate best
        assert _rate(store, people[1], cfg, by_pk(1, 5)) is not None  # first candidate worst: disagree
        with store.session() as s:
            assert s.scalar(text("SELECT target FROM clip_targets")) == 3
        assert queue(store, people[2], 2).left == 1
        assert _rate(store, people[2], cfg, by_pk(5, 1)) is not None  # the third rater gets it
        with store.session() as s:
            assert s.scalar(text("SELECT COUNT(*) FROM clip_targets")) == 0  # overlap_max reached: closed
        assert next_clip(store, people[3], cfg) is None
    finally:
        store.dispose()


def test_adaptive_overlap_stops_agreeing_clip_at_k(tmp_path, db_url):
    ws = rating_workspace(tmp_path / "ws", db=db_url, clips=1, overlap=2)
    store = ws.open_store()
    try:
        cfg = AssignConfig(overlap=2, gold_rate=0.0, overlap_max=4)
        people = [_pk(store, f"g{i}") for i in range(3)]
        for p in people[:2]:
            assert _rate(store, p, cfg, lambda sl: (3, 4)) is not None
        with store.session() as s:
            assert s.scalar(text("SELECT COUNT(*) FROM clip_targets")) == 0
        assert next_clip(store, people[2], cfg) is None
    finally:
        store.dispose()


def test_overlap_max_from_curate_toml(tmp_path):
    from storage.errors import WorkspaceError
    from storage.workspace import WorkspaceConfig, init

    ws = init(tmp_path / "ws", overlap=2)
    text_ = (ws.root / "curate.toml").read_text().replace("[annotation]\n", "[annotation]\noverlap_max = 4\n")
    (ws.root / "curate.toml").write_text(text_)
    from storage.workspace import load

    cfg = AssignConfig.from_workspace(load(ws.root))
    assert (cfg.overlap, cfg.overlap_max, cfg.disagree_spread, cfg.adaptive) == (2, 4, 2.0, True)
    def from_toml(data):  # [annotation] is AssignConfig's: the workspace keeps it as a raw table
        return AssignConfig.from_workspace(SimpleNamespace(config=WorkspaceConfig.from_toml(data)))

    with pytest.raises(WorkspaceError, match="overlap_max must be an integer >= overlap"):
        from_toml({"annotation": {"overlap": 3, "overlap_max": 2}})
    assert from_toml(WorkspaceConfig(annotation={"overlap_max": 5}).to_toml()).overlap_max == 5


def test_hold_extends_never_shortens_and_only_own_lease(store):
    from annotate_app.assign import aware_utc, hold

    me, other = _pk(store, "h1"), _pk(store, "h2")
    lease = next_clip(store, me, CFG)  # 30-minute lease
    now = datetime.now(timezone.utc)
    assert hold(store, me, lease.assignment_id, 60, now=now)
    assert hold(store, me, lease.assignment_id, 5, now=now)  # shorter: kept at 60
    assert not hold(store, other, lease.assignment_id, 60, now=now)
    with store.session() as s:
        until = aware_utc(s.get(Assignment, lease.assignment_id).lease_expires_at)
    assert abs((until - now).total_seconds() - 3600) < 1
