"""Pair building on small hand-worked examples; the arithmetic is in each docstring."""

from __future__ import annotations

import pytest

from curation.pairs.build import build_pairs
from curation.pairs.config import BuildPairsConfig
from tests.fixtures.pairs_data import rating, scores, write_ratings


def build(tmp_path, rows, **cfg) -> list[tuple[str, str, str, float]]:
    path = write_ratings(tmp_path / "ratings.parquet", rows)
    table = build_pairs(BuildPairsConfig(**cfg), ratings=path).manifest
    return [
        (r["clip_id"], r["winner_candidate_id"].split(":")[1], r["loser_candidate_id"].split(":")[1], r["margin"])
        for r in table.to_pylist()
    ]


def four_candidates() -> list[dict]:
    """Clip c1, three annotators, rewards r = (mean alignment + mean fidelity) / 2:

    A: a=(5,5,4) f=(5,4,5) -> 14/3, 14/3 -> r = 14/3 = 4.666667
    B: a=(3,3,3) f=(3,3,3) -> r = 3
    C: a=(2,1,1) f=(1,2,1) -> 4/3, 4/3 -> r = 4/3 = 1.333333
    D: a=(3,4,3) f=(4,3,3) -> 10/3, 10/3 -> r = 10/3 = 3.333333
    """
    return (
        scores("c1", "A", (5, 5), (5, 4), (4, 5))
        + scores("c1", "B", (3, 3), (3, 3), (3, 3))
        + scores("c1", "C", (2, 1), (1, 2), (1, 1))
        + scores("c1", "D", (3, 4), (4, 3), (3, 3))
    )


def test_best_vs_worst(tmp_path):
    """Best A (4.666667) vs worst C (1.333333): margin 4666667 - 1333333 = 3333334 millionths = 3.333334."""
    assert build(tmp_path, four_candidates(), min_margin=1) == [("c1", "A", "C", 3.333334)]


def test_best_vs_worse(tmp_path):
    """A against every lower one: B 4.666667-3=1.666667, C 3.333334, D 4.666667-3.333333=1.333334.

    With --min-margin 1.5 the A-D pair (1.333334) is dropped.
    """
    assert build(tmp_path, four_candidates(), strategy="best-vs-worse", min_margin=1) == [
        ("c1", "A", "B", 1.666667), ("c1", "A", "C", 3.333334), ("c1", "A", "D", 1.333334)
    ]
    assert build(tmp_path, four_candidates(), strategy="best-vs-worse", min_margin=1.5) == [
        ("c1", "A", "B", 1.666667), ("c1", "A", "C", 3.333334)
    ]


def test_better_vs_worst(tmp_path):
    """Every higher one against C: A 3.333334, B 3-1.333333=1.666667, D 3.333333-1.333333=2."""
    assert build(tmp_path, four_candidates(), strategy="better-vs-worst", min_margin=1) == [
        ("c1", "A", "C", 3.333334), ("c1", "B", "C", 1.666667), ("c1", "D", "C", 2.0)
    ]


def test_better_vs_worse(tmp_path):
    """All ordered pairs at least 1 apart: A-B, A-C, A-D, B-C, D-C; D-B is only 0.333333 apart.

    With min margin 0 (strict preference only) D-B joins: 6 pairs = C(4,2), no ties.
    """
    assert build(tmp_path, four_candidates(), strategy="better-vs-worse", min_margin=1) == [
        ("c1", "A", "B", 1.666667), ("c1", "A", "C", 3.333334), ("c1", "A", "D", 1.333334),
        ("c1", "B", "C", 1.666667), ("c1", "D", "C", 2.0),
    ]
    pairs = build(tmp_path, four_candidates(), strategy="better-vs-worse", min_margin=0)
    assert len(pairs) == 6 and ("c1", "D", "B", 0.333333) in pairs


def test_margin_of_exactly_one_is_kept(tmp_path):
    """W: a=(1,1,1) f=(1,5,5) -> r = (1 + 11/3)/2 = 7/3;  L: a=(1,1,1) f=(1,1,3) -> r = (1 + 5/3)/2 = 4/3.

    The margin is exactly 1, but in doubles 2.333333333333333 - 1.3333333333333335 = 0.9999999999999996.
    Rounded to millionths both are exact: 2333333 - 1333333 = 1000000, kept at --min-margin 1 and dropped at
    1.000001 (1000001 millionths).
    """
    rows = scores("c1", "W", (1, 1), (1, 5), (1, 5)) + scores("c1", "L", (1, 1), (1, 1), (1, 3))
    assert build(tmp_path, rows, min_margin=1) == [("c1", "W", "L", 1.0)]
    assert build(tmp_path, rows, min_margin=1.000001) == []


