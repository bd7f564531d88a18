"""Refused submits (released, failed candidate, late on a full clip), the broken rule shared by
submit and `curate import ratings`, and `curate export ratings` choosing its format by suffix.

SQLite and PostgreSQL (the ``workspace`` fixture); after every refusal the store's row counts, statuses and the
annotator's draft are what they were.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from annotate_app import drafts
from annotate_app.assign import AssignConfig, clip_view, next_clip, release
from annotate_app.submit import CandidateScore, SubmitError, submit_clip
from curation.file_import import import_ratings
from storage import Annotator, Assignment, Candidate, CandidateStatus, Rating
from storage.export import RATINGS_SCHEMA
from storage.models import ClipDraft, ClipProgress, RatingRevision
from tests.fixtures.annotate_data import add_clips, add_people

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
K1 = AssignConfig(overlap=1, lease_minutes=10, gold_rate=0.0)


@pytest.fixture
def store(workspace):
    s = workspace.open_store()
    yield s
    s.dispose()


def _snapshot(store) -> dict:
    """Row counts of every table a submit writes, plus the statuses and progress it changes."""
    with store.session() as s:
        counts = {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                  for m in (Rating, Assignment, ClipDraft, ClipProgress, RatingRevision, Annotator, Candidate)}
        counts["assignment_status"] = sorted((a.id, a.status.value) for a in s.scalars(select(Assignment)))
        counts["candidate_status"] = sorted((c.id, c.status.value) for c in s.scalars(select(Candidate)))
        counts["n_done"] = sorted((p.clip_pk, p.n_done) for p in s.scalars(select(ClipProgress)))
    return counts


def _scores(store, me, lease, a=4, f=3):
    view = clip_view(store, me, lease.assignment_id)
    return [CandidateScore(sl.candidate_pk, a, f, seconds_watched=1.0) for sl in view.slots]


def _with_draft(store, me, lease) -> tuple[dict, list[str]]:
    """Save a draft for the lease (as the page does on every change) and return it as stored."""
    labels = [sl.label for sl in clip_view(store, me, lease.assignment_id).slots]
    draft = drafts.empty()
    for label in labels:
        draft["scores"][label] = {"alignment": 2, "fidelity": 5}
    assert drafts.save(store, me, lease.assignment_id, draft, labels)
    return drafts.load(store, me, lease.assignment_id, labels), labels


def _refused(store, me, lease, scores, match, now=None) -> None:
    draft, labels = _with_draft(store, me, lease)
    before = _snapshot(store)
    with pytest.raises(SubmitError, match=match):
        submit_clip(store, me, lease.assignment_id, scores, now=now, cfg=K1)
    assert _snapshot(store) == before
    assert drafts.load(store, me, lease.assignment_id, labels) == draft  # the annotator's answers are kept


def test_submit_on_released_assignment_is_refused(store):
    add_clips(store, 1)
    (me,) = add_people(store, 1)
    lease = next_clip(store, me, K1)
    scores = _scores(store, me, lease)
    _with_draft(store, me, lease)
    assert release(store, me, lease.assignment_id)
    before = _snapshot(store)
    with pytest.raises(SubmitError, match="no longer yours"):
        submit_clip(store, me, lease.assignment_id, scores, cfg=K1)
    assert _snapshot(store) == before
    assert before["ratings"] == 0 and before["clip_drafts"] == 1


@pytest.mark.parametrize("status", [CandidateStatus.failed, CandidateStatus.pending])
def test_submit_with_a_candidate_that_is_not_rateable_is_refused(store, status):
    """The page showed three videos; one failed since. Its rating is refused, the other two can be stored."""
    add_clips(store, 1)
    (me,) = add_people(store, 1)
    lease = next_clip(store, me, K1)
    scores = _scores(store, me, lease)
    with store.session() as s:
        s.get(Candidate, scores[1].candidate_pk).status = status
    _refused(store, me, lease, scores, f"candidate {scores[1].candidate_pk} is no longer shown for rating "
                                       f"\\(it is {status.value}\\)")
    kept = [scores[0], scores[2]]
    assert submit_clip(store, me, lease.assignment_id, kept, cfg=K1).stored == 2
    assert _snapshot(store)["ratings"] == 2


def test_late_submit_on_a_clip_others_completed_is_refused(store):
    """k = 1: a's lease lapses at T0+10; b takes the clip at T0+11 and submits; a's submit at T0+13 would be a
    second rating of a k = 1 clip."""
    add_clips(store, 1)
    a, b = add_people(store, 2)
    la = next_clip(store, a, K1, now=T0)
    late = _scores(store, a, la)
    lb = next_clip(store, b, K1, now=T0 + timedelta(minutes=11))
    assert lb.clip_pk == la.clip_pk
    submit_clip(store, b, lb.assignment_id, _scores(store, b, lb), now=T0 + timedelta(minutes=12), cfg=K1)
    _refused(store, a, la, late, "lease on this clip expired", now=T0 + timedelta(minutes=13))
    snap = _snapshot(store)
    assert (snap["ratings"], snap["n_done"]) == (3, [(la.clip_pk, 1)])


def test_late_submit_while_another_lease_holds_the_slot_is_refused(store):
    add_clips(store, 1)
    a, b = add_people(store, 2)
    la = next_clip(store, a, K1, now=T0)
    next_clip(store, b, K1, now=T0 + timedelta(minutes=11))  # b holds the only slot until T0+21
    _refused(store, a, la, _scores(store, a, la), "lease on this clip expired", now=T0 + timedelta(minutes=12))


def test_late_submit_with_room_left_is_stored(store):
    """Nobody took the slot while a's lease lay expired: the work is stored and counts toward k."""
    add_clips(store, 1)
    (a,) = add_people(store, 1)
    la = next_clip(store, a, K1, now=T0)
    got = submit_clip(store, a, la.assignment_id, _scores(store, a, la), now=T0 + timedelta(hours=3), cfg=K1)
    assert (got.stored, got.already) == (3, False)
    assert _snapshot(store)["n_done"] == [(la.clip_pk, 1)]


