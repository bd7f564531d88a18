"""Pure building blocks of the stats: work rate, summaries, over-assignment, config checks."""

from __future__ import annotations

import pandas as pd
import pytest

from annotate_app.stats import SCORES, StatsConfig, over_assigned, summarize, work_rate


def times(*seconds) -> pd.Series:
    return pd.Series(pd.to_datetime([1_700_000_000 + s for s in seconds], unit="s", utc=True))


def test_work_rate_even_pace():
    # 0, 60, 120 s: 2 gaps in 120 s -> one rating a minute
    assert work_rate(times(0, 60, 120), 1800) == {
        "ratings": 3, "active_hours": round(120 / 3600, 4), "ratings_per_hour": 60.0, "median_seconds_per_rating": 60.0}


def test_work_rate_ignores_breaks_and_order():
    # unsorted; the 2 h gap is a break: counted gaps 30 and 90 -> 2 in 120 s -> 60/h, median 60
    r = work_rate(times(7200 + 90, 0, 30, 7200), 1800)
    assert (r["ratings_per_hour"], r["median_seconds_per_rating"]) == (60.0, 60.0)


def test_work_rate_batched_clip_submissions():
    # two clips of 5 candidates submitted at 0 and 100 s: gaps 0,0,0,0,100,0,0,0,0 -> 9 in 100 s = 324/h
    r = work_rate(times(*([0] * 5 + [100] * 5)), 1800)
    assert r["ratings_per_hour"] == 324.0 and r["median_seconds_per_rating"] == 0.0


@pytest.mark.parametrize("secs", [(), (5,), (5, 5, 5)])
def test_work_rate_without_time_is_none(secs):
    r = work_rate(times(*secs), 1800)
    assert r["ratings_per_hour"] is None and r["ratings"] == len(secs)


def test_summarize_counts_mean_std():
    s = summarize(pd.Series([1, 1, 4]), SCORES)
    # mean 2; deviations -1,-1,2 -> var 6/2 = 3 -> std 1.7321
    assert s == {"n": 3, "counts": {"1": 2, "2": 0, "3": 0, "4": 1, "5": 0}, "mean": 2.0, "std": 1.7321}
    assert summarize(pd.Series([5]), SCORES)["std"] is None
    assert summarize(pd.Series([], dtype=float), SCORES)["mean"] is None


def test_over_assigned_share_and_extra():
    cands = pd.DataFrame({"candidate_id": list("abcde"), "clip_id": ["x", "x", "y", "y", "g"],
                          "method": ["m"] * 5, "status": ["ready"] * 5, "is_gold": [False] * 4 + [True]})
    # a: 4 ratings, b: 3, c: 2, d: 0, gold e: 5; k = 2 -> over: a (+2), b (+1) of 3 rated non-gold
    ratings = pd.DataFrame({"candidate_id": list("aaaa" "bbb" "cc" "eeeee")})
    summary, items = over_assigned(ratings, cands, 2)
    assert summary == {"overlap": 2, "candidates_rated": 3, "over_assigned": 2, "share": 0.6667,
                       "extra_ratings": 3, "max_ratings": 4}
    assert items["candidate_id"].tolist() == ["a", "b"] and items["ratings"].tolist() == [4, 3]


@pytest.mark.parametrize("kw,msg", [({"overlap": 0}, "overlap"), ({"idle_gap_minutes": 0}, "idle_gap_minutes"),
                                    ({"min_gold_accuracy": 1.5}, "min_gold_accuracy"), ({"max_rows": -1}, "max_rows")])
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        StatsConfig(**kw)
