"""Broken needs no scores (one rule for the server check and the player), one watched rounding, broken
reports in the flags, and the face box found once at import for the mouth zoom."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from annotate_app.accounts import add_annotator
from annotate_app.assign import AssignConfig, clip_view, next_clip
from annotate_app.submit import CandidateScore, submit_clip
from annotate_app.web.player import mouth_box, problems, required_percent, watched_percent
from storage import Annotator, Candidate, CandidateStatus, Rating
from storage.models import BrokenReport
from tests.fixtures.annotate_ws import rating_workspace


def _draft(frac: float, broken=(), scores=("A", "B")) -> dict:
    return {"scores": {s: {"alignment": 3, "fidelity": 4} for s in scores}, "broken": {s: True for s in broken},
            "comments": {}, "watched": {s: {"frac": frac, "seconds": 1.0} for s in "AB"}, "focus": 0}


def test_watched_percent_rounds_down_and_the_check_uses_it():
    assert watched_percent(0.945) == 94 and watched_percent(0.95) == 95 and watched_percent(0.29) == 29
    assert required_percent(0.95) == 95 and required_percent(0.955) == 96
    assert [m for _, m in problems(_draft(0.945), ["A", "B"], 0.95)] == [
        "A: play it to the end first (or mark it broken).", "B: play it to the end first (or mark it broken)."]
    assert problems(_draft(0.95), ["A", "B"], 0.95) == []


def test_broken_needs_neither_scores_nor_watching():
    assert problems(_draft(0.0, broken=("B",), scores=("A",)), ["A", "B"], 0.95) == [
        ("A", "A: play it to the end first (or mark it broken).")]
    assert problems(_draft(1.0, broken=("B",), scores=("A",)), ["A", "B"], 0.95) == []
    assert problems(_draft(1.0, scores=("A",)), ["A", "B"], 0.95) == [("B", "B: give Sync and Fidelity.")]


def test_a_scoreless_broken_report_is_stored_flags_and_is_counted(tmp_path):
    from annotate_app.stats.report import stats_frames

    ws = rating_workspace(tmp_path / "ws", clips=1)
    store = ws.open_store()
    try:
        add_annotator(store, "r1")
        with store.session() as s:
            me = s.scalar(select(Annotator.id).where(Annotator.name == "r1"))
        lease = next_clip(store, me, AssignConfig())
        view = clip_view(store, me, lease.assignment_id)
        a, b, c = (s.candidate_pk for s in view.slots)
        answers = [CandidateScore(a, 2, 3), CandidateScore(b, None, None, "black", broken=True, seconds_watched=0.0),
                   CandidateScore(c, 4, 5, broken=True)]
        assert submit_clip(store, me, lease.assignment_id, answers).stored == 3
        assert submit_clip(store, me, lease.assignment_id, answers).already  # a second identical submit
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Rating)) == 2  # b has no scores: no rating
            rep = s.scalars(select(BrokenReport)).one()
            assert (rep.candidate_pk, rep.comment) == (b, "black")
            status = {pk: st for pk, st in s.execute(select(Candidate.id, Candidate.status))}
        assert status == {a: CandidateStatus.ready, b: CandidateStatus.flagged, c: CandidateStatus.flagged}
        flagged = stats_frames(store, overlap=1)["flagged"]
        with store.session() as s:
            ids = dict(s.execute(select(Candidate.id, Candidate.candidate_id)).all())
        got = {r.candidate_id: (r.flagged_by, r.ratings, r.comments) for r in flagged.itertuples()}
        assert got == {ids[b]: (1, 1, ["black"]), ids[c]: (1, 1, [])}
    finally:
        store.dispose()


def test_face_box_of_a_portrait_video_and_the_lips_box(tmp_path):
    from PIL import Image

    from curation.face_box import face_box
    from tests.fixtures.eval_media import make_coded_video
    from tests.fixtures.media import make_png

    face = np.asarray(Image.open(make_png(tmp_path / "f.png", size=256)).convert("RGB"))
    video = make_coded_video(tmp_path / "f.mp4", frames=30, base=face, dim=0.7)
    box = [float(v) for v in face_box(video).split()]
    assert len(box) == 4
    x0, y0, x1, y1 = box
    # the drawn portrait's face is centred and large; Haar's box sits on it (checked by eye once: ~0.2-0.8)
    assert 0.1 < x0 < 0.4 and 0.6 < x1 < 0.9 and 0.05 < y0 < 0.45 and 0.45 < y1 < 0.95, box
    assert face_box(tmp_path / "missing.mp4") == ""
    blank = make_coded_video(tmp_path / "blank.mp4", frames=10)  # a white frame: no face
    assert face_box(blank) == ""
    lips = mouth_box(box, (1 / 3, 2 / 3, 2 / 3, 1))
    w, h = x1 - x0, y1 - y0
    assert lips == [round(v, 4) for v in (x0 + 0.2 * w, y0 + 0.6 * h, x1 - 0.2 * w, min(1.0, y1 + 0.05 * h))]
    assert mouth_box(None, (0.1, 0.2, 0.3, 0.4)) == [0.1, 0.2, 0.3, 0.4]
