"""Per-annotator figures, progress over time and escalated clips, on hand-worked frames."""

from __future__ import annotations

import pandas as pd
import pytest

from annotate_app.stats.annotators import (
    clip_complete_times,
    consensus_agreement,
    escalated_clips,
    progress_over_time,
    seconds_per_clip,
    spearman,
)

T0 = pd.Timestamp("2026-01-05 09:00:00", tz="UTC")


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def test_spearman_with_ties_and_constant_side():
    # ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): dx = (-1.5, 0, 0, 1.5), dy = (-1.5, -.5, .5, 1.5)
    # sum dx dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5 -> 4.5 / sqrt(22.5) = 0.9487
    assert spearman(pd.Series([1, 2, 2, 3]), pd.Series([10, 20, 30, 40])) == pytest.approx(0.948683, abs=1e-6)
    assert spearman(pd.Series([3, 2, 1]), pd.Series([1, 2, 3])) == pytest.approx(-1.0)
    assert spearman(pd.Series([2, 2, 2]), pd.Series([1, 2, 3])) is None


def test_consensus_agreement_leaves_the_annotator_out():
    rows = [  # candidate, annotator, alignment, fidelity -> composites
        ("a", "x", 5, 5), ("a", "y", 4, 4), ("a", "z", 4, 4),   # x 5 vs 4;  y 4 vs 4.5
        ("b", "x", 3, 3), ("b", "y", 2, 2),                      # x 3 vs 2;  y 2 vs 3
        ("c", "x", 1, 1), ("c", "y", 1, 2),                      # x 1 vs 1.5; y 1.5 vs 1
        ("d", "x", 2, 2),                                        # nobody else: not shared
    ]
    df = pd.DataFrame(rows, columns=["candidate_id", "annotator_id", "alignment", "fidelity"])
    out = consensus_agreement(df, min_shared=3).set_index("annotator_id")
    # x: (5, 3, 1) vs (4, 2, 1.5): same order -> 1; diff (1 + 1 - 0.5) / 3 = 0.5
    assert out.loc["x"].tolist() == [3, 1.0, 0.5]
    # y: (4, 2, 1.5) vs (4.5, 3, 1): same order -> 1; diff (-0.5 - 1 + 0.5) / 3 = -0.3333
    assert out.loc["y"].tolist() == [3, 1.0, -0.3333]
    # z: one shared candidate, 4 vs (5 + 4) / 2: no rho, diff -0.5
    assert out.loc["z", "shared_candidates"] == 1 and pd.isna(out.loc["z", "consensus_spearman"])
    assert out.loc["z", "consensus_mean_diff"] == -0.5


def test_seconds_per_clip_is_the_median_lease_to_submit():
    a = pd.DataFrame({
        "annotator_id": ["x", "x", "x", "y", "y"], "status": ["done", "done", "done", "done", "leased"],
        "leased_at": [at(0), at(100), at(200), at(0), at(0)],
        "completed_at": [at(30), at(190), at(3800), at(45), pd.NaT],  # x: 30, 90, 3600 s -> median 90
    })
    out = seconds_per_clip(a).set_index("annotator_id")
    assert out.loc["x"].tolist() == [3, 90.0] and out.loc["y"].tolist() == [1, 45.0]


def test_clip_complete_times_and_progress_over_time():
    cands = pd.DataFrame({"candidate_id": ["p:1", "p:2", "q:1", "q:2"], "clip_id": ["p", "p", "q", "q"],
                          "status": ["ready", "ready", "ready", "failed"]})
    ratings = pd.DataFrame({"candidate_id": ["p:1", "p:2", "p:1", "p:2", "q:1"],
                            "created_at": [at(0), at(10), at(20), at(900), at(30)]})
    clips = pd.DataFrame({"clip_id": ["p", "q"], "complete": [True, False]})
    done = clip_complete_times(ratings, clips, cands, k=2)
    assert done.to_dict() == {"p": at(900)}  # p:1's 2nd rating at 20 s, p:2's at 900 s
    # span 900 s, 3 points -> 300 s steps: ratings at 0/10/20/30 in the first, 900 s in the last
    out = progress_over_time(ratings["created_at"], done, max_points=3)
    assert out["time"].tolist() == [at(0), at(900)]
    assert out["ratings"].tolist() == [4, 5] and out["clips_complete"].tolist() == [0, 1]
    assert progress_over_time(pd.Series([], dtype="datetime64[ns, UTC]"), done).empty


def test_escalated_clips_open_and_closed():
    a = pd.DataFrame({"clip_id": ["e", "e", "e", "f", "f", "g", "g", "g"], "status": ["done"] * 7 + ["leased"],
                      "is_gold": [False] * 5 + [True] * 3})
    targets = pd.DataFrame({"clip_id": ["f"], "target": [3]})
    out = escalated_clips(a, targets, k=2)
    # e: 3 done > k, no target -> closed; f: 2 done, asks for 3 -> open; g: gold, left out
    assert out["clip_id"].tolist() == ["e", "f"] and out["raters"].tolist() == [3, 2]
    assert pd.isna(out["target"][0]) and out["target"][1] == 3 and out["state"].tolist() == ["closed", "open"]
