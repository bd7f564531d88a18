"""Bad ratings input: one clear error naming file, row and column, and nothing written."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures.pairs_data import rating, scores, write_ratings

GOOD = scores("c1", "x", (5, 5), (4, 4)) + scores("c1", "y", (1, 1), (2, 2))


def run_bad(cli, tmp_path, rows, **kw):
    path = write_ratings(tmp_path / "bad.parquet", rows, **kw)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = cli("build-pairs", "--ratings", path, "--out", out_dir / "p.parquet")
    assert r.exit_code == 1
    assert list(out_dir.iterdir()) == []  # nothing written, not even a temp file
    return r.output.strip()


def test_score_outside_range(cli, tmp_path):
    rows = GOOD + [rating("c1", "z", "a0", 3, 6)]
    msg = run_bad(cli, tmp_path, rows)
    assert msg == f"Error: {tmp_path / 'bad.parquet'}, row 5, column 'fidelity': 6 is not an integer 1-5."


def test_zero_score(cli, tmp_path):
    rows = [rating("c1", "z", "a0", 0, 3)] + GOOD
    assert "row 1, column 'alignment': 0 is not an integer 1-5" in run_bad(cli, tmp_path, rows)


def test_fractional_score_in_float_column(cli, tmp_path):
    path = tmp_path / "bad.parquet"
    table = pa.table({"clip_id": ["c", "c"], "candidate_id": ["c:x", "c:y"], "method": ["x", "y"],
                      "annotator_id": ["a", "a"], "alignment": [3.0, 2.5], "fidelity": [3.0, 3.0]})
    pq.write_table(table, path)
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 1 and "row 2, column 'alignment': 2.5 is not an integer 1-5" in r.output


def test_duplicate_candidate_annotator(cli, tmp_path):
    rows = GOOD + [rating("c1", "x", "a1", 3, 3)]  # a1 rated c1:x at row 2 already
    msg = run_bad(cli, tmp_path, rows)
    assert msg.endswith("row 5, column 'annotator_id': duplicate rating of 'c1:x' by 'a1' (also row 2).")


def test_duplicate_among_many_raters(cli, tmp_path):
    """Five ratings of one candidate (beyond the 3-rating shortcut): settled by the exact check."""
    rows = [rating("c", "x", a, 3, 3) for a in ("a", "b", "c", "d", "b")] + scores("c", "y", (1, 1))
    assert "row 5, column 'annotator_id': duplicate rating of 'c:x' by 'b' (also row 2)" in run_bad(
        cli, tmp_path, rows
    )


def test_five_distinct_raters_are_fine(cli, tmp_path):
    rows = [rating("c", "x", a, 5, 5) for a in "abcde"] + scores("c", "y", (1, 1))
    path = write_ratings(tmp_path / "ok.parquet", rows)
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "p.parquet").column("winner_raters").to_pylist() == [5]


def test_missing_column(cli, tmp_path):
    msg = run_bad(cli, tmp_path, GOOD, columns=["clip_id", "candidate_id", "method", "annotator_id", "alignment"])
    assert "column 'fidelity': missing column(s) fidelity" in msg


def test_empty_cell(cli, tmp_path):
    rows = GOOD + [rating("c1", "z", None, 3, 3)]
    assert "row 5, column 'annotator_id': empty value" in run_bad(cli, tmp_path, rows)


def test_candidate_under_two_clips(cli, tmp_path):
    rows = GOOD + [dict(rating("c2", "x", "a5", 3, 3), candidate_id="c1:x")]
    msg = run_bad(cli, tmp_path, rows)
    assert "row 5, column 'clip_id': candidate 'c1:x' is listed under clip 'c2'" in msg
    assert "under clip 'c1' (method 'x') at row 1" in msg


def test_candidate_with_two_videos(cli, tmp_path):
    """The video is part of the candidate's key: a path that changes between its rows is an error."""
    rows = GOOD + [rating("c1", "x", "a5", 3, 3, video="c1/other.mp4")]
    msg = run_bad(cli, tmp_path, rows)
    assert msg.endswith(
        "row 5, column 'video': candidate 'c1:x' has video 'c1/other.mp4' here and 'c1/x.mp4' at row 1; "
        "every rating of a candidate must name the same video."
    )


def test_candidate_with_video_on_some_rows_only(cli, tmp_path):
    rows = [rating("c1", "x", "a0", 5, 5, video=None)] + GOOD[1:]
    msg = run_bad(cli, tmp_path, rows)
    assert "row 2, column 'video': candidate 'c1:x' has video 'c1/x.mp4' here and no video at row 1" in msg


def test_not_parquet(cli, tmp_path):
    path = tmp_path / "r.parquet"
    path.write_text("clip_id,candidate_id\n")
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 1 and "cannot be read as Parquet" in r.output
    assert not (tmp_path / "p.parquet").exists()


def test_no_pairs_is_an_error(cli, tmp_path):
    msg = run_bad(cli, tmp_path, GOOD[:2])  # one candidate only
    assert "no pairs" in msg


def test_failed_write_leaves_nothing(cli, tmp_path, monkeypatch):
    """The Parquet writer fails half-way: no manifest, no card, no temp file."""
    path = write_ratings(tmp_path / "r.parquet", GOOD)
    out_dir = tmp_path / "out"

    def boom(table, where, **kw):
        with open(where, "wb") as f:
            f.write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        cli("build-pairs", "--ratings", path, "--out", out_dir / "p.parquet")
    assert list(out_dir.iterdir()) == []


def test_failed_versioned_write_leaves_nothing(sqlite_workspace, cli, tmp_path, monkeypatch):
    path = write_ratings(tmp_path / "r.parquet", GOOD)

    def boom(table, where, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError):
        cli("build-pairs", "-w", sqlite_workspace.root, "--ratings", path)
    assert list(sqlite_workspace.path("manifests").iterdir()) == []


def test_bad_flags(cli, tmp_path):
    path = write_ratings(tmp_path / "r.parquet", GOOD)
    r = cli("build-pairs", "--ratings", path, "--dry-run", "--weights", "alignment=1")
    assert r.exit_code == 2 and "give both alignment and fidelity" in r.output
    r = cli("build-pairs", "--ratings", path, "--dry-run", "--min-margin", "-1")
    assert r.exit_code == 2 and "min_margin must be a finite number >= 0. Got -1.0" in r.output


def test_no_ratings_yet(sqlite_workspace, cli, tmp_path):
    r = cli("build-pairs", "-w", sqlite_workspace.root)
    assert r.exit_code == 1 and "No ratings in the workspace yet" in r.output
    path = write_ratings(tmp_path / "empty.parquet", [])
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 1 and "no ratings in the file" in r.output
