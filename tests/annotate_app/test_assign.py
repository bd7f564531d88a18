"""Hand-out and submission rules, on SQLite and PostgreSQL, with numbers worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from annotate_app.assign import AssignConfig, blind_order, clip_view, next_clip, progress, release
from annotate_app.submit import CandidateScore, SubmitError, submit_clip
from storage import Assignment, AssignmentStatus, Candidate, CandidateStatus, Rating
from tests.fixtures.annotate_data import add_clips, add_people

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(workspace):
    s = workspace.open_store()
    yield s
    s.dispose()


def _rate(store, me, lease, a=4, f=3, broken=()):
    view = clip_view(store, me, lease.assignment_id)
    scores = [CandidateScore(sl.candidate_pk, a, f, broken=sl.label in broken, seconds_watched=1.0) for sl in view.slots]
    return submit_clip(store, me, lease.assignment_id, scores)


def test_each_clip_gets_k_distinct_annotators_and_then_closes(store):
    add_clips(store, 2)
    people = add_people(store, 4)
    cfg = AssignConfig(overlap=2, gold_rate=0.0)
    got = {}
    for me in people:
        lease = next_clip(store, me, cfg)
        got[me] = lease.clip_pk if lease else None
        if lease:
            _rate(store, me, lease)
    # 2 clips x k=2 = 4 slots, depth first: people 0,1 -> one clip, people 2,3 -> the other.
    assert got[people[0]] == got[people[1]] != got[people[2]] == got[people[3]]
    extra = add_people(store, 1, prefix="late")[0]
    assert next_clip(store, extra, cfg) is None  # both clips have their k=2 ratings
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 4 * 3


def test_nobody_gets_a_clip_twice_and_pool_runs_dry(store):
    add_clips(store, 3)
    (me,) = add_people(store, 1)
    cfg = AssignConfig(overlap=3, gold_rate=0.0)
    seen = []
    while (lease := next_clip(store, me, cfg)) is not None:
        seen.append(lease.clip_pk)
        _rate(store, me, lease)
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 3


def test_resume_returns_the_same_leased_clip(store):
    add_clips(store, 3)
    (me,) = add_people(store, 1)
    cfg = AssignConfig(overlap=1, gold_rate=0.0)
    first = next_clip(store, me, cfg, now=T0)
    again = next_clip(store, me, cfg, now=T0 + timedelta(minutes=5))
    assert (again.assignment_id, again.order_seed, again.resumed) == (first.assignment_id, first.order_seed, True)
    assert again.lease_expires_at == T0 + timedelta(minutes=35)  # renewed from the resume time


def test_expired_lease_returns_clip_to_pool(store):
    add_clips(store, 1)
    a, b = add_people(store, 2)
    cfg = AssignConfig(overlap=1, lease_minutes=10, gold_rate=0.0)
    la = next_clip(store, a, cfg, now=T0)
    assert next_clip(store, b, cfg, now=T0 + timedelta(minutes=9)) is None  # k=1 slot held by a
    lb = next_clip(store, b, cfg, now=T0 + timedelta(minutes=11))  # a's lease lapsed
    assert lb.clip_pk == la.clip_pk
    # a comes back: the slot is b's now, so a's stale lease is released and nothing else is left.
    assert next_clip(store, a, cfg, now=T0 + timedelta(minutes=12)) is None
    with store.session() as s:
        assert s.get(Assignment, la.assignment_id).status == AssignmentStatus.released


def test_release_frees_the_slot(store):
    add_clips(store, 1)
    a, b = add_people(store, 2)
    cfg = AssignConfig(overlap=1, gold_rate=0.0)
    la = next_clip(store, a, cfg)
    assert release(store, b, la.assignment_id) is False  # not b's to release
    assert release(store, a, la.assignment_id) is True
    assert next_clip(store, b, cfg).clip_pk == la.clip_pk


def test_gold_is_uncapped_and_mixed_in(store):
    pks = add_clips(store, 3, gold={0})
    people = add_people(store, 3)
    cfg = AssignConfig(overlap=1, gold_rate=1.0)
    # gold first for everyone: all three get the gold clip although k = 1
    assert [next_clip(store, me, cfg).clip_pk for me in people] == [pks[0]] * 3
    never = AssignConfig(overlap=1, gold_rate=0.0)
    me = add_people(store, 1, prefix="x")[0]
    assert next_clip(store, me, never).clip_pk != pks[0]


def test_blind_order_is_seeded_and_labelled():
    cands = [(3, "c"), (1, "a"), (2, "b")]
    one, two = blind_order(cands, 7), blind_order(list(reversed(cands)), 7)
    assert one == two and [s.label for s in one] == ["A", "B", "C"]
    assert sorted(s.candidate_pk for s in one) == [1, 2, 3]
    orders = {tuple(s.candidate_pk for s in blind_order(cands, seed)) for seed in range(40)}
    assert len(orders) == 6  # all 3! orders occur over 40 seeds


def test_clip_view_only_for_owner(store):
    add_clips(store, 1)
    a, b = add_people(store, 2)
    lease = next_clip(store, a, AssignConfig(overlap=1, gold_rate=0.0))
    assert clip_view(store, b, lease.assignment_id) is None
    view = clip_view(store, a, lease.assignment_id)
    assert view.clip_id == "c0000" and len(view.slots) == 3


def test_submit_is_exactly_once(store):
    add_clips(store, 1)
    (me,) = add_people(store, 1)
    lease = next_clip(store, me, AssignConfig(overlap=1, gold_rate=0.0))
    first = _rate(store, me, lease, broken={"B"})
    again = _rate(store, me, lease, broken={"B"})
    assert (first.stored, first.already, again.stored, again.already) == (3, False, 0, True)
    with pytest.raises(SubmitError, match="already submitted"):
        _rate(store, me, lease, a=1, broken={"B"})
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 3
        assert s.get(Assignment, lease.assignment_id).status == AssignmentStatus.done
        flagged = s.scalars(select(Candidate).where(Candidate.status == CandidateStatus.flagged)).all()
        assert len(flagged) == 1
    assert progress(store, me, 1) == {"mine": 1, "complete": 1, "clips": 1}


def test_broken_flag_is_kept_by_later_raters(store):
    add_clips(store, 1)
    a, b = add_people(store, 2)
    cfg = AssignConfig(overlap=2, gold_rate=0.0)
    _rate(store, a, next_clip(store, a, cfg), broken={"A", "B", "C"})
    lb = next_clip(store, b, cfg)
    assert len(clip_view(store, b, lb.assignment_id).slots) == 3  # flagged videos stay in front of b
    _rate(store, b, lb)
    with store.session() as s:
        assert {c.status for c in s.scalars(select(Candidate))} == {CandidateStatus.flagged}


@pytest.mark.parametrize("bad", [0, 6, 2.5, True, "3"])
def test_scores_are_validated_server_side(store, bad):
    add_clips(store, 1)
    (me,) = add_people(store, 1)
    lease = next_clip(store, me, AssignConfig(overlap=1, gold_rate=0.0))
    view = clip_view(store, me, lease.assignment_id)
    with pytest.raises(SubmitError, match="alignment must be an integer 1-5"):
        submit_clip(store, me, lease.assignment_id, [CandidateScore(view.slots[0].candidate_pk, bad, 3)])


def test_cannot_submit_someone_elses_clip_or_foreign_candidate(store):
    add_clips(store, 2)
    a, b = add_people(store, 2)
    cfg = AssignConfig(overlap=1, gold_rate=0.0)
    la, lb = next_clip(store, a, cfg), next_clip(store, b, cfg)
    other = clip_view(store, b, lb.assignment_id).slots[0].candidate_pk
    with pytest.raises(SubmitError, match="not assigned to you"):
        submit_clip(store, b, la.assignment_id, [CandidateScore(other, 3, 3)])
    with pytest.raises(SubmitError, match="does not belong"):
        submit_clip(store, a, la.assignment_id, [CandidateScore(other, 3, 3)])


def test_config_is_validated():
    with pytest.raises(ValueError, match="gold_rate must be in"):
        AssignConfig(gold_rate=1.5)
    with pytest.raises(ValueError, match="overlap must be"):
        AssignConfig(overlap=0)


def test_clips_committed_out_of_id_order_are_still_handed_out(store, monkeypatch):
    """A clip whose id is below the highest synced one (a concurrent ingest) is found by the periodic full sync."""
    from annotate_app import assign
    from storage.models import ClipProgress

    pks = add_clips(store, 3)
    (me,) = add_people(store, 1)
    cfg = AssignConfig(overlap=1, gold_rate=0.0)
    next_clip(store, me, cfg)  # syncs all three rows
    with store.session() as s:  # pretend clip 2's row was never made (its ingest committed late)
        s.delete(s.get(ClipProgress, pks[1]))
    monkeypatch.setattr(assign, "_last_full_sync", {})  # the minute has passed
    seen = set()
    while (lease := next_clip(store, me, cfg)) is not None:
        seen.add(lease.clip_pk)
        _rate(store, me, lease)
    assert pks[1] in seen and len(seen) == 3
