"""Gold answers anchor their candidates: the posterior moves towards the gold range and tightens."""

from __future__ import annotations

import numpy as np
import pandas as pd

from annotate_app.doubt import fit, rating_set
from annotate_app.doubt.posterior import candidate_table


def _ratings() -> pd.DataFrame:
    """Twenty clips of three candidates rated by three annotators who agree (scores 4, 3, 2), and clip g whose
    candidate g_0 the three all rate 2 on both axes."""
    rows = [(f"k{c}", f"k{c}_{i}", f"a{j}", s, s) for c in range(20) for i, s in enumerate((4, 3, 2)) for j in range(3)]
    rows += [("g", f"g_{i}", f"a{j}", s, s) for i, s in enumerate((2, 3, 4)) for j in range(3)]
    return pd.DataFrame(rows, columns=["clip_id", "candidate_id", "annotator_id", "alignment", "fidelity"])


def test_gold_range_pulls_and_tightens():
    df = _ratings()
    gold = pd.DataFrame({"candidate_id": ["g_0"], "alignment_min": [5], "alignment_max": [5],
                         "fidelity_min": [5], "fidelity_max": [5]})
    free = candidate_table(fit(rating_set(df))).set_index("candidate_id").loc["g_0"]
    anchored = candidate_table(fit(rating_set(df, gold=gold))).set_index("candidate_id").loc["g_0"]
    # Three agreeing 2s put g_0 near 2; a gold answer of 5 (sd 0.25) pulls it up and narrows it.
    assert free["alignment_mean"] < 2.6
    assert anchored["alignment_mean"] > free["alignment_mean"] + 0.5
    assert anchored["alignment_sd"] < free["alignment_sd"]
    assert np.isfinite(anchored[["composite_mean", "composite_sd"]].to_numpy(float)).all()
