"""`curate export pairs`: a Hugging Face dataset folder and Pick-a-Pic-style columns."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from curation.pairs.export import winner_first
from tests.fixtures.pairs_data import scores, write_ratings


@pytest.fixture
def manifest(cli, tmp_path):
    """40 clips, each x (r = 5) vs y (r = 1): 40 pairs, margin 4."""
    rows = [r for i in range(40) for r in scores(f"c{i:02d}", "x", (5, 5)) + scores(f"c{i:02d}", "y", (1, 1))]
    path = write_ratings(tmp_path / "r.parquet", rows)
    out = tmp_path / "m" / "pairs-v0001.parquet"
    assert cli("build-pairs", "--ratings", path, "--out", out).exit_code == 0
    return out


def test_hf_folder_loads_with_datasets(cli, manifest, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "hf"
    r = cli("export", "pairs", manifest, "--format", "hf", "--out", out)
    assert r.exit_code == 0, r.output
    assert f"wrote 40 pairs to {out}" in r.output
    assert (out / "README.md").read_text().startswith("---\nconfigs:")
    assert "## Margin histogram" in (out / "README.md").read_text()  # the card travels along
    cache = str(tmp_path / "hf-cache")
    ds = datasets.load_dataset(str(out), split="train", cache_dir=cache)
    assert ds.num_rows == 40 and ds[0]["margin"] == 4.0 and ds[0]["winner_candidate_id"] == "c00:x"
    ds2 = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train",
                                cache_dir=cache)
    assert ds2.column_names == ds.column_names
    # Existing output: refused without --force.
    assert cli("export", "pairs", manifest, "--format", "hf", "--out", out).exit_code == 1
    assert cli("export", "pairs", manifest, "--format", "hf", "--out", out, "--force").exit_code == 0


def test_pickapic_sides_are_seeded_and_consistent(cli, manifest, tmp_path):
    out = tmp_path / "pp.parquet"
    r = cli("export", "pairs", manifest, "--format", "pickapic", "--out", out, "--seed", "7")
    assert r.exit_code == 0, r.output
    rows = pq.read_table(out).to_pylist()
    assert {"video_0", "video_1", "label_0", "caption"} <= set(rows[0])
    labels = [row["label_0"] for row in rows]
    assert 0 < sum(labels) < 40  # not always the winner on side 0
    for row in rows:
        assert row["label_0"] + row["label_1"] == 1.0
        winner = row["video_0"] if row["label_0"] == 1.0 else row["video_1"]
        assert winner.endswith("/x.mp4")  # x always wins; its side varies
        assert (row["label_0"] == 1.0) == winner_first(7, row["pair_id"])
        assert row["caption"] == ""  # no prompt in this file
    # Same seed, same sides; another seed, other sides.
    again = tmp_path / "pp2.parquet"
    cli("export", "pairs", manifest, "--format", "pickapic", "--out", again, "--seed", "7")
    assert pq.read_table(again).column("label_0").to_pylist() == labels
    cli("export", "pairs", manifest, "--format", "pickapic", "--out", tmp_path / "pp3.parquet", "--seed", "8")
    assert pq.read_table(tmp_path / "pp3.parquet").column("label_0").to_pylist() != labels


def test_not_a_manifest(cli, tmp_path):
    path = write_ratings(tmp_path / "r.parquet", scores("c", "x", (5, 5)))
    r = cli("export", "pairs", path, "--format", "pickapic", "--out", tmp_path / "o.parquet")
    assert r.exit_code == 1 and "not a pair manifest; missing column(s) pair_id" in r.output
    assert not (tmp_path / "o.parquet").exists()
