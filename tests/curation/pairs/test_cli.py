"""`curate build-pairs` end to end on a workspace (SQLite and PostgreSQL): versions, metadata, card, loaders."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storage.parquet import read_parquet_metadata
from tests.fixtures.pairs_data import scores, write_ratings
from tests.fixtures.pairs_workspace import populate


@pytest.fixture
def rated(workspace, sample_manifest):
    populate(workspace)
    return workspace


def test_build_pairs_writes_versions_and_metadata(rated, cli):
    ws = rated
    r1 = cli("build-pairs", "-w", ws.root, "--min-margin", "1")
    assert r1.exit_code == 0, r1.output
    v1 = ws.path("manifests", "pairs-v0001.parquet")
    assert f"wrote 1 pairs from 1 clips to {v1}" in r1.output
    rows = pq.read_table(v1).to_pylist()
    assert [(r["winner_candidate_id"], r["loser_candidate_id"], r["margin"]) for r in rows] == [
        ("sample-001:good", "sample-001:bad", 3.333334)
    ]
    row = rows[0]
    # Media come from the store: absolute paths of the ingested clip and the candidates.
    assert row["image"] == str(ws.path("media", "sample", "sample-001.png"))
    assert row["audio"] == str(ws.path("media", "sample", "sample-001.wav"))
    assert row["prompt"] == "A person talking to the camera."
    assert row["winner_video"] == str(ws.path("media", "candidates", "sample-001-good.mp4"))
    meta = read_parquet_metadata(v1)
    assert meta["strategy"] == "best-vs-worst" and meta["min_margin"] == 1.0 and meta["aggregate"] == "mean"
    assert meta["weights"] == {"alignment": 0.5, "fidelity": 0.5}
    assert meta["manifest_version"] == 1 and meta["tool_version"] == "0.1.0" and len(meta["source_sha256"]) == 64
    assert meta["counts"]["pairs"] == 1 and meta["counts"]["excluded_broken"] == 1
    card = ws.path("manifests", "pairs-v0001.md").read_text()
    assert "| pairs | 1 |" in card and "| excluded: marked broken by an annotator | 1 |" in card
    assert "| [3, 3.5) | 1 |" in card and "| good | 2 | " in card

    # A second run never overwrites: v0002, same ratings hash; a different strategy, more pairs.
    r2 = cli("build-pairs", "-w", ws.root, "--strategy", "better-vs-worse", "--min-margin", "0")
    assert r2.exit_code == 0, r2.output
    v2 = ws.path("manifests", "pairs-v0002.parquet")
    meta2 = read_parquet_metadata(v2)
    assert meta2["manifest_version"] == 2 and meta2["source_sha256"] == meta["source_sha256"]
    # sample-001: 3 pairs (all distinct); sample-002: good beats mid and bad (tied pair not formed): 2.
    assert pq.read_metadata(v2).num_rows == 5
    assert pq.read_table(v1).num_rows == 1  # v0001 untouched


def test_dry_run_writes_nothing(rated, cli):
    r = cli("build-pairs", "-w", rated.root, "--dry-run")
    assert r.exit_code == 0, r.output
    assert "## Margin histogram" in r.output and "| pairs | 2 |" in r.output  # 001 and 002 at margin 0
    assert list(rated.path("manifests").iterdir()) == []
    j = cli("build-pairs", "-w", rated.root, "--dry-run", "--json", "--min-margin", "1")
    assert json.loads(j.output)["pairs"] == 1


def test_ratings_file_takes_missing_media_from_store(rated, cli, tmp_path):
    """A ratings file with only the contract columns: video and clip media are filled from the workspace."""
    from storage.export import RATINGS_CONTRACT, export_ratings

    store = rated.open_store()
    try:
        full, _ = export_ratings(store, tmp_path / "all.parquet")
    finally:
        store.dispose()
    slim = tmp_path / "slim.parquet"
    pq.write_table(pq.read_table(full, columns=RATINGS_CONTRACT + ["broken"]), slim)
    out = tmp_path / "pairs.parquet"
    r = cli("build-pairs", "-w", rated.root, "--ratings", slim, "--out", out, "--min-margin", "1")
    assert r.exit_code == 0, r.output
    (row,) = pq.read_table(out).to_pylist()
    assert row["winner_video"] == str(rated.path("media", "candidates", "sample-001-good.mp4"))
    assert row["image"] == str(rated.path("media", "sample", "sample-001.png"))
    assert read_parquet_metadata(out)["manifest_version"] is None
    assert out.with_suffix(".md").is_file()


def test_ratings_file_without_workspace(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    path = write_ratings(tmp_path / "r.parquet", scores("c", "x", (5, 5)) + scores("c", "y", (1, 1)),
                         columns=["clip_id", "candidate_id", "method", "annotator_id", "alignment", "fidelity"])
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 0, r.output
    assert "no 'video' column and there is no workspace store" in r.output
    (row,) = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert row["winner_video"] is None and row["margin"] == 4.0
    # Without --out there is nowhere to put a versioned manifest.
    r = cli("build-pairs", "--ratings", path)
    assert r.exit_code == 1 and "No workspace" in r.output


def test_existing_out_needs_force(cli, tmp_path):
    path = write_ratings(tmp_path / "r.parquet", scores("c", "x", (5, 5)) + scores("c", "y", (1, 1)))
    out = tmp_path / "p.parquet"
    assert cli("build-pairs", "--ratings", path, "--out", out).exit_code == 0
    r = cli("build-pairs", "--ratings", path, "--out", out, "--strategy", "better-vs-worse")
    assert r.exit_code == 1 and "already exists" in r.output
    assert cli("build-pairs", "--ratings", path, "--out", out, "--force").exit_code == 0


def test_manifest_loads_with_pandas_duckdb_pyarrow_datasets(cli, tmp_path):
    import duckdb
    import pandas as pd

    datasets = pytest.importorskip("datasets")
    rows = (scores("c1", "x", (5, 5)) + scores("c1", "y", (1, 1)) + scores("c2", "x", (4, 4))
            + scores("c2", "y", (2, 3)))
    path = write_ratings(tmp_path / "r.parquet", rows)
    out = tmp_path / "p.parquet"
    assert cli("build-pairs", "--ratings", path, "--out", out).exit_code == 0
    df = pd.read_parquet(out)
    assert list(df["margin"]) == [4.0, 1.5]
    assert duckdb.sql(f"SELECT count(*), sum(margin) FROM read_parquet('{out}')").fetchall() == [(2, 5.5)]
    assert pq.read_table(out).schema.field("winner_raters").type == pa.int32()
    ds = datasets.Dataset.from_parquet(str(out), cache_dir=str(tmp_path / "hf-cache"))
    assert ds.num_rows == 2 and ds[0]["winner_candidate_id"] == "c1:x"
