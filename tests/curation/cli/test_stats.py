"""``curate stats``: JSON keys and numbers, and the human-readable report, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.stats_seed import seed


@pytest.fixture
def seeded(workspace):
    toml = workspace.path("curate.toml")
    text = toml.read_text()
    assert "overlap = 3" in text
    toml.write_text(text.replace("overlap = 3", "overlap = 2"))  # the seed campaign is worked out for k = 2
    seed(workspace)
    return workspace


def test_stats_json(cli, seeded):
    r = cli("stats", "--json", "-w", seeded.root)
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    assert set(st) == {"generated_at", "config", "ratings", "progress", "clips", "annotators", "throughput",
                       "scores_by_annotator", "scores_by_method", "agreement", "gold", "flagged", "over_assigned",
                       "rounds", "annotator_figures", "doubt", "escalated"}
    assert st["config"]["overlap"] == 2 and st["ratings"] == 13
    assert st["progress"]["progress"] == 0.75  # 9/12: see test_stats_figures
    assert (st["agreement"]["alignment"]["alpha"], st["agreement"]["composite"]["alpha"]) == (0.8, 0.68)
    assert st["over_assigned"]["over_assigned"] == 1 and st["over_assigned"]["share"] == 0.25
    assert [g["accuracy"] for g in st["gold"]["annotators"]] == [1.0, 0.0, 1.0]
    # gold c3 left out: alice shares c1:m1 (4.5 vs the others' 3.75) and c1:m2 (2 vs 2.5): too few for rho
    figs = {a["annotator_id"]: a for a in st["annotator_figures"]}
    assert figs["alice"] == {"annotator_id": "alice", "shared_candidates": 2, "consensus_spearman": None,
                             "consensus_mean_diff": 0.125, "clips_timed": None, "median_seconds_per_clip": None,
                             "model_reliability": None, "model_bias": None}
    assert (figs["bob"]["consensus_mean_diff"], figs["carol"]["consensus_mean_diff"]) == (0.25, -0.75)
    assert st["escalated"] == {"open": 0, "closed": 0, "items": []}


def test_stats_json_options(cli, seeded):
    st = json.loads(cli("stats", "--json", "--limit", "1", "--include-gold-in-alpha", "--min-gold-accuracy", "0",
                        "-w", seeded.root).output)
    assert [c["clip_id"] for c in st["clips"]] == ["c4"]  # least complete first, cut to 1
    assert st["agreement"]["gold_included"] is True and st["agreement"]["alignment"]["units"] == 4
    assert not any(g["below_threshold"] for g in st["gold"]["annotators"])
    # with gold: alice's 4 shared candidates rank (4,1,2,3) vs the others' (3,1,2,4): rho = 4/5
    figs = {a["annotator_id"]: a for a in st["annotator_figures"]}
    assert (figs["alice"]["shared_candidates"], figs["alice"]["consensus_spearman"]) == (4, 0.8)
    assert figs["alice"]["consensus_mean_diff"] == -0.125
    assert (figs["carol"]["consensus_spearman"], figs["carol"]["consensus_mean_diff"]) == (0.5, -0.25)
    # a 30 s idle gap leaves alice's 60 s gaps out: only the 30 s one counts -> 1 gap in 30 s = 120/h
    st = json.loads(cli("stats", "--json", "--idle-gap-minutes", "0.5", "-w", seeded.root).output)
    assert st["throughput"]["annotators"][0]["ratings_per_hour"] == 120.0


def test_stats_text_report(cli, seeded):
    r = cli("stats", "-w", seeded.root)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "9/12 ratings toward k=2 (75.0%)" in out
    assert "1 of 4 rated candidates (25.0%) have more than k=2 ratings" in out
    assert "68.57 ratings/hour" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["alignment", "0.8", "reliable", "2", "3", "-"] in rows
    assert ["bob", "annotator", "4", "2", "0", "1", "-", "0/1", "0.0%", "LOW"] in rows
    assert ["m1", "7", "3.14±1.35", "1/1/2/2/1", "4.00±1.00", "0/1/0/4/2", "3.57±1.06"] in rows
    assert "c2:m2" in out and "frozen frames" in out  # flagged video with the comment
    assert ["alice", "2", "-", "0.125", "-", "-", "-", "-"] in rows and ["carol", "1", "-", "-0.75", "-", "-", "-", "-"] in rows


def test_stats_on_empty_workspace_says_why_alpha_is_missing(cli, sqlite_workspace):
    r = cli("stats", "-w", sqlite_workspace.root)
    assert r.exit_code == 0, r.output
    assert "needs ratings from at least 2 annotators" in r.output


def test_stats_help_documents_json_keys(cli):
    out = cli("stats", "--help").output
    for key in ("progress", "throughput", "scores_by_method", "agreement", "gold", "flagged", "over_assigned"):
        assert key in out


def test_bad_option_is_a_usage_error(cli, sqlite_workspace):
    r = cli("stats", "--idle-gap-minutes", "0", "-w", sqlite_workspace.root)
    assert r.exit_code == 2 and "idle-gap-minutes" in r.output
