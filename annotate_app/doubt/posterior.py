"""Laplace posterior per clip, candidate means and spreads, and the confidence in each clip's pair.

Given the annotators' MAP parameters, the likelihood couples a clip's candidates only through its
clip effect, so the posterior of (u_c, d_1..d_m) is a small normal block per clip: precision =
prior + sum over ratings of a_j^2 * I(eta) (I: the ordinal likelihood's Fisher information, always
positive, unlike the observed curvature far from the mode). Quality q_i = u_c + d_i; the composite
(alignment + fidelity) / 2 is normal with mean and covariance averaged over the two axes, so the
pair confidence samples one m-variate normal per clip. Fixed random numbers (``seed``) make two
confidences of one clip comparable (the gain of a rating is their difference, not sampling noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from annotate_app.doubt.data import AXES
from annotate_app.doubt.model import AxisFit, ModelFit, cut_points, rating_scale, unit_information


def rating_information(f: AxisFit, data, axis: str) -> np.ndarray:
    """Per rating, the Fisher information about the candidate's quality: a_j^2 / s_r^2 * unit information."""
    j, q = data.ann, f.u[data.clip] + f.d
    eta = 3 + f.b[j] + f.a[j] * q[data.cand]
    s = rating_scale(f, data)
    return f.a[j] ** 2 / s**2 * unit_information(eta, s, cut_points(f.t)[j])


def candidate_information(m: ModelFit, axis: str) -> np.ndarray:
    """Per candidate: the information of its ratings plus the gold anchor's precision."""
    data = m.data
    w = np.bincount(data.cand, rating_information(m.axes[axis], data, axis), data.n_cand)
    gi, _, gsd = data.gold[axis]
    return w + np.bincount(gi, 1 / gsd**2, data.n_cand) if len(gi) else w


def quality_cov(w: np.ndarray, sd_u: float, sd_d: float) -> np.ndarray:
    """(G, m, m) covariance of q = u + d for G clips of m candidates with information w (G, m).

    Precision of (u, d): [[1/sd_u^2 + sum w, w'], [w, diag(1/sd_d^2 + w)]]; q = J (u, d), J = [1 | I].
    """
    g, n = w.shape
    h = np.zeros((g, n + 1, n + 1))
    h[:, 0, 0] = 1 / sd_u**2 + w.sum(1)
    h[:, 0, 1:] = h[:, 1:, 0] = w
    idx = np.arange(1, n + 1)
    h[:, idx, idx] = 1 / sd_d**2 + w
    cov = np.linalg.inv(h)
    return cov[:, :1, :1] + cov[:, :1, 1:] + cov[:, 1:, :1] + cov[:, 1:, 1:]


@dataclass(frozen=True)
class ClipPosterior:
    """Composite posterior per clip, for clips grouped by candidate count (one entry per group)."""

    clips: list[np.ndarray]  # clip indices of each group
    cands: list[np.ndarray]  # (G, m) candidate indices, in the clip's order
    mean: list[np.ndarray]  # (G, m) composite mean, score units
    cov: list[np.ndarray]  # (G, m, m)
    extra: float  # information of one more average rating (per candidate, per axis)
    w: dict[str, list[np.ndarray]]  # axis -> per group (G, m) information of each candidate


