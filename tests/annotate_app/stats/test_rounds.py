"""Per-round method means and head-to-head win rates, against numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotate_app.stats.rounds import (
    RoundStatsConfig,
    bootstrap_win_interval,
    clip_scores,
    h2h_sentence,
    head_to_head,
    mean_interval,
    method_means,
    round_frames,
    t_critical,
    win_rate,
)

# Round 2, three clips, two methods, two annotators per candidate: (alignment, fidelity).
#   clip  hallo3              policy              composite means     winner
#   c1    (4,4) (3,5)         (5,5) (4,4)         4.0  vs 4.5         policy
#   c2    (2,3) (3,2)         (3,2) (2,3)         2.5  vs 2.5         tie
#   c3    (2,1) (1,2)         (4,5) (5,4)         1.5  vs 4.5         policy
# policy beats hallo3 on (2 + 1/2) / 3 = 5/6 of the clips.
# hallo3 per clip: alignment 3.5, 2.5, 1.5 (mean 2.5); fidelity 4.5, 2.5, 1.5 (mean 8.5/3);
#   composite 4.0, 2.5, 1.5 (mean 8/3).
# policy per clip: alignment 4.5, 2.5, 4.5; fidelity 4.5, 2.5, 4.5; composite 4.5, 2.5, 4.5 (all mean 23/6).
HAND = [
    ("c1", "hallo3", 4, 4), ("c1", "hallo3", 3, 5), ("c1", "policy", 5, 5), ("c1", "policy", 4, 4),
    ("c2", "hallo3", 2, 3), ("c2", "hallo3", 3, 2), ("c2", "policy", 3, 2), ("c2", "policy", 2, 3),
    ("c3", "hallo3", 2, 1), ("c3", "hallo3", 1, 2), ("c3", "policy", 4, 5), ("c3", "policy", 5, 4),
]


def _ratings(rows, round_no=2, gold=()):
    df = pd.DataFrame(rows, columns=["clip_id", "method", "alignment", "fidelity"])
    return df.assign(round=round_no, is_gold=df["clip_id"].isin(gold),
                     candidate_id=df["clip_id"] + ":" + df["method"])


def test_clip_scores_and_method_means_by_hand():
    scores = clip_scores(_ratings(HAND))
    h = scores[scores["method"] == "hallo3"].set_index("clip_id")
    assert h["composite"].tolist() == [4.0, 2.5, 1.5]
    assert h["alignment"].tolist() == [3.5, 2.5, 1.5]
    assert h["ratings"].tolist() == [2, 2, 2]
    means = method_means(scores, 0.95).set_index("method")
    assert means.loc["hallo3", "clips"] == 3 and means.loc["hallo3", "ratings"] == 6
    assert means.loc["hallo3", "alignment"] == pytest.approx(2.5)
    assert means.loc["hallo3", "fidelity"] == pytest.approx(8.5 / 3)
    assert means.loc["hallo3", "composite"] == pytest.approx(8 / 3)
    assert means.loc["policy", "composite"] == pytest.approx(23 / 6)
    # policy's composites 4.5, 2.5, 4.5: s = sqrt(((2/3)^2 * 2 + (4/3)^2) / 2) = sqrt(4/3) = 1.1547,
    # half width = t(0.975, 2) * s / sqrt(3) = 4.3027 * 0.66667 = 2.8685 -> [0.9648, 6.7018], cut to 1..5.
    assert means.loc["policy", "composite_low"] == pytest.approx(1.0)
    assert means.loc["policy", "composite_high"] == pytest.approx(5.0)
    raw = mean_interval(np.array([4.5, 2.5, 4.5]), 0.95)
    assert raw == pytest.approx((23 / 6, 23 / 6 - 2.86849, 23 / 6 + 2.86849), abs=1e-4)


def test_head_to_head_by_hand_is_oriented_winner_first():
    h2h = head_to_head(clip_scores(_ratings(HAND)), RoundStatsConfig(seed=0))
    [row] = h2h.to_dict("records")
    assert (row["round"], row["method_a"], row["method_b"]) == (2, "policy", "hallo3")
    assert (row["clips"], row["wins"], row["ties"], row["losses"]) == (3, 2, 1, 0)
    assert row["win_rate"] == pytest.approx(5 / 6)
    # Resampled (wins, ties) ~ Multinomial(3, (2/3, 1/3)): rates 1 (p 8/27), 5/6 (12/27), 2/3 (6/27), 1/2 (1/27).
    # 1/27 = 3.7 % > 2.5 %, so the 2.5th percentile is 1/2; the top 29.6 % are all 1.
    assert (row["low"], row["high"]) == (0.5, 1.0)
    assert row["low"] <= row["win_rate"] <= row["high"]
    assert h2h_sentence(row) == "policy beats hallo3 on 83 % [50, 100] of 3 clips (2 wins, 1 ties, 0 losses)"


def test_ties_count_half():
    assert win_rate(1, 1, 1) == 0.5
    assert win_rate(0, 3, 0) == 0.5
    assert win_rate(3, 1, 0) == pytest.approx(3.5 / 4)
    assert win_rate(0, 0, 0) is None
    rng = np.random.default_rng(0)
    assert bootstrap_win_interval(0, 5, 0, 500, 0.95, rng) == (0.5, 0.5)  # every resample is all ties
    assert bootstrap_win_interval(4, 0, 0, 500, 0.95, rng) == (1.0, 1.0)


def test_bootstrap_is_deterministic_with_a_seed_and_holds_the_estimate():
    a = bootstrap_win_interval(40, 10, 30, 2000, 0.95, np.random.default_rng(7))
    b = bootstrap_win_interval(40, 10, 30, 2000, 0.95, np.random.default_rng(7))
    c = bootstrap_win_interval(40, 10, 30, 2000, 0.95, np.random.default_rng(8))
    assert a == b and a != c
    assert a[0] < win_rate(40, 10, 30) == 0.5625 < a[1]
    # Normal approximation: sd of the per-clip values (1, 1/2, 0) is sqrt((40*0.4375^2 + 10*0.0625^2 +
    # 30*0.5625^2) / 80) = 0.4875, so 1.96 * 0.4875 / sqrt(80) = 0.107: about [0.456, 0.669].
    assert a == pytest.approx((0.456, 0.669), abs=0.015)


def test_multinomial_bootstrap_matches_resampling_clips():
    """The shortcut draws the same distribution as resampling clip indices with replacement."""
    per_clip = np.array([1.0] * 5 + [0.5] * 2 + [0.0] * 3)
    idx = np.random.default_rng(1).integers(0, 10, size=(20000, 10))
    naive = per_clip[idx].mean(axis=1)
    draws = np.random.default_rng(2).multinomial(10, [0.5, 0.2, 0.3], size=20000)
    fast = (draws[:, 0] + draws[:, 1] / 2) / 10
    grid = np.arange(0, 21) / 20
    freq = lambda x: np.array([(np.isclose(x, g)).mean() for g in grid])
    assert np.abs(freq(naive) - freq(fast)).max() < 0.015
    assert naive.mean() == pytest.approx(fast.mean(), abs=0.005)


@pytest.mark.parametrize("df, expected", [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571),
                                          (10, 2.228), (30, 2.042), (120, 1.980), (1000, 1.962)])
def test_t_critical_matches_the_published_table(df, expected):
    assert t_critical(0.95, df) == pytest.approx(expected, abs=6e-4)


def test_t_critical_other_confidence():
    assert t_critical(0.99, 10) == pytest.approx(3.169, abs=6e-4)
    assert t_critical(0.90, 7) == pytest.approx(1.895, abs=6e-4)


def test_gold_clips_are_left_out_unless_asked_and_rounds_stay_apart():
    r2 = _ratings(HAND, round_no=2, gold=("c3",))
    r1 = _ratings([("d1", "hallo3", 5, 5), ("d1", "still", 1, 1)], round_no=1)
    both = pd.concat([r1, r2], ignore_index=True)
    frames = round_frames(both, RoundStatsConfig())
    rows = {(r["round"], r["method_a"]): r for r in frames["head_to_head"].to_dict("records")}
    assert rows[(1, "hallo3")]["wins"] == 1 and rows[(1, "hallo3")]["method_b"] == "still"
    assert (rows[(2, "policy")]["wins"], rows[(2, "policy")]["ties"], rows[(2, "policy")]["clips"]) == (1, 1, 2)
    m = frames["round_methods"].set_index(["round", "method"])
    assert m.loc[(2, "hallo3"), "clips"] == 2
    with_gold = round_frames(both, RoundStatsConfig(include_gold=True))["round_methods"].set_index(["round", "method"])
    assert with_gold.loc[(2, "hallo3"), "clips"] == 3


def test_an_even_split_names_the_methods_alphabetically():
    rows = [("c1", "b", 5, 5), ("c1", "a", 1, 1), ("c2", "b", 1, 1), ("c2", "a", 5, 5)]
    [row] = head_to_head(clip_scores(_ratings(rows)), RoundStatsConfig()).to_dict("records")
    assert (row["method_a"], row["win_rate"]) == ("a", 0.5)
    assert h2h_sentence(row).startswith("a ties with b on 50 %")


def test_a_single_clip_has_no_mean_interval_and_no_ratings_give_empty_tables():
    m = method_means(clip_scores(_ratings([("c1", "a", 4, 2)])), 0.95)
    assert m.loc[0, "composite"] == 3.0 and m.loc[0, "composite_low"] is None
    empty = round_frames(_ratings([]), RoundStatsConfig())
    assert empty["round_methods"].empty and empty["head_to_head"].empty


@pytest.mark.parametrize("kw, match", [({"confidence": 1.0}, "confidence"), ({"bootstrap_samples": 10}, "bootstrap"),
                                       ({"seed": -1}, "seed")])
def test_config_refuses_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        RoundStatsConfig(**kw)


def test_equal_means_over_different_rating_counts_tie():
    """11/3 (three ratings) and 22/6 (six ratings) are the same mean: a tie, not a win either way."""
    rows = [("c1", "a", 4, 4), ("c1", "a", 4, 3), ("c1", "a", 4, 3)]  # composites 4, 3.5, 3.5 -> 11/3
    rows += [("c1", "b", 4, 4), ("c1", "b", 4, 4), ("c1", "b", 4, 3), ("c1", "b", 4, 3), ("c1", "b", 4, 3),
             ("c1", "b", 4, 3)]  # 4, 4, 3.5, 3.5, 3.5, 3.5 -> 22/6
    [row] = head_to_head(clip_scores(_ratings(rows)), RoundStatsConfig()).to_dict("records")
    assert (row["wins"], row["ties"], row["losses"], row["win_rate"]) == (0, 1, 0, 0.5)
