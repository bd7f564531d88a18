"""Build-pairs checks the values of a ratings file, never its footer's statistics.

Each bad file is one CurateError naming the file, the row and the column, and nothing is written.
"""

from __future__ import annotations

import struct

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import _duck
from tests.fixtures.pairs_data import rating, scores, write_ratings

GOOD = scores("c1", "x", (5, 5), (4, 4)) + scores("c1", "y", (1, 1), (2, 2))


def _lie_in_footer(path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) in the file's footer only: the data pages keep the true values."""
    assert len(old) == len(new)
    data = bytearray(path.read_bytes())
    size = struct.unpack("<I", data[-8:-4])[0]
    start = len(data) - 8 - size
    footer = bytes(data[start:-8])
    assert old in footer
    data[start:-8] = footer.replace(old, new)
    path.write_bytes(bytes(data))


def _stats(path, column: str):
    meta = pq.ParquetFile(path).metadata
    index = [meta.schema.column(i).name for i in range(meta.num_columns)].index(column)
    return meta.row_group(0).column(index).statistics


def _refused(cli, tmp_path, path) -> str:
    out_dir = tmp_path / f"out-{path.stem}"
    out_dir.mkdir()
    r = cli("build-pairs", "--ratings", path, "--out", out_dir / "p.parquet")
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert list(out_dir.iterdir()) == []  # nothing written
    return r.output.strip()


@pytest.fixture
def lying_scores(tmp_path):
    """alignment holds 9 at row 1 while the footer says max 5 (int64 statistics, patched in place)."""
    path = write_ratings(tmp_path / "lie.parquet", scores("c1", "x", (9, 5), (4, 4)) + GOOD[2:])
    _lie_in_footer(path, struct.pack("<q", 9), struct.pack("<q", 5))
    st = _stats(path, "alignment")
    assert (st.min, st.max) == (1, 5)  # the footer lies ...
    assert pq.read_table(path).column("alignment").to_pylist() == [9, 4, 1, 2]  # ... the data does not
    return path


def test_footer_saying_max_5_while_the_data_holds_9(cli, tmp_path, lying_scores):
    msg = _refused(cli, tmp_path, lying_scores)
    assert msg == f"Error: {lying_scores}, row 1, column 'alignment': 9 is not an integer 1-5."


def test_queries_read_values_not_footers(lying_scores):
    """DuckDB with its default optimizers answers max() from the footer; the connection build-pairs uses does not."""
    import duckdb

    src = f"read_parquet('{lying_scores}')"
    assert duckdb.sql(f"SELECT max(alignment) FROM {src}").fetchall() == [(5,)]  # the trap this guards against
    con = _duck.connect(threads=1)
    assert con.execute(f"SELECT max(alignment) FROM {src}").fetchall() == [(9,)]
    assert con.execute(f"SELECT count(*) FROM {src} WHERE alignment > 5").fetchall() == [(1,)]


def test_no_statistics_at_all(cli, tmp_path):
    path = tmp_path / "nostats.parquet"
    table = pq.read_table(write_ratings(tmp_path / "w.parquet", GOOD + [rating("c1", "z", "a0", 3, 7)]))
    pq.write_table(table, path, write_statistics=False)
    assert _stats(path, "fidelity") is None
    assert _refused(cli, tmp_path, path).endswith("row 5, column 'fidelity': 7 is not an integer 1-5.")


@pytest.mark.parametrize("column, row", [("alignment", 2), ("fidelity", 1)])
def test_nan_score(cli, tmp_path, column, row):
    values = {"alignment": [3.0, 4.0], "fidelity": [3.0, 2.0]}
    values[column][row - 1] = float("nan")
    table = pa.table({"clip_id": ["c", "c"], "candidate_id": ["c:x", "c:y"], "method": ["x", "y"],
                      "annotator_id": ["a", "a"], **values})
    path = tmp_path / "nan.parquet"
    pq.write_table(table, path)
    msg = _refused(cli, tmp_path, path)
    assert msg == f"Error: {path}, row {row}, column '{column}': nan is not an integer 1-5."


def test_infinite_score(cli, tmp_path):
    table = pa.table({"clip_id": ["c", "c"], "candidate_id": ["c:x", "c:y"], "method": ["x", "y"],
                      "annotator_id": ["a", "a"], "alignment": [3.0, 4.0], "fidelity": [float("-inf"), 2.0]})
    pq.write_table(table, tmp_path / "inf.parquet")
    assert "row 1, column 'fidelity': -inf is not an integer 1-5." in _refused(cli, tmp_path, tmp_path / "inf.parquet")


@pytest.mark.parametrize("value", ["", "   ", "\t"])
@pytest.mark.parametrize("column", ["clip_id", "candidate_id", "method", "annotator_id"])
def test_empty_id(cli, tmp_path, column, value):
    rows = [dict(r) for r in GOOD]
    rows[2][column] = value  # the third rating: c1:y by a0
    msg = _refused(cli, tmp_path, write_ratings(tmp_path / "r.parquet", rows))
    assert msg.endswith(f"row 3, column '{column}': empty value; every rating needs one.")


def test_id_starting_with_a_space(cli, tmp_path):
    """' a1' and 'a1' would count as two annotators (and hide a duplicate): refused, not trimmed."""
    rows = GOOD + [rating("c1", "x", " a1", 3, 3)]
    msg = _refused(cli, tmp_path, write_ratings(tmp_path / "r.parquet", rows))
    assert msg.endswith("row 5, column 'annotator_id': ' a1' is not a valid id (1-100 characters from "
                        "A-Z a-z 0-9 . _ - : @ +, starting with a letter or digit).")


@pytest.mark.parametrize(("column", "value"), [("clip_id", "c\u202e1"), ("method", "x/y"), ("annotator_id", "a" * 101),
                                               ("candidate_id", "c" * 202), ("clip_id", "c\x001")])
def test_id_rule_of_the_store(cli, tmp_path, column, value):
    """The store's id rule (storage/ids.py) holds for --ratings files too: a bidi override, a slash, 101
    characters (202 for a candidate id), a NUL byte. A 201-character candidate id is fine."""
    rows = [dict(r) for r in GOOD]
    rows[1][column] = value
    msg = _refused(cli, tmp_path, write_ratings(tmp_path / "r.parquet", rows))
    assert f"row 2, column '{column}': " in msg and "is not a valid id (1-100 characters" in msg


def test_longest_candidate_id_is_paired(cli, tmp_path):
    long = "c" * 201
    rows = [dict(r, candidate_id=long) if r["candidate_id"] == GOOD[0]["candidate_id"] else dict(r) for r in GOOD]
    path = write_ratings(tmp_path / "r.parquet", rows)
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 0, r.output


def test_first_problem_by_kind_then_row(cli, tmp_path):
    """An empty cell is reported before a blank id, a blank id before a bad score, whatever their rows."""
    rows = [rating("c1", "x", "a0", 9, 5)] + GOOD[1:] + [rating("c1", "z", "", 3, 3), rating("c1", "w", None, 3, 3)]
    msg = _refused(cli, tmp_path, write_ratings(tmp_path / "r.parquet", rows))
    assert msg.endswith("row 6, column 'annotator_id': empty value; every rating needs one.")
    msg = _refused(cli, tmp_path, write_ratings(tmp_path / "r2.parquet", rows[:5]))
    assert msg.endswith("row 5, column 'annotator_id': empty value; every rating needs one.")
