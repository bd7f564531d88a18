"""Never more than k: expired leases stay expired, edits stay counted, rounds stay apart.

SQLite and PostgreSQL (the ``workspace`` fixture is parametrised over both); after every refusal the
store's annotation rows are compared with a snapshot taken before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from annotate_app import drafts
from annotate_app.accounts import add_annotator, reset_credentials, set_active
from annotate_app.assign import AssignConfig, clip_view, hold, next_clip, queue, release, skip
from annotate_app.submit import CandidateScore, SubmitError, reopen, submit_clip
from storage import Annotator
from storage.models.drafts import ClipTarget
from storage.rounds import start_round
from tests.fixtures.annotate_data import add_clips, add_people

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
TABLES = ("assignments", "ratings", "clip_progress", "clip_drafts", "clip_targets", "rating_revisions")


@pytest.fixture
def store(workspace):
    s = workspace.open_store()
    yield s
    s.dispose()


def rows(store) -> dict[str, list[tuple]]:
    """Every row of the annotation tables, in a fixed order, for before/after comparisons."""
    with store.session() as s:
        return {t: sorted(tuple(str(v) for v in r) for r in s.execute(text(f"SELECT * FROM {t}"))) for t in TABLES}


def n_done(store, clip: int) -> int:
    with store.session() as s:
        return s.execute(text("SELECT n_done FROM clip_progress WHERE clip_pk = :c"), {"c": clip}).scalar_one()


def raters(store, clip: int) -> int:
    with store.session() as s:
        return s.execute(text("SELECT COUNT(DISTINCT r.annotator_pk) FROM ratings r JOIN candidates c "
                              "ON c.id = r.candidate_pk WHERE c.clip_pk = :c"), {"c": clip}).scalar_one()


def rate(store, me, aid, a=4, f=3, now=None, cfg=None):
    view = clip_view(store, me, aid)
    scores = [CandidateScore(sl.candidate_pk, a, f, seconds_watched=1.0) for sl in view.slots]
    return submit_clip(store, me, aid, scores, now=now, cfg=cfg)


# --- item 1: an expired lease is never renewed ----------------------------------------------------------


def test_an_expired_lease_is_not_renewed_by_a_draft_or_a_break_and_its_late_submit_is_refused(store):
    """k = 1, lease 10 min: a is away 11 min, b takes and fills the clip; a's key press and "Back to work"
    renew nothing, a's draft is kept, and a's late submit is refused (one rater, not two)."""
    (clip,) = add_clips(store, 1)
    a, b = add_people(store, 2)
    cfg = AssignConfig(overlap=1, lease_minutes=10, gold_rate=0.0)
    la = next_clip(store, a, cfg, now=T0)
    lb = next_clip(store, b, cfg, now=T0 + timedelta(minutes=11))
    assert lb.clip_pk == clip
    rate(store, b, lb.assignment_id, now=T0 + timedelta(minutes=12), cfg=cfg)
    labels = [sl.label for sl in clip_view(store, a, la.assignment_id).slots]
    draft = {"scores": {labels[0]: {"alignment": 2, "fidelity": 5}}}
    assert drafts.save(store, a, la.assignment_id, draft, labels)  # the draft is kept ...
    before = rows(store)
    later = T0 + timedelta(minutes=13)
    assert not hold(store, a, la.assignment_id, cfg.lease_minutes, now=later)  # ... the lease is not renewed
    assert not hold(store, a, la.assignment_id, cfg.break_minutes, now=later)  # "Take a break"
    assert not hold(store, a, la.assignment_id, cfg.lease_minutes, now=later)  # "Back to work"
    assert rows(store) == before
    with pytest.raises(SubmitError, match="expired"):
        rate(store, a, la.assignment_id, now=later, cfg=cfg)
    assert rows(store) == before
    assert drafts.load(store, a, la.assignment_id, labels)["scores"] == {labels[0]: {"alignment": 2, "fidelity": 5}}
    assert (n_done(store, clip), raters(store, clip)) == (1, 1)


def test_a_live_lease_is_still_held_by_activity(store):
    add_clips(store, 1)
    (a,) = add_people(store, 1)
    cfg = AssignConfig(overlap=1, lease_minutes=10, gold_rate=0.0)
    la = next_clip(store, a, cfg, now=T0)
    assert hold(store, a, la.assignment_id, 60, now=T0 + timedelta(minutes=9))
    with store.session() as s:
        until = s.execute(text("SELECT lease_expires_at FROM assignments WHERE id = :i"),
                          {"i": la.assignment_id}).scalar_one()
    assert str(until).startswith("2026-01-01 13:09")  # 12:09 + 60 min


# --- item 2: what an edit is ---------------------------------------------------------------------------


def _edited(store, k=1):
    """k = 1: a rates the only clip and reopens it; returns (clip, a, the assignment id, a late annotator)."""
    (clip,) = add_clips(store, 1)
    a, late = add_people(store, 2)
    cfg = AssignConfig(overlap=k, lease_minutes=10, gold_rate=0.0)
    la = next_clip(store, a, cfg, now=T0)
    rate(store, a, la.assignment_id, now=T0 + timedelta(minutes=1), cfg=cfg)
    reopen(store, a, la.assignment_id, edit_minutes=10, lease_minutes=10, now=T0 + timedelta(minutes=2))
    return clip, a, la.assignment_id, late, cfg


def test_an_edit_keeps_the_old_ratings_counted(store):
    clip, a, aid, late, cfg = _edited(store)
    assert n_done(store, clip) == 1  # reopening does not lower the done count
    assert next_clip(store, late, cfg, now=T0 + timedelta(minutes=3)) is None
    assert queue(store, late, 1, now=T0 + timedelta(minutes=3)).total == 0
    rate(store, a, aid, a=2, f=2, now=T0 + timedelta(minutes=4), cfg=cfg)  # the edit is submitted
    assert (n_done(store, clip), raters(store, clip)) == (1, 1)
    with store.session() as s:
        assert s.execute(text("SELECT alignment, fidelity FROM rating_revisions")).all() == [(4, 3)] * 3


@pytest.mark.parametrize("how", ["skip", "release", "disable", "reset", "expiry"])
def test_abandoning_an_edit_leaves_the_clip_submitted_and_full(store, how):
    """Skip, give back, `annotators disable`, `annotators reset` and the edit lease running out all leave
    a's ratings counted: n_done stays 1 = k and the clip is never handed to a second rater."""
    clip, a, aid, late, cfg = _edited(store)
    with store.session() as s:
        name = s.get(Annotator, a).name
    now = T0 + timedelta(minutes=3)
    if how == "skip":
        assert skip(store, a, aid, "changed my mind")
    elif how == "release":
        assert release(store, a, aid)
    elif how == "disable":
        assert set_active(store, name, False) == {"sessions_ended": 0, "leases_released": 0}
    elif how == "reset":
        reset_credentials(store, name)
    else:
        now = T0 + timedelta(minutes=13)  # the edit lease (10 min from 12:02) ran out
        assert next_clip(store, a, cfg, now=now) is None  # the expired edit is abandoned, nothing new left
    assert next_clip(store, late, cfg, now=now) is None
    assert (n_done(store, clip), raters(store, clip)) == (1, 1)
    with store.session() as s:
        status = s.execute(text("SELECT status FROM assignments WHERE id = :i"), {"i": aid}).scalar_one()
        skips = s.execute(text("SELECT COUNT(*) FROM clip_skips")).scalar_one()
    assert str(status) == ("leased" if how == "reset" else "done")  # reset ends sessions; the lease runs out
    assert skips == 0  # an abandoned edit is not a skip: the clip is still this annotator's submitted clip


