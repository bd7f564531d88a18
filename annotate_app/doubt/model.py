"""An ordinal model of 5-point ratings, one axis at a time, fitted MAP with weak priors.

For a rating of candidate i (clip c) by annotator j on one axis:

    eta = 3 + b_j + a_j * (u_c + d_i)
    P(y <= k) = logistic((tau_jk - eta) / (s_j exp(v_c))),   tau_jk = k + 0.5 + (T_BASIS t_j)_k,  k = 1..4

- ``u_c + d_i`` is the candidate's latent quality in score units around 3: ``u_c`` the clip effect
  (shared by its candidates, so it cancels in the pair), ``d_i`` the candidate within its clip;
- ``b_j`` the annotator's bias (score points), ``a_j`` their reliability (slope: 1 = their scores
  follow quality like the round's average annotator, 0 = their scores carry no information about
  quality, as a random or always-3 annotator; see ``slopes``), ``s_j`` their noise scale;
- ``exp(v_c)`` the clip's effect on noise (an ambiguous clip on which careful raters cross: without
  it a clip whose raters disagree would look as settled as one where they agree, the noise being
  estimated on the other clips); ``reliability`` turns a_j and s_j into one 0..1 figure;
- ``t_jk`` the annotator's thresholds (a 5-point scale whose steps each person uses unevenly),
  restricted to the two shapes that are not a shift or a stretch (``T_BASIS``): those are ``b_j``
  and ``a_j``/``s_j`` already. Without them a random annotator (uniform over 1..5, more mass at
  the ends than a logistic puts there) is fitted with a spurious slope instead of a wide scale.
Gold answers anchor ``u_c + d_i`` of their candidates (``data._gold_anchors``).

Why MAP + Laplace with scipy's L-BFGS rather than MCMC or a variational fit: the hand-out needs a
refit every few minutes over a round (100k ratings in seconds); the posterior of each clip's
candidates given the annotators is close to normal once an annotator has a few dozen ratings, and
the clip's block of the Hessian (``posterior``) gives the spread the pair confidence needs. The
analytic gradient below keeps each L-BFGS step a handful of vectorised numpy passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from annotate_app.doubt.data import AXES, RatingSet

Z_CLIP = 30.0  # logistic(30) is 1 to 1e-13: the open ends of the scale without infinities
# Threshold shapes orthogonal to shift (1,1,1,1) and stretch (-3,-1,1,3): ends vs middle, and cubic.
T_BASIS = np.array([[1.0, -1.0], [-1.0, 3.0], [-1.0, -3.0], [1.0, 1.0]]) / np.array([2.0, np.sqrt(20.0)])


@dataclass(frozen=True)
class Priors:
    """Weak normal priors (sd) of the model; means: d, u, b, t, v at 0, a at 1, log s at log(s0)."""

    sd_d: float = field(default=1.0, metadata={"help": "Prior sd of a candidate's quality within its clip."})
    sd_u: float = field(default=1.0, metadata={"help": "Prior sd of a clip's effect."})
    sd_b: float = field(default=0.7, metadata={"help": "Prior sd of an annotator's bias (score points)."})
    sd_a: float = field(default=0.5, metadata={"help": "Prior sd of an annotator's reliability around 1."})
    s0: float = field(default=0.5, metadata={"help": "Prior median of an annotator's noise scale."})
    sd_log_s: float = field(default=1.0, metadata={"help": "Prior sd of log noise scale."})
    sd_t: float = field(default=0.3, metadata={"help": "Prior sd of an annotator's threshold shapes."})
    sd_v: float = field(default=0.5, metadata={"help": "Prior sd of a clip's log noise multiplier (ambiguity)."})

    def __post_init__(self) -> None:
        for name in ("sd_d", "sd_u", "sd_b", "sd_a", "s0", "sd_log_s", "sd_t", "sd_v"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0. Got {getattr(self, name)!r}.")


@dataclass(frozen=True)
class AxisFit:
    """MAP parameters of one axis (see the module docstring for the names)."""

    d: np.ndarray
    u: np.ndarray
    b: np.ndarray
    a: np.ndarray
    s: np.ndarray
    t: np.ndarray
    v: np.ndarray
    converged: bool
    iterations: int
    x: np.ndarray  # the flat vector, to warm-start the next fit of a growing round


@dataclass(frozen=True)
class ModelFit:
    data: RatingSet
    axes: dict[str, AxisFit]
    priors: Priors


def _split(x: np.ndarray, n: tuple[int, int, int]):
    """d, u, b, alpha, log s, t (2 per annotator), v (per clip) from the flat vector."""
    nc, nk, na = n
    o = np.cumsum([nc, nk, na, na, na, 2 * na])
    return x[:o[0]], x[o[0]:o[1]], x[o[1]:o[2]], x[o[2]:o[3]], x[o[3]:o[4]], x[o[4]:o[5]], x[o[5]:]


def cut_points(t: np.ndarray) -> np.ndarray:
    """(n_ann, 6) cut points tau_0..tau_5 from each annotator's two shape weights; open ends just large."""
    inner = np.arange(1, 5) + 0.5 + t.reshape(-1, 2) @ T_BASIS.T
    big = np.full((inner.shape[0], 1), 1e6)
    return np.hstack([-big, inner, big])


