"""Krippendorff's alpha, ordinal level, from unit x value counts (the stats' agreement figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def interpret_alpha(alpha: float) -> str:
    """Krippendorff's guide: >= 0.800 reliable, 0.667..0.800 tentative conclusions only; below 0 the raters
    disagree more than chance would (a misread rubric or swapped scale, not just noise), so it says so."""
    if alpha < 0:
        return "below chance"
    return "reliable" if alpha >= 0.8 else "tentative" if alpha >= 0.667 else "low"


def ordinal_alpha_from_counts(counts: np.ndarray) -> float:
    """Krippendorff's alpha (ordinal) from a units x values count matrix, every unit with 2+ values.

    The same numbers as ``krippendorff.alpha(value_counts=..., level_of_measurement="ordinal")``
    (the tests hold it to that), vectorised: the coincidence matrix is one product,
    o = W^T C - diag(sum_u W_u) with W_u = C_u / (m_u - 1), where the package loops
    over units (6 s instead of 0.1 s for 500k candidates).
    alpha = 1 - (n - 1) * sum(o * d) / sum(n_c n_k * d), with the ordinal distance
    d_ck = (n_c + ... + n_k - (n_c + n_k) / 2)^2 over the value totals n_c.
    """
    counts = np.asarray(counts, dtype=float)
    w = counts / (counts.sum(axis=1, keepdims=True) - 1)
    o = w.T @ counts - np.diag(w.sum(axis=0))
    n_c = o.sum(axis=1)
    lo, hi = np.minimum.outer(np.arange(len(n_c)), np.arange(len(n_c))), np.maximum.outer(
        np.arange(len(n_c)), np.arange(len(n_c)))
    cum = np.concatenate([[0.0], np.cumsum(n_c)])
    d = (cum[hi + 1] - cum[lo] - (n_c[lo] + n_c[hi]) / 2) ** 2
    return float(1 - (n_c.sum() - 1) * (o * d).sum() / (np.outer(n_c, n_c) * d).sum())


def ordinal_alpha(units: pd.Series, raters: pd.Series, values: pd.Series, domain) -> dict:
    """Krippendorff's alpha, ordinal level, from long-form (unit, rater, value) rows.

    Equivalent to the annotators x units reliability matrix with NaN for missing,
    but reduced to unit x value counts, which is small however many annotators
    there are. Units with one value carry no pairing and are dropped.
    Worked example (2 raters, 4 units: (1,1), (1,2), (3,3), (2,3)): value totals
    n1=3, n2=2, n3=3, n=8; ordinal distances d12 = (3+2-2.5)^2 = 6.25, d23 = 6.25,
    d13 = (8-3)^2 = 25; observed sum over units 2*6.25 + 2*6.25 = 25; expected sum
    2*(3*2*6.25 + 2*3*6.25 + 3*3*25) = 600; alpha = 1 - (n-1)*25/600 = 17/24 = 0.7083.
    (Nominal alpha on the same data is 1/3: ordinal credits near misses.)
    """
    domain = list(domain)
    unit_code, _ = pd.factorize(units)
    value_idx = pd.Index(domain).get_indexer(values)
    if (value_idx < 0).any():
        raise ValueError(f"values outside the domain {domain}: {sorted(set(values[value_idx < 0]))}")
    # unit x value counts in one bincount (pandas crosstab is ~50x slower on 100k+ ratings)
    counts = np.bincount(unit_code * len(domain) + value_idx, minlength=(unit_code.max() + 1) * len(domain)
                         if len(unit_code) else 0).reshape(-1, len(domain))
    paired = counts.sum(axis=1) >= 2
    counts = counts[paired]
    info = {"alpha": None, "level": "ordinal", "units": int(paired.sum()),
            "annotators": int(raters[paired[unit_code]].nunique()) if len(unit_code) else 0,
            "pairable_values": int(counts.sum()), "interpretation": None, "reason": None}
    observed = [v for v, n in zip(domain, counts.sum(axis=0)) if n]
    if raters.nunique() < 2:
        info["reason"] = f"needs ratings from at least 2 annotators; found {raters.nunique()}"
    elif not len(counts):
        info["reason"] = "no candidate has ratings from 2 or more annotators yet"
    elif len(observed) < 2:
        info["reason"] = f"every paired rating is {observed[0]:g}: no variation, alpha is undefined"
    if info["reason"]:
        return info
    alpha = ordinal_alpha_from_counts(counts)
    info.update(alpha=round(alpha, 4), interpretation=interpret_alpha(round(alpha, 4)))
    return info
