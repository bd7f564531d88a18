"""Per round: each method's mean scores with confidence intervals, and paired head-to-head win rates.

The unit is the clip. A clip belongs to one round and has at most one candidate per
method, so within a round "method M on clip c" is one candidate; its score on an axis is
the mean over that candidate's ratings (every annotator who rated it counts once).

* Method means: the mean over the round's clips of those per-clip scores, with a
  Student-t interval over clips (clips, not ratings, are the independent draws: two
  annotators rating one video are not two samples of the method).
* Head to head (paired): for methods A and B, the clips of the round where both have a
  rated candidate; A wins a clip when its mean composite is higher, a tie counts half.
  win rate = (wins + ties / 2) / clips. Its interval is a seeded percentile bootstrap over
  clips. Because each clip contributes only one of three values (1, 1/2, 0), a resample's
  win rate depends only on how many wins, ties and losses it drew, and those counts are
  Multinomial(n, (wins, ties, losses) / n): drawing them directly is the same bootstrap as
  resampling clip indices, in O(samples) instead of O(samples x clips).

Gold clips are left out unless configured: their candidates are made bad on purpose.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import pandas as pd

from storage import AXES

SCORE_AXES = (*AXES, "composite")
TIE_TOLERANCE = 1e-9  # two mean composites closer than this are a tie
LIKERT = (1.0, 5.0)


@dataclass
class RoundStatsConfig:
    """How the per-round figures are computed (docs/stats.md, "Rounds")."""

    confidence: float = field(default=0.95, metadata={"help": "Coverage of every interval (means and win rates)."})
    bootstrap_samples: int = field(default=2000, metadata={"help": "Bootstrap resamples per win rate."})
    seed: int = field(default=0, metadata={"help": "Seed of the bootstrap; the same seed gives the same intervals."})
    include_gold: bool = field(default=False, metadata={"help": "Count gold clips too (their candidates are "
                                                                 "deliberately bad, so they are left out)."})

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be strictly between 0 and 1. Got {self.confidence!r}.")
        if isinstance(self.bootstrap_samples, bool) or not isinstance(self.bootstrap_samples, int) \
                or self.bootstrap_samples < 100:
            raise ValueError(f"bootstrap_samples must be an integer >= 100. Got {self.bootstrap_samples!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0. Got {self.seed!r}.")


# --- maths ---------------------------------------------------------------------------------------


def _t_cdf_abs(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4, exact finite sums)."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2 == 0:
        term = total = 1.0
        for k in range(2, df - 1, 2):  # 1 + 1/2 c^2 + 1*3/(2*4) c^4 + ...
            term *= c2 * (k - 1) / k
            total += term
        return s * total
    if df == 1:
        return 2 * theta / math.pi
    term = total = 1.0
    for k in range(3, df - 1, 2):  # 1 + 2/3 c^2 + 2*4/(3*5) c^4 + ...
        term *= c2 * (k - 1) / k
        total += term
    return 2 / math.pi * (theta + s * math.cos(theta) * total)


@lru_cache(maxsize=1024)
def t_critical(confidence: float, df: int) -> float:
    """The two-sided critical value t such that P(|T_df| <= t) = confidence.

    Exact (bisection on the finite-sum CDF) up to 200 degrees of freedom; beyond, the
    Cornish-Fisher expansion (A&S 26.7.5), whose error there is below 1e-8.
    """
    if df < 1:
        raise ValueError(f"df must be >= 1. Got {df}.")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    if df > 200:
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
        return z + g1 / df + g2 / df**2 + g3 / df**3
    lo, hi = z, 1e6  # t is always wider than the normal
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf_abs(mid, df) < confidence else (lo, mid)
        if hi - lo < 1e-10:
            break
    return (lo + hi) / 2


def mean_interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high): mean +- t * s / sqrt(n) with the sample std s; no interval below 2 values."""
    n = len(values)
    if n == 0:
        return None, None, None
    mean = float(np.mean(values))
    if n < 2:
        return mean, None, None
    half = t_critical(confidence, n - 1) * float(np.std(values, ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def win_rate(wins: int, ties: int, losses: int) -> float | None:
    """Share of clips A wins, a tie counting half; None without clips."""
    n = wins + ties + losses
    return (wins + ties / 2) / n if n else None


def bootstrap_win_interval(wins: int, ties: int, losses: int, samples: int, confidence: float,
                           rng: np.random.Generator) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of ``win_rate`` over clips (multinomial form; see the module docstring)."""
    n = wins + ties + losses
    if n == 0:
        return None, None
    draws = rng.multinomial(n, np.array([wins, ties, losses]) / n, size=samples)  # (samples, 3)
    rates = (draws[:, 0] + draws[:, 1] / 2) / n
    alpha = 1 - confidence
    lo, hi = np.quantile(rates, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def pair_rng(seed: int, round_no: int, a: str, b: str) -> np.random.Generator:
    """One stream per (seed, round, method pair): a pair's interval does not move when other methods are added."""
    return np.random.default_rng([seed, round_no, zlib.crc32(f"{a}\0{b}".encode())])


# --- tables --------------------------------------------------------------------------------------


def clip_scores(ratings: pd.DataFrame, include_gold: bool = False) -> pd.DataFrame:
    """One row per (round, method, clip): ratings and the mean alignment, fidelity and composite."""
    df = ratings if include_gold else ratings[~ratings["is_gold"].astype(bool)]
    df = df.assign(composite=(df["alignment"] + df["fidelity"]) / 2)
    g = df.groupby(["round", "method", "clip_id"], observed=True, sort=True)
    out = g[list(SCORE_AXES)].mean().join(g.size().rename("ratings"))
    return out.reset_index()


def method_means(scores: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per (round, method): clips, ratings, and each axis' mean over clips with its interval.

    Interval ends are kept inside the 1..5 scale: with few clips a t-interval can reach past it.
    """
    rows = []
    for (rnd, method), g in scores.groupby(["round", "method"], observed=True, sort=True):
        row = {"round": int(rnd), "method": str(method), "clips": len(g), "ratings": int(g["ratings"].sum())}
        for axis in SCORE_AXES:
            mean, lo, hi = mean_interval(g[axis].to_numpy(float), confidence)
            row[axis] = mean
            row[f"{axis}_low"] = None if lo is None else max(lo, LIKERT[0])
            row[f"{axis}_high"] = None if hi is None else min(hi, LIKERT[1])
        rows.append(row)
    cols = ["round", "method", "clips", "ratings"] + [f"{a}{s}" for a in SCORE_AXES for s in ("", "_low", "_high")]
    return pd.DataFrame(rows, columns=cols)


def _oriented(rnd: int, a: str, b: str, n_win: int, n_tie: int, n_loss: int, lo, hi) -> dict:
    """The row with the method that wins more first (alphabetical order on an even split)."""
    rate = win_rate(n_win, n_tie, n_loss)
    if rate is not None and rate < 0.5:
        a, b, n_win, n_loss, rate, lo, hi = b, a, n_loss, n_win, 1 - rate, 1 - hi, 1 - lo
    return {"round": rnd, "method_a": a, "method_b": b, "clips": n_win + n_tie + n_loss, "wins": n_win,
            "ties": n_tie, "losses": n_loss, "win_rate": rate, "low": lo, "high": hi}


def head_to_head(scores: pd.DataFrame, cfg: RoundStatsConfig) -> pd.DataFrame:
    """Per round and pair of methods rated on at least one common clip: wins, ties, losses, win rate, interval."""
    rows = []
    for rnd, g in scores.groupby("round", sort=True):
        wide = g.pivot(index="clip_id", columns="method", values="composite")
        methods = sorted(str(m) for m in wide.columns)
        for i, a in enumerate(methods):
            for b in methods[i + 1:]:
                both = wide[[a, b]].dropna()
                diff = both[a].to_numpy() - both[b].to_numpy()
                # Means of half-point scores are exact sums over a count; the tolerance only guards equal
                # means reached through differently rounded divisions (11/3 vs 22/6) from counting as a win.
                tie = np.abs(diff) < TIE_TOLERANCE
                n_win, n_tie, n_loss = int((diff[~tie] > 0).sum()), int(tie.sum()), int((diff[~tie] < 0).sum())
                if n_win + n_tie + n_loss == 0:
                    continue
                lo, hi = bootstrap_win_interval(n_win, n_tie, n_loss, cfg.bootstrap_samples, cfg.confidence,
                                                pair_rng(cfg.seed, int(rnd), a, b))
                rows.append(_oriented(int(rnd), a, b, n_win, n_tie, n_loss, lo, hi))
    cols = ["round", "method_a", "method_b", "clips", "wins", "ties", "losses", "win_rate", "low", "high"]
    return pd.DataFrame(rows, columns=cols).sort_values(["round", "win_rate", "method_a", "method_b"],
                                                        ascending=[True, False, True, True], ignore_index=True)


def round_frames(ratings: pd.DataFrame, cfg: RoundStatsConfig) -> dict[str, pd.DataFrame]:
    """``round_methods`` (method_means) and ``head_to_head`` for every round that has ratings."""
    scores = clip_scores(ratings, cfg.include_gold)
    return {"round_methods": method_means(scores, cfg.confidence), "head_to_head": head_to_head(scores, cfg)}


def round_report(rounds: pd.DataFrame, frames: dict[str, pd.DataFrame], cfg: RoundStatsConfig) -> dict:
    """The JSON ``rounds`` key: current round, the rounds, per-method means and head-to-head rows."""
    def _num(x):
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)

    methods = []
    for r in frames["round_methods"].to_dict("records"):
        item = {"round": r["round"], "method": r["method"], "clips": r["clips"], "ratings": r["ratings"]}
        for axis in SCORE_AXES:
            item[axis] = {"mean": _num(r[axis]), "low": _num(r[f"{axis}_low"]), "high": _num(r[f"{axis}_high"])}
        methods.append(item)
    h2h = [{**r, "win_rate": _num(r["win_rate"]), "low": _num(r["low"]), "high": _num(r["high"])}
           for r in frames["head_to_head"].to_dict("records")]
    listed = [{"number": int(r["number"]), "started_at": r["started_at"], "note": None if pd.isna(r["note"]) else r["note"]}
              for r in rounds.to_dict("records")]
    return {"current": max((r["number"] for r in listed), default=1), "list": listed,
            "config": asdict(cfg), "methods": methods, "head_to_head": h2h}


def h2h_sentence(row: dict) -> str:
    """"policy-r2 beats hallo3 on 64 % [58, 70] of 120 clips (70 wins, 14 ties, 36 losses)"."""
    verb = "beats" if row["win_rate"] > 0.5 else "ties with"
    return (f"{row['method_a']} {verb} {row['method_b']} on {row['win_rate']:.0%} "
            f"[{row['low'] * 100:.0f}, {row['high'] * 100:.0f}] of {row['clips']} clips "
            f"({row['wins']} wins, {row['ties']} ties, {row['losses']} losses)").replace("%", " %", 1)
