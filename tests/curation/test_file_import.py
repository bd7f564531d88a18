"""`curate import candidates|ratings` and `curate export ratings`: contracts, atomicity, bad input."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from curation.file_import import import_candidates, import_ratings
from storage import Candidate, CandidateStatus, Rating
from storage.errors import CurateError
from storage.export import RATINGS_CONTRACT, export_ratings, status_counts
from tests.fixtures.media import make_video


@pytest.fixture
def videos(workspace, sample_manifest):
    """Two candidate videos per sample clip: 'good' (1 s with audio) and 'silent' (0.6 s, no audio)."""
    d = workspace.path("media", "cands")
    rows = []
    for i, clip in enumerate(["sample-001", "sample-002", "sample-003"]):
        make_video(d / f"{clip}-good.mp4", seconds=1.0, fps=25, size=(64, 48), seed=i)
        make_video(d / f"{clip}-silent.mp4", seconds=0.6, fps=10, size=(32, 32), audio=False, seed=i)
        rows += [(clip, "good", f"{clip}-good.mp4"), (clip, "silent", f"{clip}-silent.mp4")]
    pd.DataFrame(rows, columns=["clip_id", "method", "video"]).to_csv(d / "cands.csv", index=False)
    return d / "cands.csv"


def _ratings_csv(path, rows, header=("candidate_id", "annotator_id", "alignment", "fidelity")):
    pd.DataFrame(rows, columns=list(header)).to_csv(path, index=False)
    return path


def _ratings(ws) -> list[tuple]:
    store = ws.open_store()
    try:
        with store.session() as s:
            return sorted((r.candidate_pk, r.annotator_pk, r.alignment, r.fidelity) for r in s.scalars(select(Rating)))
    finally:
        store.dispose()


def test_import_candidates_probes_and_is_idempotent(workspace, videos):
    rep = import_candidates(workspace, videos)
    assert (rep.added, rep.unchanged) == (6, 0)
    store = workspace.open_store()
    with store.session() as s:
        good = s.scalar(select(Candidate).where(Candidate.candidate_id == "sample-001:good"))
        silent = s.scalar(select(Candidate).where(Candidate.candidate_id == "sample-001:silent"))
        assert (good.fps, good.frame_count, good.width, good.height, good.has_audio) == (25.0, 25, 64, 48, True)
        assert good.duration == pytest.approx(1.0)
        assert (silent.fps, silent.frame_count, silent.width, silent.has_audio) == (10.0, 6, 32, False)
        assert good.status == CandidateStatus.ready and len(good.sha256) == 64
    store.dispose()
    assert import_candidates(workspace, videos).unchanged == 6


def test_import_candidates_bad_input(workspace, videos):
    d = videos.parent
    (d / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video")
    cases = {
        "unknown_clip.csv": ([("nope", "good", "sample-001-good.mp4")], ("row 1", "'clip_id'", "unknown clip_id 'nope'")),
        "bad_video.csv": ([("sample-001", "x", "bad.mp4")], ("row 1", "'video'", "does not decode")),
        "escape.csv": ([("sample-001", "x", "../../../../etc/passwd")], ("row 1", "'video'", "outside")),
        "repeat.csv": (
            [("sample-001", "y", "sample-001-good.mp4"), ("sample-001", "y", "sample-002-good.mp4")],
            ("row 2", "repeats row 1"),
        ),
    }
    for name, (rows, frags) in cases.items():
        pd.DataFrame(rows, columns=["clip_id", "method", "video"]).to_csv(d / name, index=False)
        with pytest.raises(CurateError) as e:
            import_candidates(workspace, d / name)
        for f in frags:
            assert f in str(e.value)
    store = workspace.open_store()
    with store.session() as s:
        assert s.scalars(select(Candidate)).all() == []
    store.dispose()


def test_ratings_round_trip_through_export(workspace, videos, tmp_path):
    import_candidates(workspace, videos)
    src = _ratings_csv(
        tmp_path / "r.csv",
        [("sample-001:good", "ann1", 5, 4), ("sample-001:silent", "ann1", 1, 2), ("sample-001:good", "ann2", "4", "4.0")],
    )
    rep = import_ratings(workspace, src)
    assert (rep.added, rep.unchanged) == (3, 0)
    assert import_ratings(workspace, src).unchanged == 3
    store = workspace.open_store()
    out, n = export_ratings(store, tmp_path / "out" / "ratings.parquet")
    counts = status_counts(store, overlap=2)
    store.dispose()
    assert n == 3
    df = pd.read_parquet(out)
    assert list(df.columns[:7]) == ["rating_id", *RATINGS_CONTRACT]
    got = sorted(zip(df.candidate_id, df.annotator_id, df.alignment, df.fidelity, df.method))
    assert got == [
        ("sample-001:good", "ann1", 5, 4, "good"),
        ("sample-001:good", "ann2", 4, 4, "good"),
        ("sample-001:silent", "ann1", 1, 2, "silent"),
    ]
    assert str(df.alignment.dtype) == "int8" and df.video.str.endswith(".mp4").all()
    assert str(df.created_at.dtype).startswith("datetime64") and df.created_at.dt.tz is not None
    assert pq.read_metadata(out).num_rows == 3
    assert not list(out.parent.glob("*.tmp")), "no temp file left behind"
    # 6 ready candidates x k=2 = 12 needed; good has 2 (capped at 2), silent has 1 -> 3 done
    assert counts["ratings_needed"] == 12 and counts["ratings_done_toward_overlap"] == 3
    assert counts["candidates_fully_rated"] == 1 and counts["clips_fully_rated"] == 0
    assert counts["progress"] == pytest.approx(0.25)
    # re-import through the export file itself: the export is a valid import
    assert import_ratings(workspace, out).unchanged == 3


def test_ratings_by_clip_and_method_and_replace(workspace, videos, tmp_path):
    import_candidates(workspace, videos)
    hdr = ("clip_id", "method", "annotator_id", "alignment", "fidelity")
    import_ratings(workspace, _ratings_csv(tmp_path / "a.csv", [("sample-002", "good", "bob", 3, 3)], hdr))
    changed = _ratings_csv(tmp_path / "b.csv", [("sample-002", "good", "bob", 2, 5)], hdr)
    with pytest.raises(CurateError, match="already rated 'sample-002:good' \\(3, 3\\), this row says \\(2, 5\\)"):
        import_ratings(workspace, changed)
    assert [r[2:] for r in _ratings(workspace)] == [(3, 3)]
    assert import_ratings(workspace, changed, replace=True).updated == 1
    assert [r[2:] for r in _ratings(workspace)] == [(2, 5)]


@pytest.mark.parametrize(
    "rows,frags",
    [
        ([("sample-001:good", "a", 6, 3)], ("row 1", "'alignment'", "6 is outside 1-5")),
        ([("sample-001:good", "a", 3, 0)], ("row 1", "'fidelity'", "0 is outside 1-5")),
        ([("sample-001:good", "a", 3, 2.5)], ("row 1", "'fidelity'", "not an integer")),
        ([("sample-001:good", "a", "x", 2)], ("row 1", "'alignment'", "not an integer")),
        ([("sample-001:good", "a", 3, 3), ("nope:good", "a", 3, 3)], ("row 2", "'candidate_id'", "unknown candidate 'nope:good'")),
        ([("sample-001:good", "a", 3, 3), ("sample-001:good", "a", 4, 4)], ("row 2", "duplicate rating")),
    ],
)
def test_bad_ratings_leave_store_unchanged(workspace, videos, tmp_path, rows, frags):
    import_candidates(workspace, videos)
    import_ratings(workspace, _ratings_csv(tmp_path / "ok.csv", [("sample-003:good", "z", 2, 2)]))
    before = _ratings(workspace)
    with pytest.raises(CurateError) as e:
        import_ratings(workspace, _ratings_csv(tmp_path / "bad.csv", rows))
    for f in frags:
        assert f in str(e.value)
    assert _ratings(workspace) == before


def test_ratings_file_needs_a_candidate_key(workspace, videos, tmp_path):
    import_candidates(workspace, videos)
    p = _ratings_csv(tmp_path / "r.csv", [("a", 3, 3)], ("annotator_id", "alignment", "fidelity"))
    with pytest.raises(CurateError, match="needs a candidate_id column, or clip_id and method"):
        import_ratings(workspace, p)


@pytest.mark.parametrize(("cell", "message"), [
    ("\u0663", "'\u0663' is not an integer."),  # an Arabic-Indic three: float() would read 3
    ("1e0", "'1e0' is not an integer."),
    (True, "True is not an integer 1-5."),  # a JSON bool is a value, not a missing score
    ("", "missing score."),
])
def test_score_cells_hold_ascii_numbers_only(cell, message):
    from curation.file_import import parse_score
    from storage.errors import CurateError

    with pytest.raises(CurateError) as e:
        parse_score(cell, "r.csv, row 2, column 'alignment'")
    assert str(e.value) == f"r.csv, row 2, column 'alignment': {message}"
    assert parse_score(" 4 ", "x") == 4 and parse_score("3.0", "x") == 3 and parse_score(5, "x") == 5