def _groups(clip_of_cand: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(clip_of_cand, kind="stable")
    clips, starts, counts = np.unique(clip_of_cand[order], return_index=True, return_counts=True)
    out = {}
    for n in np.unique(counts):
        sel = counts == n
        out[int(n)] = (clips[sel], order[starts[sel][:, None] + np.arange(n)[None, :]])
    return out


def clip_posterior(m: ModelFit, weights: dict[str, float] | None = None) -> ClipPosterior:
    """Per clip the composite ``sum_ax weights[ax] * q_ax`` (default 0.5 / 0.5): its mean and covariance."""
    wt = weights or {ax: 0.5 for ax in AXES}
    w = {ax: candidate_information(m, ax) for ax in AXES}
    q = {ax: m.axes[ax].u[m.data.clip] + m.axes[ax].d + 3 for ax in AXES}
    # "One more rating": the mean information per rating, i.e. an average annotator of this round.
    per = [rating_information(m.axes[ax], m.data, ax) for ax in AXES]
    extra = float(np.mean(np.concatenate(per))) if len(per[0]) else 1.0
    out = ClipPosterior([], [], [], [], extra, {ax: [] for ax in AXES})
    for _, (clips, cands) in sorted(_groups(m.data.clip).items()):
        covs = [quality_cov(w[ax][cands], m.priors.sd_u, m.priors.sd_d) for ax in AXES]
        out.clips.append(clips)
        out.cands.append(cands)
        out.mean.append(sum(wt[ax] * q[ax][cands] for ax in AXES))
        out.cov.append(sum(wt[ax] ** 2 * c for ax, c in zip(AXES, covs)))
        for ax in AXES:
            out.w[ax].append(w[ax][cands])
    return out


def _chol(cov: np.ndarray) -> np.ndarray:
    n = cov.shape[-1]
    return np.linalg.cholesky(cov + 1e-10 * np.eye(n))


def believed_pair(mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return mean.argmax(-1), mean.argmin(-1)


def confidence(mean: np.ndarray, cov: np.ndarray, min_margin: float, z: np.ndarray) -> np.ndarray:
    """(G,) share of posterior draws whose best-vs-worst pair is the believed one with margin >= min_margin.

    ``z`` (S, m) standard normals; draws x = mean + L z.
    """
    best, worst = believed_pair(mean)
    x = mean[:, None, :] + np.einsum("gij,sj->gsi", _chol(cov), z)
    xb = np.take_along_axis(x, best[:, None, None], 2)[..., 0]
    xw = np.take_along_axis(x, worst[:, None, None], 2)[..., 0]
    ok = (x.argmax(-1) == best[:, None]) & (x.argmin(-1) == worst[:, None]) & (xb - xw >= min_margin)
    return ok.mean(1)


def pair_confidence(post: ClipPosterior, n_clip: int, min_margin: float = 0.0, samples: int = 400,
                    seed: int = 0) -> np.ndarray:
    """(n_clip,) confidence in each clip's pair (NaN for a clip with fewer than two candidates)."""
    out = np.full(n_clip, np.nan)
    rng = np.random.default_rng(seed)
    for clips, mean, cov in zip(post.clips, post.mean, post.cov):
        if mean.shape[1] >= 2:
            out[clips] = confidence(mean, cov, min_margin, rng.standard_normal((samples, mean.shape[1])))
    return out


def pair_probability(post: ClipPosterior, n_cand: int, winner: np.ndarray, loser: np.ndarray, min_margin: float,
                     extremes: bool, samples: int = 4000, seed: int = 0) -> np.ndarray:
    """Per pair (candidate indices ``winner``, ``loser`` of one clip): the posterior probability of the pair.

    ``extremes``: that the winner is the clip's best and the loser its worst with a gap >= ``min_margin``
    (the best-vs-worst pair); otherwise that the winner beats the loser by >= ``min_margin`` (> 0 at least).
    Fixed draws (``seed``) make the figure reproducible run to run.
    """
    where = np.full((n_cand, 3), -1)
    for g, cands in enumerate(post.cands):
        rows, cols = np.indices(cands.shape)
        where[cands.ravel()] = np.stack([np.full(cands.size, g), rows.ravel(), cols.ravel()], 1)
    out = np.full(len(winner), np.nan)
    rng = np.random.default_rng(seed)
    z = {n: rng.standard_normal((samples, n)) for n in {c.shape[1] for c in post.cands}}
    for p, (wi, li) in enumerate(zip(winner, loser)):
        (g, r, cw), (_, _, cl) = where[wi], where[li]
        mean, cov = post.mean[g][r], post.cov[g][r]
        x = mean + z[len(mean)] @ _chol(cov).T
        gap = x[:, cw] - x[:, cl]
        ok = gap >= min_margin if min_margin > 0 else gap > 0
        if extremes:
            ok &= (x.argmax(1) == cw) & (x.argmin(1) == cl)
        out[p] = ok.mean()
    return out


def candidate_table(m: ModelFit) -> pd.DataFrame:
    """Per candidate: posterior mean and sd on each axis and on the composite (score units)."""
    data, cols = m.data, {"candidate_id": data_ids(m)}
    var = {}
    for ax in AXES:
        w = candidate_information(m, ax)
        cov_diag = np.zeros(data.n_cand)
        for _, cands in _groups(data.clip).values():
            cov_diag[cands] = np.diagonal(quality_cov(w[cands], m.priors.sd_u, m.priors.sd_d), axis1=1, axis2=2)
        cols[f"{ax}_mean"] = m.axes[ax].u[data.clip] + m.axes[ax].d + 3
        cols[f"{ax}_sd"] = np.sqrt(cov_diag)
        var[ax] = cov_diag
    cols["composite_mean"] = (cols["alignment_mean"] + cols["fidelity_mean"]) / 2
    cols["composite_sd"] = np.sqrt(sum(var.values())) / 2
    cols["clip_id"] = data.clip_ids[data.clip]
    return pd.DataFrame(cols)


def data_ids(m: ModelFit) -> np.ndarray:
    return m.data.cand_ids