def test_late_submit_on_a_gold_clip_is_stored(store):
    """Gold clips have no cap: every annotator should meet them."""
    add_clips(store, 1, gold={0})
    a, b = add_people(store, 2)
    gold = AssignConfig(overlap=1, lease_minutes=10, gold_rate=1.0)
    la = next_clip(store, a, gold, now=T0)
    lb = next_clip(store, b, gold, now=T0 + timedelta(minutes=11))
    submit_clip(store, b, lb.assignment_id, _scores(store, b, lb), now=T0 + timedelta(minutes=12), cfg=gold)
    got = submit_clip(store, a, la.assignment_id, _scores(store, a, la), now=T0 + timedelta(minutes=13), cfg=gold)
    assert got.stored == 3 and _snapshot(store)["ratings"] == 6


def test_report_broken_rule_by_hand():
    cases = [
        (CandidateStatus.ready, True, CandidateStatus.flagged),
        (CandidateStatus.ready, False, CandidateStatus.ready),
        (CandidateStatus.flagged, False, CandidateStatus.flagged),  # "not broken" never clears the flag
        (CandidateStatus.failed, True, CandidateStatus.failed),
        (CandidateStatus.pending, True, CandidateStatus.pending),
    ]
    for before, broken, after in cases:
        cand = Candidate(status=before)
        cand.report_broken(broken)
        assert cand.status == after, (before, broken)


def _statuses(store) -> dict[str, str]:
    with store.session() as s:
        return {c.candidate_id: c.status.value for c in s.scalars(select(Candidate))}