def test_ties_are_never_paired_and_break_by_smallest_id(tmp_path):
    """Clip t: h and i both r = 4, j r = 2. Clip u: k r = 5, m and l both r = 1.

    best-vs-worst: t -> (h, j) (h < i); u -> (k, l) (l < m).
    best-vs-worse: t -> (h, j) only: i ties with the best, so h-i is never a pair.
    better-vs-worse: t -> (h, j), (i, j); no h-i. u -> (k, l), (k, m); no l-m.
    """
    rows = (
        scores("t", "h", (4, 4)) + scores("t", "i", (4, 4)) + scores("t", "j", (2, 2))
        + scores("u", "k", (5, 5)) + scores("u", "m", (1, 1)) + scores("u", "l", (1, 1))
    )
    assert build(tmp_path, rows) == [("t", "h", "j", 2.0), ("u", "k", "l", 4.0)]
    assert build(tmp_path, rows, strategy="best-vs-worse") == [
        ("t", "h", "j", 2.0), ("u", "k", "l", 4.0), ("u", "k", "m", 4.0)
    ]
    assert build(tmp_path, rows, strategy="better-vs-worse") == [
        ("t", "h", "j", 2.0), ("t", "i", "j", 2.0), ("u", "k", "l", 4.0), ("u", "k", "m", 4.0)
    ]


def test_all_tied_clip_gives_no_pair(tmp_path):
    """Three candidates all r = 3: the best and the worst tie, margin 0 < 1 millionth: nothing."""
    rows = scores("c", "x", (3, 3)) + scores("c", "y", (2, 4)) + scores("c", "z", (4, 2))
    for strategy in ("best-vs-worst", "best-vs-worse", "better-vs-worst", "better-vs-worse"):
        assert build(tmp_path, rows, strategy=strategy) == []


def test_min_raters_drops_thinly_rated_candidates(tmp_path):
    """A: 3 ratings r = 5; B: 1 rating r = 1; C: 2 ratings r = 3.

    min_raters 1: A vs B (4.0). min_raters 2: B is dropped, A vs C (2.0). min_raters 3: only A, no pair.
    """
    rows = scores("c", "A", (5, 5), (5, 5), (5, 5)) + scores("c", "B", (1, 1)) + scores("c", "C", (3, 3), (3, 3))
    assert build(tmp_path, rows) == [("c", "A", "B", 4.0)]
    assert build(tmp_path, rows, min_raters=2) == [("c", "A", "C", 2.0)]
    assert build(tmp_path, rows, min_raters=3) == []


def test_median_resists_one_outlier(tmp_path):
    """A: a=(5,5,1) f=(5,5,1): mean 11/3 -> r = 3.666667; median 5 -> r = 5.
    B: a=(4,4,4) f=(4,4,4): r = 4 either way.

    mean: B (4) beats A (3.666667) by 0.333333. median: A (5) beats B (4) by exactly 1.
    """
    rows = scores("c", "A", (5, 5), (5, 5), (1, 1)) + scores("c", "B", (4, 4), (4, 4), (4, 4))
    assert build(tmp_path, rows) == [("c", "B", "A", 0.333333)]
    assert build(tmp_path, rows, aggregate="median", min_margin=1) == [("c", "A", "B", 1.0)]


def test_median_of_even_count_is_the_middle_mean(tmp_path):
    """A: a=(1,2,4,5) -> median (2+4)/2 = 3, f=(3,3,3,3) -> 3: r = 3. B: all 1: r = 1. Margin 2."""
    rows = scores("c", "A", (1, 3), (2, 3), (4, 3), (5, 3)) + scores("c", "B", (1, 1), (1, 1), (1, 1), (1, 1))
    assert build(tmp_path, rows, aggregate="median") == [("c", "A", "B", 2.0)]


