"""`curate stats --fit-model`: the annotator model's reliability and bias beside the agreement figures."""

from __future__ import annotations

import json

from tests.fixtures.stats_seed import seed


def test_fit_model_fills_reliability_and_doubt(cli, workspace):
    seed(workspace)
    before = json.loads(cli("stats", "-w", workspace.root, "--json").output)
    assert before["doubt"]["fitted_clips"] == 0
    assert all(f["model_reliability"] is None for f in before["annotator_figures"])
    r = cli("stats", "-w", workspace.root, "--json", "--fit-model")
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    rated = {a["annotator_id"] for a in st["annotators"] if a["ratings"]}
    figs = {f["annotator_id"]: f for f in st["annotator_figures"]}
    assert rated and all(0 <= figs[a]["model_reliability"] <= 1 for a in rated)
    d = st["doubt"]
    assert d["fitted_clips"] > 0 and d["settled"] + d["in_doubt"] == d["fitted_clips"]
    assert 0 <= d["expected_pair_accuracy"] <= 1
    text = cli("stats", "-w", workspace.root).output
    assert "reliability" in text and "pair doubt" in text