def test_import_flags_broken_like_submit(workspace, store, tmp_path):
    """The same answers through the app (one clip) and through `import ratings` (the other) give the same
    candidate statuses: broken flags a ready candidate, a later "not broken" does not clear it."""
    add_clips(store, 2)
    a, b = add_people(store, 2, prefix="app")
    cfg = AssignConfig(overlap=2, gold_rate=0.0)
    with store.session() as s:
        methods = {c.id: c.method for c in s.scalars(select(Candidate))}
    for me, broken in ((a, {"still"}), (b, {"lipsync"})):
        lease = next_clip(store, me, cfg)
        view = clip_view(store, me, lease.assignment_id)
        submit_clip(store, me, lease.assignment_id, [
            CandidateScore(sl.candidate_pk, 3, 3, broken=methods[sl.candidate_pk] in broken, seconds_watched=1.0)
            for sl in view.slots])
    app_clip = view.clip_id  # both were handed the same clip (depth first)
    other = ({"c0000", "c0001"} - {app_clip}).pop()
    path = tmp_path / "r.csv"
    rows = [(f"{other}:{m}", name, "true" if m in broken else "false")
            for name, broken in (("imp00", {"still"}), ("imp01", {"lipsync"}))
            for m in ("still", "lipsync", "lipsync_offset")]
    path.write_text("candidate_id,annotator_id,alignment,fidelity,broken\n"
                    + "".join(f"{c},{n},3,3,{br}\n" for c, n, br in rows))
    import_ratings(workspace, path)
    by_method = {}
    for cid, st in _statuses(store).items():
        clip, method = cid.split(":")
        by_method.setdefault(clip, {})[method] = st
    assert by_method[other] == by_method[app_clip] == {"still": "flagged", "lipsync": "flagged",
                                                       "lipsync_offset": "ready"}


def test_import_replace_with_broken_flags(workspace, store, tmp_path):
    add_clips(store, 1)
    path = tmp_path / "r.csv"
    path.write_text("candidate_id,annotator_id,alignment,fidelity,broken\nc0000:still,x,3,3,false\n")
    import_ratings(workspace, path)
    assert _statuses(store)["c0000:still"] == "ready"
    path.write_text("candidate_id,annotator_id,alignment,fidelity,broken\nc0000:still,x,1,1,true\n")
    import_ratings(workspace, path, replace=True)
    assert _statuses(store)["c0000:still"] == "flagged"


def _rated_workspace(store):
    add_clips(store, 1)
    (me,) = add_people(store, 1)
    lease = next_clip(store, me, K1)
    view = clip_view(store, me, lease.assignment_id)
    comments = ["=HYPERLINK(\"http://x\",\"y\")", "-2 frames off", "fine"]
    submit_clip(store, me, lease.assignment_id, [
        CandidateScore(sl.candidate_pk, 4, 2, comment=c, seconds_watched=1.5) for sl, c in zip(view.slots, comments)])


def test_export_ratings_csv_is_csv_and_formula_safe(cli, workspace, store, tmp_path):
    _rated_workspace(store)
    out = tmp_path / "r.csv"
    r = cli("export", "ratings", "-w", workspace.root, "--out", out)
    assert r.exit_code == 0, r.output
    assert not out.read_bytes().startswith(b"PAR1")
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == RATINGS_SCHEMA.names
    assert sorted(r["comment"] for r in rows) == ["'-2 frames off", "'=HYPERLINK(\"http://x\",\"y\")", "fine"]
    assert {(r["alignment"], r["fidelity"], r["seconds_watched"], r["broken"]) for r in rows} == {
        ("4", "2", "1.5", "False")}
    r = cli("export", "ratings", "-w", workspace.root, "--out", tmp_path / "R.CSV")  # the suffix, any case
    assert r.exit_code == 0 and (tmp_path / "R.CSV").read_text() == out.read_text()


def test_export_ratings_parquet_and_other_suffixes(cli, workspace, store, tmp_path):
    _rated_workspace(store)
    r = cli("export", "ratings", "-w", workspace.root, "--out", tmp_path / "r.parquet")
    assert r.exit_code == 0, r.output
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.schema.names == RATINGS_SCHEMA.names and table.num_rows == 3
    assert sorted(table.column("comment").to_pylist())[1] == "=HYPERLINK(\"http://x\",\"y\")"  # typed data as is
    before = _snapshot(store)
    for name in ("r.txt", "r.xlsx", "ratings"):
        r = cli("export", "ratings", "-w", workspace.root, "--out", tmp_path / name)
        assert _snapshot(store) == before
        assert r.exit_code == 1 and "end the name in .parquet or .csv" in r.output, r.output
        assert not (tmp_path / name).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("r")) == ["r.parquet"]
