"""The expected rise in a clip's pair confidence from one more rating (preposterior, sampled).

One more rating with information ``extra`` per candidate and axis shrinks the covariance from S to
S'; before it is given, the posterior mean it will produce is normal around today's mean with
covariance S - S'. The expected confidence afterwards is the mean, over ``outer`` such future
means, of the confidence under S' in the pair each future mean believes. Keeping the mean fixed
instead would score a clip with two tied candidates as hopeless, which is the opposite of the truth:
one more rating is what breaks the tie.
"""

from __future__ import annotations

import numpy as np

from annotate_app.doubt.data import AXES
from annotate_app.doubt.posterior import ClipPosterior, _chol, confidence, quality_cov


def shrunk_cov(post_w: dict[str, np.ndarray], extra: float, sd_u: float, sd_d: float) -> np.ndarray:
    """Composite covariance after one more rating on every candidate of each clip (both axes)."""
    return sum(quality_cov(post_w[ax] + extra, sd_u, sd_d) for ax in AXES) / 4


def expected_confidence(mean, cov, cov_next, min_margin, z_outer, z_inner) -> np.ndarray:
    """(G,) expected confidence after the rating (see the module docstring)."""
    move = _chol(cov - cov_next)  # S - S' is PSD (information only adds); _chol adds jitter
    acc = np.zeros(mean.shape[0])
    for zo in z_outer:
        acc += confidence(mean + move @ zo, cov_next, min_margin, z_inner)
    return acc / len(z_outer)


def expected_gain(post: ClipPosterior, n_clip: int, min_margin: float = 0.0, sd_u: float = 1.0, sd_d: float = 1.0,
                  outer: int = 16, inner: int = 64, seed: int = 0, chunk: int = 2000):
    """(confidence now, expected gain of one more average rating) per clip (NaN under two candidates).

    Clips go ``chunk`` at a time: the draws are (clips, inner, candidates) arrays.
    """
    from annotate_app.doubt.blas import one_blas_thread

    with one_blas_thread():
        return _expected_gain(post, n_clip, min_margin, sd_u, sd_d, outer, inner, seed, chunk)


def _expected_gain(post, n_clip, min_margin, sd_u, sd_d, outer, inner, seed, chunk):
    conf, gain = np.full(n_clip, np.nan), np.full(n_clip, np.nan)
    rng = np.random.default_rng(seed)
    for g, (clips, mean, cov) in enumerate(zip(post.clips, post.mean, post.cov)):
        n = mean.shape[1]
        if n < 2:
            continue
        zi, zo = rng.standard_normal((inner, n)), rng.standard_normal((outer, n))
        for lo in range(0, len(clips), chunk):
            sl = slice(lo, lo + chunk)
            now = confidence(mean[sl], cov[sl], min_margin, zi)
            nxt = shrunk_cov({ax: post.w[ax][g][sl] for ax in AXES}, post.extra, sd_u, sd_d)
            conf[clips[sl]] = now
            gain[clips[sl]] = expected_confidence(mean[sl], cov[sl], nxt, min_margin, zo, zi) - now
    return conf, gain
