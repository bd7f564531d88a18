"""The ordinal annotator model recovers hand-built truth; pair confidence of unanimous vs crossing clips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotate_app.doubt import fit, pair_confidence, rating_set
from annotate_app.doubt.gain import expected_gain
from annotate_app.doubt.model import reliability
from annotate_app.doubt.posterior import candidate_table, clip_posterior


def _world(seed: int = 0, clips: int = 150, per_clip: int = 5):
    """True quality uniform 1.5..4.5 per axis; four careful raters (sd 0.4), one who adds +1 to the
    careful score, one who answers uniformly at random."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1.5, 4.5, size=(clips, per_clip, 2))
    rows = []
    for c in range(clips):
        for i in range(per_clip):
            for j in range(6):
                careful = np.clip(np.rint(truth[c, i] + rng.normal(0, 0.4, 2)), 1, 5)
                score = {4: np.clip(careful + 1, 1, 5), 5: rng.integers(1, 6, 2)}.get(j, careful)
                rows.append((f"k{c}", f"k{c}_{i}", f"a{j}", int(score[0]), int(score[1])))
    return pd.DataFrame(rows, columns=["clip_id", "candidate_id", "annotator_id", "alignment", "fidelity"])


@pytest.fixture(scope="module")
def fitted():
    return fit(rating_set(_world()))


def test_plus_one_annotator_has_bias_about_one(fitted):
    # Relative to the careful raters (b about 0): +1 on every score, clipped at 5, so a little under 1.
    for ax in ("alignment", "fidelity"):
        b = fitted.axes[ax].b
        careful = b[:4].mean()
        assert 0.7 < b[4] - careful < 1.2, (ax, b)


def test_random_annotator_reliability_near_zero(fitted):
    rel = reliability(fitted)
    assert rel[5] < 0.05
    assert (rel[:4] > 0.6).all()


def test_candidate_table_spread_shrinks_with_ratings(fitted):
    tab = candidate_table(fitted)
    assert tab["composite_sd"].between(0.05, 0.5).all()
    assert {"alignment_mean", "fidelity_sd", "composite_mean"} <= set(tab.columns)


def _clip(ratings: dict[str, list[tuple[int, int]]]) -> pd.DataFrame:
    return pd.DataFrame([("c", f"c_{i}", a, s[0], s[1]) for a, ss in ratings.items() for i, s in enumerate(ss)],
                        columns=["clip_id", "candidate_id", "annotator_id", "alignment", "fidelity"])


def test_unanimous_clip_confident_crossing_clip_not():
    unanimous = _clip({a: [(5, 5), (4, 3), (3, 3), (2, 3), (1, 1)] for a in ("x", "y", "z")}).assign(clip_id="u")
    crossing = _clip({"x": [(5, 5), (3, 3), (1, 1), (3, 3), (3, 3)],
                      "y": [(1, 1), (3, 3), (5, 5), (3, 3), (3, 3)],
                      "z": [(3, 3), (5, 5), (3, 3), (1, 1), (3, 3)]}).assign(clip_id="x")
    df = pd.concat([unanimous, crossing]).assign(candidate_id=lambda d: d.clip_id + d.candidate_id)
    m = fit(rating_set(df))
    post = clip_posterior(m)
    conf = dict(zip(m.data.clip_ids, pair_confidence(post, m.data.n_clip)))
    assert conf["u"] > 0.95
    assert conf["x"] < 0.6
    now, gain = expected_gain(post, m.data.n_clip)
    crossing_i = list(m.data.clip_ids).index("x")
    assert gain[crossing_i] > gain[1 - crossing_i]  # the doubtful clip is worth the next rating
