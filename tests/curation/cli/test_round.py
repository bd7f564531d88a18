"""Rounds end to end on SQLite and PostgreSQL: hand-out, generate, build-pairs, stats and `curate round`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import select

from annotate_app.assign import AssignConfig, next_clip, progress
from storage import Candidate, CandidateStatus, Clip
from storage.rounds import start_round
from tests.fixtures import annotate_data
from tests.fixtures.stats_seed import add_clips, seed, write_ratings_csv

# Round 2 of the stats seed campaign (whose clips c1..c4 are round 1):
#   clip  m1                    policy                 composite     winner
#   r2a   alice (2,2) bob (3,3)  alice (4,4) bob (5,4)  2.5 vs 4.25   policy
#   r2b   alice (4,4)            alice (4,4)            4.0 vs 4.0    tie
# policy beats m1 on (1 + 1/2) / 2 = 75 % of the clips. Bootstrap: (wins, ties) ~ Multinomial(2, (1/2, 1/2))
# gives rates 1 (p 1/4), 3/4 (1/2), 1/2 (1/4): the 95 % interval is [50, 100].
# Round 1 (tests/fixtures/stats_seed.py, gold c3 left out): m1 beats m2 on c1 (4.0 vs 2.25) and c2 (5 vs 3).
ROUND2 = [
    ("r2a:m1", "alice", 2, 2, False, ""), ("r2a:m1", "bob", 3, 3, False, ""),
    ("r2a:policy", "alice", 4, 4, False, ""), ("r2a:policy", "bob", 5, 4, False, ""),
    ("r2b:m1", "alice", 4, 4, False, ""), ("r2b:policy", "alice", 4, 4, False, ""),
]


@pytest.fixture
def two_rounds(workspace):
    from curation.file_import import import_ratings

    seed(workspace)
    store = workspace.open_store()
    try:
        start_round(store, note="policy added")
        ready = CandidateStatus.ready
        add_clips(store, {"r2a": {"m1": ready, "policy": ready}, "r2b": {"m1": ready, "policy": ready}})
    finally:
        store.dispose()
    csv = workspace.path("round2.csv")
    write_ratings_csv(csv, ROUND2)
    import_ratings(workspace, csv)
    return workspace


def test_stats_report_each_round_and_head_to_head(cli, two_rounds):
    st = json.loads(cli("stats", "--json", "-w", two_rounds.root).output)["rounds"]
    assert st["current"] == 2
    assert [(r["number"], r["note"]) for r in st["list"]] == [(1, None), (2, "policy added")]
    assert st["config"] == {"confidence": 0.95, "bootstrap_samples": 2000, "seed": 0, "include_gold": False}
    h2h = {(r["round"], r["method_a"], r["method_b"]): r for r in st["head_to_head"]}
    assert set(h2h) == {(1, "m1", "m2"), (2, "policy", "m1")}
    r2 = h2h[(2, "policy", "m1")]
    assert (r2["clips"], r2["wins"], r2["ties"], r2["losses"], r2["win_rate"]) == (2, 1, 1, 0, 0.75)
    assert (r2["low"], r2["high"]) == (0.5, 1.0)
    r1 = h2h[(1, "m1", "m2")]
    assert (r1["clips"], r1["wins"], r1["win_rate"], r1["low"], r1["high"]) == (2, 2, 1.0, 1.0, 1.0)
    methods = {(m["round"], m["method"]): m for m in st["methods"]}
    # policy's per-clip composites 4.25 and 4.0 -> mean 4.125; m1 in round 1: c1 4.0, c2 5.0 -> 4.5
    assert methods[(2, "policy")]["composite"]["mean"] == 4.125 and methods[(2, "policy")]["ratings"] == 3
    assert methods[(1, "m1")]["composite"]["mean"] == 4.5 and methods[(1, "m1")]["clips"] == 2
    # m1 alignment in round 1: c1 (4+4+3)/3, c2 5 -> 13/3; t(0.975, 1) = 12.706 makes the interval 1..5.
    assert methods[(1, "m1")]["alignment"] == {"mean": 4.3333, "low": 1.0, "high": 5.0}

    out = cli("stats", "-w", two_rounds.root).output
    assert "round 2: policy beats m1 on 75 % [50, 100] of 2 clips (1 wins, 1 ties, 0 losses)" in out
    assert "round 1: m1 beats m2 on 100 % [100, 100] of 2 clips (2 wins, 0 ties, 0 losses)" in out
    # policy per clip: alignment 4.5, 4 (t-interval 4.25 -+ 12.706 * 0.25 -> [1.07, 7.43], cut at 5);
    # fidelity 4, 4 (no spread); composite 4.25, 4 (4.125 -+ 12.706 * 0.125 -> [2.54, 5.71], cut at 5).
    assert ["2", "policy", "2", "3", "4.25", "[1.07,", "5.00]", "4.00", "[4.00,", "4.00]", "4.12", "[2.54,",
            "5.00]"] in [line.split() for line in out.splitlines()]


def test_stats_seed_option_is_deterministic(cli, two_rounds):
    a = cli("stats", "--json", "--seed", "3", "--bootstrap", "500", "-w", two_rounds.root).output
    b = cli("stats", "--json", "--seed", "3", "--bootstrap", "500", "-w", two_rounds.root).output
    assert json.loads(a)["rounds"] == json.loads(b)["rounds"]
    assert json.loads(a)["rounds"]["config"]["bootstrap_samples"] == 500


def test_build_pairs_defaults_to_the_current_round_and_pools_on_request(cli, two_rounds):
    def pairs(*args):
        r = cli("build-pairs", "-w", two_rounds.root, "--dry-run", "--json", *args)
        assert r.exit_code == 0, r.output
        return json.loads(r.output)["pairs"]

    assert pairs() == 1  # r2a: policy over m1; r2b is a tie
    assert pairs("--rounds", "1") == 1  # c1 (c2:m2 is flagged broken, c3 is gold)
    assert pairs("--rounds", "1,2") == pairs("--rounds", "all") == 2
    r = cli("build-pairs", "-w", two_rounds.root, "--dry-run", "--rounds", "3")
    assert r.exit_code == 1 and "round(s) 3 not opened yet" in r.output
    out = cli("build-pairs", "-w", two_rounds.root, "--rounds", "1-2", "--json")
    from storage.parquet import read_parquet_metadata

    assert read_parquet_metadata(json.loads(out.output)["manifest"])["rounds"] == [1, 2]


def test_build_pairs_on_a_fresh_round_says_so(cli, two_rounds):
    assert cli("round", "start", "--allow-empty", "-w", two_rounds.root).exit_code == 0
    r = cli("build-pairs", "-w", two_rounds.root, "--dry-run")
    assert r.exit_code == 1 and "No ratings in the workspace yet in round(s) 3 (--rounds chooses others)" in r.output


def test_export_ratings_carries_the_round(two_rounds, tmp_path):
    from storage.export import export_ratings

    with two_rounds.store() as store:
        path, n = export_ratings(store, tmp_path / "r2.parquet", rounds=(2,))
    df = pd.read_parquet(path)
    assert n == 6 and set(df["round"]) == {2} and str(df["round"].dtype) == "int32"


def test_export_ratings_cli_takes_rounds(cli, two_rounds, tmp_path):
    r = cli("export", "ratings", "--out", tmp_path / "all.parquet", "-w", two_rounds.root)
    assert r.exit_code == 0 and "wrote 19 ratings" in r.output  # 13 in round 1 + 6 in round 2
    r = cli("export", "ratings", "--out", tmp_path / "r1.parquet", "--rounds", "1", "-w", two_rounds.root)
    assert r.exit_code == 0 and "wrote 13 ratings" in r.output
    assert set(pd.read_parquet(tmp_path / "r1.parquet")["round"]) == {1}


def test_round_cli_start_and_list(cli, two_rounds):
    rows = json.loads(cli("round", "list", "--json", "-w", two_rounds.root).output)
    assert [(r["number"], r["clips"], r["candidates_ready"], r["ratings"], r["current"]) for r in rows] == [
        (1, 4, 6, 13, False), (2, 2, 4, 6, True)]  # c2:m2 flagged (broken)
    r = cli("round", "start", "--note", "policy-r2", "-w", two_rounds.root)
    assert r.exit_code == 0 and "round 3 started" in r.output
    r = cli("round", "start", "-w", two_rounds.root)
    assert r.exit_code == 1 and "round 3 has no clips yet" in r.output
    out = cli("round", "list", "-w", two_rounds.root).output
    assert "3 (current)" in out and "policy-r2" in out
    assert json.loads(cli("status", "--json", "-w", two_rounds.root).output)["round"] == 3
    assert "round      3 (current" in cli("status", "-w", two_rounds.root).output


def test_hand_out_serves_the_current_round_only(workspace):
    with workspace.store() as store:
        old = annotate_data.add_clips(store, 2)
        (early, me) = annotate_data.add_people(store, 2)
        cfg = AssignConfig(overlap=2, gold_rate=0.0)
        held = next_clip(store, early, cfg)  # leased in round 1, still open when round 2 starts
        start_round(store)
        (new,) = annotate_data.add_clips(store, 1, start=2)
        lease = next_clip(store, me, cfg)
        assert lease.clip_pk == new
        assert progress(store, me, 2) == {"mine": 0, "complete": 0, "clips": 1}
        with store.session() as s:  # the lease ends as "done" without ratings: enough for the hand-out
            from storage import Assignment, AssignmentStatus

            s.get(Assignment, lease.assignment_id).status = AssignmentStatus.done
        assert next_clip(store, me, cfg) is None  # round 1's open clips are not handed out any more
        resumed = next_clip(store, early, cfg)
        assert resumed.resumed and resumed.clip_pk == held.clip_pk in old  # a lease already held is kept


def test_generate_works_on_the_current_round_unless_told(cli, workspace):
    from curation.demo.media import make_sample_clips
    from curation.ingest import ingest_manifest

    manifest = make_sample_clips(workspace.path("media", "sample"), n=2, seconds=1.0, size=64)
    ingest_manifest(workspace, manifest)
    with workspace.store() as store:
        start_round(store)
    df = pd.read_csv(manifest).head(1).assign(clip_id="r2-001")
    second = manifest.with_name("round2.csv")
    df.to_csv(second, index=False)
    ingest_manifest(workspace, second)

    def candidates():
        with workspace.store() as store, store.session() as s:
            return sorted(s.execute(select(Clip.clip_id, Clip.round).join(Candidate)).all())

    r = cli("generate", "--methods", "still", "--no-progress", "-w", workspace.root)
    assert r.exit_code == 0, r.output
    assert candidates() == [("r2-001", 2)]
    r = cli("generate", "--methods", "still", "--no-progress", "--rounds", "1", "-w", workspace.root)
    assert r.exit_code == 0, r.output
    assert candidates() == [("r2-001", 2), ("sample-001", 1), ("sample-002", 1)]
    r = cli("generate", "--methods", "still", "--no-progress", "--clips", "sample-001", "--rounds", "2",
            "-w", workspace.root)
    assert r.exit_code == 1 and "not in round(s) 2" in r.output


def _dashboard_script():
    from annotate_app.web import dashboard

    dashboard.render()


def test_dashboard_shows_the_rounds(two_rounds, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from annotate_app.accounts import Account

    monkeypatch.setenv("CURATE_WORKSPACE", str(two_rounds.root))
    monkeypatch.setenv("CURATE_DB_URL", two_rounds.db_override)
    at = AppTest.from_function(_dashboard_script, default_timeout=60)
    at.session_state["account"] = Account(pk=1, name="boss", role="admin")
    at.run()
    assert not at.exception, at.exception
    assert "Rounds (current: 2)" in [s.value for s in at.subheader]
    text = "\n".join(m.value for m in at.markdown)
    assert "policy beats m1 on 75 % [50, 100] of 2 clips" in text and "m1 beats m2" not in text
    at.selectbox(key="dashboard_round").select(1).run()
    assert "m1 beats m2 on 100 % [100, 100] of 2 clips" in "\n".join(m.value for m in at.markdown)


def test_a_round_scoped_worker_claims_only_that_rounds_jobs(workspace):
    from generators import _jobs
    from storage import GenerationJob, JobStatus

    with workspace.store() as store:
        (old,) = annotate_data.add_clips(store, 1, methods=())
        start_round(store)
        (new,) = annotate_data.add_clips(store, 1, methods=(), start=1)
        with store.session() as s:
            s.add_all([GenerationJob(clip_pk=pk, method="still", status=JobStatus.pending) for pk in (old, new)])
        with store.session() as s:
            claimed = _jobs.claim_batch(s, _jobs.Scope(("still",), None, (2,)), {"still": 5}, "tok", "w")
            assert [j.clip_pk for j in claimed] == [new]
            counts = _jobs.status_counts(s, _jobs.Scope(("still",), None, (1,)))
            assert counts == {("still", "pending"): 1}


def test_gpu_worker_processes_get_the_rounds(sqlite_workspace, monkeypatch):
    import os

    from generators.runner import run_generation
    from tests.fixtures.generators_ws import REPO, configure, sample_clips

    ws = configure(sqlite_workspace, generators={"slow": {"adapter": "tests.fixtures.generators_slow:make",
                                                          "delay": 0.1}},
                   normalize={"fps": 25.0, "width": 64, "height": 64})
    from storage import GenerationJob, JobStatus

    sample_clips(ws, n=2)
    with ws.store() as store:
        with store.session() as s:  # round 1's jobs, left pending (say, by an interrupted run)
            s.add_all([GenerationJob(clip_pk=c.id, method="slow", status=JobStatus.pending)
                       for c in s.scalars(select(Clip))])
        start_round(store, allow_empty=True)
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))  # restored after
    rep = run_generation(ws, ["slow"], gpus=["0"], progress=False, rounds=(2,))
    # The worker process got --rounds 2: round 1's pending jobs are not its business.
    assert rep.done == 0
    with ws.store() as store, store.session() as s:
        assert {j.status for j in s.scalars(select(GenerationJob))} == {JobStatus.pending}
    rep = run_generation(ws, ["slow"], gpus=["0"], progress=False, rounds=(1,))
    assert rep.done == 2
