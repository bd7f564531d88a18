"""`curate import` never pushes a clip past k nor changes a rating without a trace.

SQLite and PostgreSQL; the store's rows are compared before and after every refusal. The workspace's
k is 3 (curate.toml default).
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from annotate_app.assign import AssignConfig, clip_view, next_clip
from annotate_app.submit import CandidateScore, submit_clip
from curation.file_import import import_candidates, import_ratings
from storage.errors import CurateError
from tests.fixtures.annotate_data import add_clips, add_people

TABLES = ("ratings", "rating_revisions", "assignments", "clip_progress", "annotators")
CFG = AssignConfig(overlap=3, gold_rate=0.0)


def rows(store):
    with store.session() as s:
        return {t: sorted(tuple(str(v) for v in r) for r in s.execute(text(f"SELECT * FROM {t}"))) for t in TABLES}


def csv(path, records):
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def rate_in_app(store, people, clip_count=1):
    """Each of ``people`` rates the one clip in the app (alignment 4, fidelity 3)."""
    for me in people:
        lease = next_clip(store, me, CFG)
        view = clip_view(store, me, lease.assignment_id)
        submit_clip(store, me, lease.assignment_id, [CandidateScore(sl.candidate_pk, 4, 3) for sl in view.slots])


def test_replace_over_an_app_rating_keeps_a_revision(workspace, tmp_path):
    with workspace.store() as store:
        add_clips(store, 1)
        (me,) = add_people(store, 1)
        rate_in_app(store, [me])
    f = csv(tmp_path / "r.csv", [{"candidate_id": "c0000:still", "annotator_id": "ann00", "alignment": 1,
                                  "fidelity": 5}])
    rep = import_ratings(workspace, f, replace=True)
    assert rep.updated == 1
    with workspace.store() as store, store.session() as s:
        revs = s.execute(text("SELECT alignment, fidelity FROM rating_revisions")).all()
        now = s.execute(text("SELECT r.alignment, r.fidelity FROM ratings r JOIN candidates c ON c.id = "
                             "r.candidate_pk WHERE c.candidate_id = 'c0000:still'")).all()
    assert (revs, now) == ([(4, 3)], [(1, 5)])


def test_an_app_annotators_import_on_a_full_clip_is_refused_unless_told(workspace, tmp_path):
    """k = 3: three app annotators rated the clip; a fourth app annotator's imported rating would be the
    fourth rater. Refused, rows unchanged; --over-k (over_k=True) takes it and counts it (n_done 4)."""
    with workspace.store() as store:
        (clip,) = add_clips(store, 1)
        people = add_people(store, 4)
        rate_in_app(store, people[:3])
        before = rows(store)
    f = csv(tmp_path / "r.csv", [{"candidate_id": "c0000:still", "annotator_id": "ann03", "alignment": 2,
                                  "fidelity": 2}])
    with pytest.raises(CurateError, match=r"row 1.*annotator_id.*clip 'c0000' already has 3 of its k = 3 raters; "
                                          r"a rating by app annotator 'ann03' would make 4\. Pass --over-k"):
        import_ratings(workspace, f)
    with workspace.store() as store:
        assert rows(store) == before
    assert import_ratings(workspace, f, over_k=True).added == 1
    with workspace.store() as store, store.session() as s:
        assert s.execute(text("SELECT n_done FROM clip_progress WHERE clip_pk = :c"), {"c": clip}).scalar_one() == 4


def test_an_app_annotators_import_takes_a_slot_so_the_app_does_not_overfill(workspace, tmp_path):
    """k = 3, two app raters done; ann02's rating comes in by import: it takes the third slot, so ann03 is not
    handed the clip (on main it was, and the clip ended with 4 raters)."""
    with workspace.store() as store:
        (clip,) = add_clips(store, 1)
        people = add_people(store, 4)
        rate_in_app(store, people[:2])
    f = csv(tmp_path / "r.csv", [{"candidate_id": f"c0000:{m}", "annotator_id": "ann02", "alignment": 3,
                                  "fidelity": 3} for m in ("still", "lipsync", "lipsync_offset")])
    assert import_ratings(workspace, f).added == 3
    with workspace.store() as store:
        assert next_clip(store, people[3], CFG) is None
        with store.session() as s:
            assert s.execute(text("SELECT n_done FROM clip_progress WHERE clip_pk = :c"), {"c": clip}).scalar_one() == 3


def test_imports_from_elsewhere_are_not_capped(workspace, tmp_path):
    """Annotators the import itself creates (source "import") are someone else's study: no k check."""
    with workspace.store() as store:
        add_clips(store, 1)
    f = csv(tmp_path / "r.csv", [{"candidate_id": "c0000:still", "annotator_id": f"ext{i}", "alignment": 3,
                                  "fidelity": 3} for i in range(5)])
    assert import_ratings(workspace, f).added == 5


def test_an_imported_comment_over_2000_characters_is_refused(workspace, tmp_path):
    with workspace.store() as store:
        add_clips(store, 1)
        before = rows(store)
    f = csv(tmp_path / "r.csv", [{"candidate_id": "c0000:still", "annotator_id": "ext", "alignment": 3,
                                  "fidelity": 3, "comment": "y" * 2001}])
    with pytest.raises(CurateError, match="row 1.*comment.*2001 characters long, more than 2000"):
        import_ratings(workspace, f)
    with workspace.store() as store:
        assert rows(store) == before


def test_a_candidate_imported_into_a_complete_clip_is_warned_about(workspace, cand_videos, cli):
    """sample-001 has its k = 3 app ratings; a new candidate there is never handed out: the import says so
    with the count (1 candidate, 1 clip); sample-002 is not complete, so no word about it."""
    first = cand_videos / "first.csv"
    first.write_text("clip_id,method,video\nsample-001,m1,a.mp4\nsample-002,m1,a.mp4\n")
    assert cli("import", "candidates", first, "-w", workspace.root, "--no-progress").exit_code == 0
    with workspace.store() as store:
        people = add_people(store, 3)
        for me in people:  # depth first: all three rate the same clip
            lease = next_clip(store, me, CFG)
            view = clip_view(store, me, lease.assignment_id)
            submit_clip(store, me, lease.assignment_id, [CandidateScore(sl.candidate_pk, 4, 3) for sl in view.slots])
        with store.session() as s:
            full = s.execute(text("SELECT c.clip_id FROM clip_progress q JOIN clips c ON c.id = q.clip_pk "
                                  "WHERE q.n_done = 3")).scalar_one()
    other = "sample-002" if full == "sample-001" else "sample-001"
    more = cand_videos / "more.csv"
    more.write_text(f"clip_id,method,video\n{full},m2,b.mp4\n{other},m2,b.mp4\n")
    r = cli("import", "candidates", more, "-w", workspace.root, "--no-progress")
    assert r.exit_code == 0, r.output
    assert (f"warning: 1 candidate(s) joined 1 clip(s) that already have their k = 3 ratings: the app will not "
            f"hand those clips out again, so the new candidates stay unrated there: {full} (1).") in r.output
    assert other + " (" not in r.output
    assert import_candidates(workspace, more).warnings == []  # the same file again adds nothing
