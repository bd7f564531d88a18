"""Each annotator's seconds per clip as overhead + pace * watch time, shrunk towards the round's line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotate_app.doubt.priority import PRIOR_CLIPS, _pace


def _times(annotator: int, overhead: float, pace: float, watch: np.ndarray) -> pd.DataFrame:
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    secs = overhead + pace * watch
    return pd.DataFrame({"annotator_pk": annotator, "leased_at": [start.isoformat()] * len(watch),
                         "completed_at": [(start + pd.Timedelta(seconds=x)).isoformat() for x in secs],
                         "audio_duration": watch / 5, "n_cand": 5})


def test_pace_is_each_annotators_slope_and_overhead_is_shrunk():
    watch = np.linspace(10, 50, 40)  # 8 clips of each length 2..10 s x 5 candidates
    fast, slow = _times(1, 10.0, 1.0, watch), _times(2, 30.0, 2.0, watch)
    got = _pace(pd.concat([fast, slow])).set_index("annotator_pk")
    # Pseudo-clips sit at the annotator's own mean watch time, so they leave the slope alone ...
    assert got.loc[1, "pace"] == pytest.approx(1.0, abs=1e-6)
    assert got.loc[2, "pace"] == pytest.approx(2.0, abs=1e-6)
    # ... and move the level at that mean a share PRIOR_CLIPS / (40 + PRIOR_CLIPS) towards the round's line.
    own_fast, own_slow = 10 + 30 * 1.0, 30 + 30 * 2.0  # seconds at the mean watch time (30 s)
    rnd = _pace(pd.concat([fast, slow]).assign(annotator_pk=9)).loc[0]
    at_mean = rnd["overhead_s"] + 30 * rnd["pace"]
    share = PRIOR_CLIPS / (40 + PRIOR_CLIPS)
    assert got.loc[1, "overhead_s"] + 30 == pytest.approx(own_fast + share * (at_mean - own_fast), rel=1e-6)
    assert got.loc[2, "overhead_s"] + 60 == pytest.approx(own_slow + share * (at_mean - own_slow), rel=1e-6)


def test_no_submissions_no_rows():
    empty = pd.DataFrame(columns=["annotator_pk", "leased_at", "completed_at", "audio_duration", "n_cand"])
    assert _pace(empty).empty