def category_terms(eta, s, y, tau):
    """logistic(z) and its density at the rating's two cut points (``tau``: one row per rating); z clipped."""
    rows = np.arange(len(y))
    z_hi = np.clip((tau[rows, y] - eta) / s, -Z_CLIP, Z_CLIP)
    z_lo = np.clip((tau[rows, y - 1] - eta) / s, -Z_CLIP, Z_CLIP)
    f_hi, f_lo = expit(z_hi), expit(z_lo)
    return z_hi, z_lo, f_hi, f_lo, f_hi * (1 - f_hi), f_lo * (1 - f_lo)


def slopes(alpha: np.ndarray, data: RatingSet):
    """Slopes normalised so the rating-weighted mean slope is 1: quality is in the units of the
    round's average annotator. Without it the many candidate priors shrink quality towards 0 while
    every slope grows (a * q is all the data sees)."""
    wts = np.bincount(data.ann, minlength=data.n_ann) / max(1, len(data.ann))
    mean_alpha = float(np.dot(wts, alpha))
    return alpha / mean_alpha, mean_alpha, wts


def unit_information(eta: np.ndarray, s: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Per rating, s^2 * Fisher information of the ordinal likelihood about eta (sum_k p_k'^2 / p_k)."""
    z = np.clip((tau - eta[:, None]) / s[:, None], -Z_CLIP, Z_CLIP)
    f = expit(z)
    p = np.maximum(np.diff(f, axis=1), 1e-12)
    return np.sum(np.diff(f * (1 - f), axis=1) ** 2 / p, axis=1)


def occam(a, s, data: RatingSet, c: np.ndarray, pr: Priors):
    """0.5 * sum_i log H_i, H_i = 1/sd_d^2 + sum_r a_j^2 c_r / s_r^2; gradient in a and in each log s_r.

    The Laplace correction from the joint mode to the marginal likelihood of the annotator
    parameters. Without it a joint MAP lets each candidate's quality bend towards a random
    annotator's scores and so gives that annotator a slope far from 0 (the bias of joint maximum
    likelihood with one parameter per item). ``c`` (per rating) is frozen from the previous pass.
    """
    j = data.ann
    w = a[j] ** 2 * c / s**2
    h = 1 / pr.sd_d**2 + np.bincount(data.cand, w, data.n_cand)
    share = w / h[data.cand]
    return 0.5 * np.sum(np.log(h)), np.bincount(j, share / a[j], data.n_ann), -share


def neg_log_post(x, data: RatingSet, y: np.ndarray, gold, pr: Priors, c: np.ndarray | None = None):
    """Negative log posterior of one axis and its gradient (analytic); with ``c``, plus ``occam``."""
    d, u, b, alpha, ls, t, v = _split(x, (data.n_cand, data.n_clip, data.n_ann))
    a, mean_alpha, wts = slopes(alpha, data)
    q = u[data.clip] + d
    j, i, k = data.ann, data.cand, data.clip[data.cand]
    qi, aj, sj = q[i], a[j], np.exp(ls[j] + v[k])
    eta = 3 + b[j] + aj * qi
    tau = cut_points(t)[j]
    z_hi, z_lo, f_hi, f_lo, g_hi, g_lo = category_terms(eta, sj, y, tau)
    p = np.maximum(f_hi - f_lo, 1e-12)
    nll = -np.log(p).sum()
    d_eta = (g_hi - g_lo) / (sj * p)  # -dlogp/deta
    d_ls = (g_hi * z_hi - g_lo * z_lo) / p  # -dlogp/dlog s
    gq = np.bincount(i, d_eta * aj, data.n_cand)
    gb = np.bincount(j, d_eta, data.n_ann)
    ga = np.bincount(j, d_eta * qi, data.n_ann)
    # -dlogp/dtau per annotator and cut point (rows j, columns tau_0..tau_5), then onto the shapes.
    n6 = 6 * data.n_ann
    gtau = -(np.bincount(j * 6 + y, g_hi / (sj * p), n6) - np.bincount(j * 6 + y - 1, g_lo / (sj * p), n6))
    gt = (gtau.reshape(-1, 6)[:, 1:5] @ T_BASIS).ravel()
    gi, gc, gsd = gold
    if len(gi):
        r = (q[gi] - (gc - 3)) / gsd**2
        nll += 0.5 * np.sum(r * (q[gi] - (gc - 3)))
        gq = gq + np.bincount(gi, r, data.n_cand)
    nll += 0.5 * (np.sum(d**2) / pr.sd_d**2 + np.sum(u**2) / pr.sd_u**2 + np.sum(b**2) / pr.sd_b**2
                  + np.sum((a - 1) ** 2) / pr.sd_a**2 + np.sum((ls - np.log(pr.s0)) ** 2) / pr.sd_log_s**2
                  + np.sum(t**2) / pr.sd_t**2)
    gd = gq + d / pr.sd_d**2
    gu = np.bincount(data.clip, gq, data.n_clip) + u / pr.sd_u**2
    ga = ga + (a - 1) / pr.sd_a**2
    if c is not None:
        val, oa, ols = occam(a, sj, data, c, pr)
        nll, ga, d_ls = nll + val, ga + oa, d_ls + ols
    gls, gv = np.bincount(j, d_ls, data.n_ann), np.bincount(k, d_ls, data.n_clip)
    nll += 0.5 * np.sum(v**2) / pr.sd_v**2
    # a = alpha / mean_alpha: chain rule, plus a unit pull on mean_alpha (only alpha's scale is free).
    g_alpha = ga / mean_alpha - wts * np.dot(ga, alpha) / mean_alpha**2 + wts * (mean_alpha - 1)
    nll += 0.5 * (mean_alpha - 1) ** 2
    grad = np.concatenate([gd, gu, gb + b / pr.sd_b**2, g_alpha,
                           gls + (ls - np.log(pr.s0)) / pr.sd_log_s**2, gt + t / pr.sd_t**2,
                           gv + v / pr.sd_v**2])
    return nll, grad


def _start(data: RatingSet, y: np.ndarray, pr: Priors) -> np.ndarray:
    """Plain means as the starting point: candidate mean minus clip mean, clip mean minus 3."""
    cnt = np.bincount(data.cand, minlength=data.n_cand)
    cmean = np.bincount(data.cand, y - 3.0, data.n_cand) / np.maximum(cnt, 1)
    ccnt = np.bincount(data.clip, cnt > 0, data.n_clip)
    u = np.bincount(data.clip, cmean * (cnt > 0), data.n_clip) / np.maximum(ccnt, 1)
    d = np.where(cnt > 0, cmean - u[data.clip], 0.0)
    na = data.n_ann
    return np.concatenate([d, u, np.zeros(na), np.ones(na), np.full(na, np.log(pr.s0)), np.zeros(2 * na),
                           np.zeros(data.n_clip)])


def _unit_info_at(x: np.ndarray, data: RatingSet) -> np.ndarray:
    d, u, b, alpha, ls, t, v = _split(x, (data.n_cand, data.n_clip, data.n_ann))
    a, j = slopes(alpha, data)[0], data.ann
    eta = 3 + b[j] + a[j] * (u[data.clip] + d)[data.cand]
    return unit_information(eta, np.exp(ls[j] + v[data.clip[data.cand]]), cut_points(t)[j])


# Box on the scale parameters: log noise scale and clip log multiplier within e^-6..e^4 of the prior's median.
# The priors keep the optimum well inside; the box keeps the line search's trial steps from exp() underflow,
# where s = 0 made the value NaN and L-BFGS-B stopped on a NaN point (seen in bench/active.py at 800 clips,
# an always-3 annotator).
LOG_S_BOX, V_BOX = (-6.0, 4.0), (-4.0, 4.0)


def _bounds(data: RatingSet, pr: Priors) -> list[tuple[float | None, float | None]]:
    nc, nk, na = data.n_cand, data.n_clip, data.n_ann
    ls = (np.log(pr.s0) + LOG_S_BOX[0], np.log(pr.s0) + LOG_S_BOX[1])
    return [(None, None)] * (nc + nk + 2 * na) + [ls] * na + [(None, None)] * (2 * na) + [V_BOX] * nk


def fit_axis(data: RatingSet, axis: str, pr: Priors, max_iter: int = 500, x0: np.ndarray | None = None,
             passes: int = 3) -> AxisFit:
    y = data.scores[axis]
    bounds = _bounds(data, pr)
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    x = _start(data, y, pr) if x0 is None else np.clip(x0, lo, hi)
    c = None
    for _ in range(passes):  # pass 1: joint MAP; later passes: with the Occam term frozen at the last mode
        # A trial step of the line search may overflow exp(); its infinite value just makes the search step back.
        with np.errstate(over="ignore", invalid="ignore"):
            res = minimize(neg_log_post, x, args=(data, y, data.gold[axis], pr, c), jac=True, method="L-BFGS-B",
                           bounds=bounds, options={"maxiter": max_iter, "gtol": 1e-3, "ftol": 1e-8})
        if not np.all(np.isfinite(res.x)):
            raise FloatingPointError(f"annotator model: the {axis} fit left finite numbers ({res.message}).")
        x = res.x
        c = _unit_info_at(x, data)
    d, u, b, alpha, ls, t, v = _split(x, (data.n_cand, data.n_clip, data.n_ann))
    return AxisFit(d, u, b, slopes(alpha, data)[0], np.exp(ls), t, v, bool(res.success), int(res.nit), x)


def fit(data: RatingSet, priors: Priors | None = None, max_iter: int = 500, warm: ModelFit | None = None,
        passes: int = 3) -> ModelFit:
    """Both axes, fitted independently (an annotator's bias on one axis says little about the other).

    ``warm``: a previous fit over the same candidates, clips and annotators (index for index) to
    start from; a round that gained ratings then converges in a fraction of the iterations.
    """
    from annotate_app.doubt.blas import one_blas_thread

    pr = priors or Priors()
    x0 = {ax: (warm.axes[ax].x if warm is not None else None) for ax in AXES}
    with one_blas_thread():
        return ModelFit(data, {ax: fit_axis(data, ax, pr, max_iter, x0[ax], passes) for ax in AXES}, pr)


def reliability(m: ModelFit) -> np.ndarray:
    """Per annotator, the share of their score variance that is quality, mean over axes (0..1).

    rho_j = a_j^2 V / (a_j^2 V + s_j^2 pi^2 / 3), V the variance of the candidates' quality and
    s^2 pi^2 / 3 the variance of the logistic noise: a single-rater reliability. 0 for an annotator
    whose scores carry no quality (random, or always 3), near 1 for one whose noise is small.
    """
    out = []
    for f in m.axes.values():
        v = float(np.var(f.u[m.data.clip] + f.d))
        out.append(f.a**2 * v / (f.a**2 * v + f.s**2 * np.pi**2 / 3))
    return np.mean(out, axis=0)


def rating_scale(f: AxisFit, data: RatingSet) -> np.ndarray:
    """Per rating, the noise scale s_j * exp(v_c)."""
    return f.s[data.ann] * np.exp(f.v[data.clip[data.cand]])