def test_disable_still_releases_a_plain_lease(store):
    (clip,) = add_clips(store, 1)
    (a,) = add_people(store, 1)
    with store.session() as s:
        name = s.get(Annotator, a).name
    next_clip(store, a, AssignConfig(overlap=1, gold_rate=0.0))
    assert set_active(store, name, False) == {"sessions_ended": 0, "leases_released": 1}
    assert n_done(store, clip) == 0


# --- item 5: rounds do not leak --------------------------------------------------------------------------


def test_round_two_hands_out_and_counts_only_its_own_clips(store):
    """Round 1: 5 clips, k = 1, overlap_max = 2; `me` rates all 5 and clip 0 is escalated (target 2).
    Round 2 has 3 new clips: a second annotator gets those first, not round 1's escalated clip, and sees
    "clip 1 of 3" (not "1 of 8")."""
    old = add_clips(store, 5)
    me, other = add_people(store, 2)
    cfg = AssignConfig(overlap=1, overlap_max=2, gold_rate=0.0)
    while (lease := next_clip(store, me, cfg)) is not None:
        rate(store, me, lease.assignment_id, cfg=cfg)
    with store.session() as s:
        s.add(ClipTarget(clip_pk=old[0], target=2))  # round 1's raters disagreed on clip 0
    assert queue(store, other, 1).total == 1  # round 1: the escalated clip is what is left
    start_round(store)
    new = add_clips(store, 3, start=5)
    got = []
    while (lease := next_clip(store, other, cfg)) is not None:
        assert (queue(store, other, 1).n, queue(store, other, 1).total) == (len(got) + 1, 3)
        if not got:  # me: 5 done in round 1 (not counted), 3 new clips less other's live lease (k = 1)
            assert queue(store, me, 1).total == 2
        got.append(lease.clip_pk)
        rate(store, other, lease.assignment_id, cfg=cfg)
    assert sorted(got) == sorted(new)  # old[0], escalated in round 1, is never handed out in round 2


# --- sign-off: an annotator with credentials goes through the same paths -----------------------------------


def test_disable_with_credentials_during_an_edit(store):
    (clip,) = add_clips(store, 1)
    add_annotator(store, "edith")
    with store.session() as s:
        a = s.execute(text("SELECT id FROM annotators WHERE name = 'edith'")).scalar_one()
    cfg = AssignConfig(overlap=1, gold_rate=0.0)
    la = next_clip(store, a, cfg)
    rate(store, a, la.assignment_id, cfg=cfg)
    reopen(store, a, la.assignment_id, edit_minutes=10, lease_minutes=30)
    set_active(store, "edith", False)
    (late,) = add_people(store, 1, prefix="late")
    assert next_clip(store, late, cfg) is None and n_done(store, clip) == 1
