"""Krippendorff's alpha (ordinal) against published and hand-worked values; no database needed."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotate_app.stats import (
    SCORES,
    StatsConfig,
    agreement,
    interpret_alpha,
    ordinal_alpha,
    ordinal_alpha_from_counts,
)

NAN = math.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers x 12 units,
# values 1..5, missing = NaN. Published: nominal 0.743, ordinal 0.815, interval 0.849.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def long_form(matrix) -> pd.DataFrame:
    """Reliability matrix (raters x units, NaN = missing) -> one row per rating."""
    rows = [(f"u{u}", f"r{r}", v) for r, row in enumerate(matrix) for u, v in enumerate(row) if not math.isnan(v)]
    return pd.DataFrame(rows, columns=["unit", "rater", "value"])


def alpha_of(matrix, domain=SCORES) -> dict:
    df = long_form(matrix)
    return ordinal_alpha(df["unit"], df["rater"], df["value"], domain)


def test_textbook_example_ordinal():
    info = alpha_of(TEXTBOOK)
    assert info["alpha"] == pytest.approx(0.815, abs=5e-4)
    # 41 values; unit 12 has a single one (not pairable): 11 units, 4 observers, n = 40 (as published).
    assert (info["units"], info["annotators"], info["pairable_values"]) == (11, 4, 40)
    assert info["level"] == "ordinal" and info["reason"] is None


def test_docstring_example_two_raters_four_units():
    # (1,1), (1,2), (3,3), (2,3): worked by hand in ordinal_alpha's docstring -> 17/24
    assert alpha_of([[1, 1, 3, 2], [1, 2, 3, 3]])["alpha"] == round(17 / 24, 4)


def test_seed_alignment_and_fidelity_units_by_hand():
    # alignment units (4,4,3), (2,2): n2=2, n3=1, n4=2, n=5; d23 = d34 = 1.5^2, d24 = 3^2;
    # observed 2*2.25 = 4.5; expected 2*(2*1*2.25 + 2*2*9 + 1*2*2.25) = 90; 1 - 4*4.5/90 = 0.8
    assert alpha_of([[4, 2], [4, 2], [3, NAN]])["alpha"] == 0.8
    # fidelity units (5,4,4), (2,3): observed 6.5, expected 95 -> 1 - 4*6.5/95 = 69/95
    assert alpha_of([[5, 2], [4, 3], [4, NAN]])["alpha"] == round(69 / 95, 4)


def test_perfect_agreement_is_one():
    info = alpha_of([[1, 2, 3, 4, 5, 2], [1, 2, 3, 4, 5, 2], [1, NAN, 3, 4, NAN, 2]])
    assert info["alpha"] == 1.0 and info["interpretation"] == "reliable"


def test_ordinal_credits_near_misses_more_than_far_ones():
    near = alpha_of([[1, 2, 4, 5], [2, 2, 5, 5]])["alpha"]
    far = alpha_of([[1, 2, 4, 5], [5, 2, 1, 5]])["alpha"]
    assert near > 0.5 > far


@pytest.mark.parametrize("matrix,reason", [
    ([[1, 2, 3]], "at least 2 annotators; found 1"),
    ([[1, NAN], [NAN, 2]], "no candidate has ratings from 2 or more annotators"),
    ([[3, 3], [3, 3]], "every paired rating is 3"),
])
def test_undefined_alpha_is_null_with_a_reason(matrix, reason):
    info = alpha_of(matrix)
    assert info["alpha"] is None and info["interpretation"] is None
    assert reason in info["reason"]


def test_no_ratings_at_all():
    info = ordinal_alpha(pd.Series([], dtype=str), pd.Series([], dtype=str), pd.Series([], dtype=float), SCORES)
    assert info["alpha"] is None and "found 0" in info["reason"]


def test_agreement_composite_and_gold_filter():
    ratings = pd.DataFrame({
        "candidate_id": ["a", "a", "b", "b", "g", "g"], "annotator_id": ["x", "y"] * 3,
        "alignment": [1, 1, 5, 5, 1, 5], "fidelity": [2, 2, 4, 4, 1, 5],
        "is_gold": [False, False, False, False, True, True],
    })
    ag = agreement(ratings, StatsConfig())
    assert ag["alignment"]["alpha"] == 1.0 and ag["composite"]["alpha"] == 1.0  # gold 'g' (disagreeing) left out
    with_gold = agreement(ratings, StatsConfig(alpha_include_gold=True))
    assert with_gold["alignment"]["alpha"] < 1.0 and with_gold["alignment"]["units"] == 3


@pytest.mark.parametrize("alpha,reading", [(0.8, "reliable"), (0.7999, "tentative"), (0.667, "tentative"),
                                           (0.6669, "low"), (0.0, "low"), (-0.2, "below chance")])
def test_interpretation_thresholds(alpha, reading):
    assert interpret_alpha(alpha) == reading


def test_textbook_example_matches_the_krippendorff_package():
    package = krippendorff.alpha(reliability_data=TEXTBOOK, level_of_measurement="ordinal")
    assert alpha_of(TEXTBOOK)["alpha"] == round(package, 4)


# units x values count matrices: 1..40 units, 2..9 values, each unit with at least 2 values
counts_matrices = st.integers(2, 9).flatmap(lambda v: st.lists(
    st.lists(st.integers(0, 4), min_size=v, max_size=v).filter(lambda row: sum(row) >= 2), min_size=1, max_size=40))


@settings(max_examples=200, deadline=None)
@given(counts_matrices)
def test_vectorised_alpha_equals_the_krippendorff_package(rows):
    counts = np.array(rows, dtype=float)
    if (counts.sum(axis=0) > 0).sum() < 2:
        return  # a single observed value: alpha is undefined (ordinal_alpha reports a reason instead)
    package = krippendorff.alpha(value_counts=counts, value_domain=list(range(counts.shape[1])),
                                 level_of_measurement="ordinal")
    assert ordinal_alpha_from_counts(counts) == pytest.approx(package, rel=1e-9, abs=1e-12)
