"""Property tests: the DuckDB pair builder agrees with the pure-Python reference on random small campaigns."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.pairs.build import build_pairs
from curation.pairs.config import STRATEGIES, BuildPairsConfig
from tests.fixtures.pairs_data import write_ratings
from tests.fixtures.pairs_reference import candidate_rewards, reference_pairs

ANNOTATORS = ["ann1", "ann2", "ann3", "ann4", "ann5"]
# Candidate names drawn from a small alphabet, so tie-breaking by smallest candidate_id is exercised.
NAMES = ["a", "b", "c", "d", "e", "f"]


@st.composite
def campaigns(draw, flags: bool = True) -> list[dict]:
    """1-4 clips x 1-5 candidates x 1-4 annotators with Likert scores; optionally broken/flagged/gold."""
    rows = []
    for clip in range(draw(st.integers(1, 4))):
        gold = flags and draw(st.booleans()) and draw(st.booleans())
        for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True)):
            status = draw(st.sampled_from(["ready"] * 6 + ["flagged", "failed"])) if flags else "ready"
            for ann in draw(st.lists(st.sampled_from(ANNOTATORS), min_size=1, max_size=4, unique=True)):
                rows.append(
                    {
                        "clip_id": f"clip{clip}",
                        "candidate_id": f"clip{clip}:{name}",
                        "method": name,
                        "annotator_id": ann,
                        "alignment": draw(st.integers(1, 5)),
                        "fidelity": draw(st.integers(1, 5)),
                        "candidate_status": status,
                        "is_gold": gold,
                        "broken": flags and draw(st.integers(0, 19)) == 0,
                    }
                )
    return rows


MARGINS = st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 1 / 3, 0.25, 3.0])
WEIGHTS = st.sampled_from([(0.5, 0.5), (1.0, 0.0), (0.0, 1.0), (0.25, 0.75), (0.3, 0.7), (1.0, 1.0)])
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def duck_pairs(rows, **cfg) -> list[tuple[str, str, str, int, int]]:
    with tempfile.TemporaryDirectory() as d:
        path = write_ratings(Path(d) / "r.parquet", rows)
        table = build_pairs(BuildPairsConfig(**cfg), ratings=path, threads=2).manifest
    return sorted(
        (r["clip_id"], r["winner_candidate_id"], r["loser_candidate_id"], round(r["winner_reward"] * 1e6),
         round(r["loser_reward"] * 1e6))
        for r in table.to_pylist()
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
@SETTINGS
@given(rows=campaigns(), margin=MARGINS, weights=WEIGHTS, min_raters=st.integers(1, 3))
def test_matches_reference(strategy, rows, margin, weights, min_raters):
    w = {"alignment": weights[0], "fidelity": weights[1]}
    got = duck_pairs(rows, strategy=strategy, min_margin=margin, weights=w, min_raters=min_raters)
    want = reference_pairs(rows, strategy=strategy, min_margin=margin, weights=weights, min_raters=min_raters)
    assert got == want


@SETTINGS
@given(rows=campaigns(), margin=MARGINS, include_gold=st.booleans())
def test_median_matches_reference(rows, margin, include_gold):
    got = duck_pairs(rows, strategy="better-vs-worse", min_margin=margin, aggregate="median",
                     include_gold=include_gold)
    want = reference_pairs(rows, strategy="better-vs-worse", min_margin=margin, aggregate="median",
                           include_gold=include_gold)
    assert got == want


@SETTINGS
@given(rows=campaigns())
def test_zscore_rewards_match_reference(rows):
    """zscore uses floats on both sides: compare every pair's rewards within a few millionths, not pair sets."""
    got = duck_pairs(rows, strategy="better-vs-worse", aggregate="zscore")
    want = candidate_rewards(rows, aggregate="zscore")
    for _clip, winner, loser, rw, rl in got:
        assert abs(rw - want[winner]["rq"]) <= 1 and abs(rl - want[loser]["rq"]) <= 1
        assert rw > rl


@SETTINGS
@given(rows=campaigns(flags=False))
def test_strategy_invariants(rows):
    """best-vs-worst is one pair per clip and a subset of best-vs-worse and better-vs-worst, which are subsets of
    better-vs-worse; every pair has winner reward > loser reward."""
    sets = {s: set(duck_pairs(rows, strategy=s)) for s in STRATEGIES}
    assert sets["best-vs-worst"] <= sets["best-vs-worse"] <= sets["better-vs-worse"]
    assert sets["best-vs-worst"] <= sets["better-vs-worst"] <= sets["better-vs-worse"]
    clips = [p[0] for p in sets["best-vs-worst"]]
    assert len(clips) == len(set(clips))
    assert all(rw > rl for s in sets.values() for (_c, _w, _l, rw, rl) in s)