def test_zscore_cancels_lenient_and_harsh_raters(tmp_path):
    """Annotator a0 is lenient, a1 harsh, a2 never varies; two candidates P, Q of one clip.

    a0: P=(5,5) Q=(4,4): mean 4.5, population sd 0.5 -> z(P) = +1, z(Q) = -1 on both axes.
    a1: P=(2,2) Q=(1,1): mean 1.5, sd 0.5 -> z(P) = +1, z(Q) = -1.
    a2: P=(3,3) Q=(3,3): sd 0 -> contributes 0.
    P = mean(1, 1, 0) = 2/3 per axis -> r = 0.666667; Q = -0.666667; margin 1.333334 (rounded each side).
    With the plain mean: P = (5+2+3)/3 = 10/3, Q = 8/3 -> margin 0.666667 < 1: no pair at --min-margin 1.
    """
    rows = scores("c", "P", (5, 5), (2, 2), (3, 3)) + scores("c", "Q", (4, 4), (1, 1), (3, 3))
    assert build(tmp_path, rows, min_margin=1) == []
    assert build(tmp_path, rows, aggregate="zscore", min_margin=1) == [("c", "P", "Q", 1.333334)]


def test_weights_motion_only(tmp_path):
    """R: a=5 f=1, S: a=1 f=5. Default 0.5/0.5: both r = 3, a tie, no pair.
    alignment=1, fidelity=0 (table 4's motion-only): R = 5, S = 1, margin 4. The reverse weights flip it.
    """
    rows = scores("c", "R", (5, 1)) + scores("c", "S", (1, 5))
    assert build(tmp_path, rows) == []
    assert build(tmp_path, rows, weights={"alignment": 1, "fidelity": 0}) == [("c", "R", "S", 4.0)]
    assert build(tmp_path, rows, weights={"alignment": 0, "fidelity": 1}) == [("c", "S", "R", 4.0)]


def test_broken_flagged_failed_and_gold_are_left_out(tmp_path):
    """Clip c: A r=5 but one rating says broken; B r=4; C r=1 but flagged; D r=2; E r=3 but failed.
    Only B and D remain: B vs D, margin 2. Gold clip g (X r=5, Y r=1) is left out unless include_gold.
    """
    rows = (
        [rating("c", "A", "a0", 5, 5), rating("c", "A", "a1", 5, 5, broken=True)]
        + scores("c", "B", (4, 4))
        + scores("c", "C", (1, 1), candidate_status="flagged")
        + scores("c", "D", (2, 2))
        + scores("c", "E", (3, 3), candidate_status="failed")
        + scores("g", "X", (5, 5), is_gold=True)
        + scores("g", "Y", (1, 1), is_gold=True)
    )
    assert build(tmp_path, rows) == [("c", "B", "D", 2.0)]
    assert build(tmp_path, rows, include_gold=True) == [("c", "B", "D", 2.0), ("g", "X", "Y", 4.0)]


def test_manifest_columns_and_values(tmp_path):
    """Every contract column is there; rewards, sub-scores and rater counts of the A-C pair of four_candidates."""
    path = write_ratings(tmp_path / "r.parquet", four_candidates())
    table = build_pairs(BuildPairsConfig(min_margin=1), ratings=path).manifest
    from curation.pairs.manifest import MANIFEST_COLUMNS

    assert table.column_names == MANIFEST_COLUMNS
    (row,) = table.to_pylist()
    assert row["winner_reward"] == 4.666667 and row["loser_reward"] == 1.333333
    assert row["winner_alignment"] == pytest.approx(14 / 3) and row["loser_fidelity"] == pytest.approx(4 / 3)
    assert (row["winner_raters"], row["loser_raters"]) == (3, 3)
    assert (row["winner_video"], row["loser_video"]) == ("c1/A.mp4", "c1/C.mp4")
    assert (row["winner_method"], row["loser_method"]) == ("A", "C")
    import hashlib

    assert row["pair_id"] == hashlib.sha256(b"c1\x1fc1:A\x1fc1:C").hexdigest()[:16]


def test_config_validation():
    with pytest.raises(ValueError, match="strategy"):
        BuildPairsConfig(strategy="best-vs-best")
    with pytest.raises(ValueError, match="min_margin.*-1"):
        BuildPairsConfig(min_margin=-1)
    with pytest.raises(ValueError, match="both be 0"):
        BuildPairsConfig(weights={"alignment": 0, "fidelity": 0})
    with pytest.raises(ValueError, match="min_raters"):
        BuildPairsConfig(min_raters=0)
    assert BuildPairsConfig(min_margin=1).min_gap == 1_000_000
    assert BuildPairsConfig(min_margin=0).min_gap == 1  # strict preference
