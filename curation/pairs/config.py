"""``BuildPairsConfig``: every knob of ``curate build-pairs``, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

STRATEGIES = ("best-vs-worst", "best-vs-worse", "better-vs-worst", "better-vs-worse")
AGGREGATES = ("mean", "median", "zscore")
REWARDS = ("mean", "model")

# Rewards are compared on a grid of 1e-6 (see ``quantize``): two rewards closer than that are a tie, and a margin
# of exactly 1.0 stays exactly 1.0 although 0.5*(5/3) + 0.5*(4/3) is not exactly 1.5 in binary floating point.
REWARD_SCALE = 1_000_000


def quantize(value: float) -> int:
    """``value`` in millionths, rounded half up. DuckDB computes ``floor(x * 1e6 + 0.5)`` with the same doubles."""
    return math.floor(value * REWARD_SCALE + 0.5)


@dataclass
class BuildPairsConfig:
    """How ratings become (winner, loser) pairs.

    > Rewards
      Per candidate, its ratings are aggregated per axis (``aggregate``), then combined into one reward
      ``r = weights["alignment"] * alignment + weights["fidelity"] * fidelity``.

    > Pairs
      ``strategy`` picks which ordered pairs of a clip's candidates become training pairs; a pair needs
      ``r_winner > r_loser`` and ``r_winner - r_loser >= min_margin`` (both on the 1e-6 grid).
    """

    strategy: str = field(default="best-vs-worst", metadata={
        "help": "Which pairs per clip: best-vs-worst (paper's choice, one pair), best-vs-worse, "
                "better-vs-worst, better-vs-worse."})
    min_margin: float = field(default=0.0, metadata={
        "help": "Smallest reward gap kept. In reward units: 1-5 Likert for mean/median, standard "
                "deviations for zscore."})
    weights: dict[str, float] = field(default_factory=lambda: {"alignment": 0.5, "fidelity": 0.5}, metadata={
        "help": "Weight of each axis in the composite reward; the paper uses 0.5/0.5, table 4's \"motion "
                "only\" is 1/0."})
    aggregate: str = field(default="mean", metadata={
        "help": "Per-axis aggregation over a candidate's annotators: mean, median, or zscore "
                "(per-annotator standardised mean)."})
    min_raters: int = field(default=1, metadata={
        "help": "Candidates with fewer ratings than this are dropped before pairing."})
    include_gold: bool = field(default=False, metadata={
        "help": "Gold clips (known-answer checks for annotators) are left out unless this is set."})
    reward: str = field(default="mean", metadata={
        "help": "Where the per-axis scores come from: mean (the aggregate of the ratings, as --aggregate says) or "
                "model (the annotator model's posterior means; the manifest's confidence column is then filled)."})
    rounds: tuple[int, ...] | None = field(default=None, metadata={
        "help": "Only the ratings of these rounds' clips (the store's ratings; `curate build-pairs` "
                "defaults to the current round); None = every rating of the source."})

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}. Got {self.strategy!r}.")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}. Got {self.aggregate!r}.")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}. Got {self.reward!r}.")
        if self.reward == "model" and self.aggregate != "mean":
            raise ValueError(f"reward 'model' replaces the aggregate; leave aggregate at 'mean'. Got {self.aggregate!r}.")
        if isinstance(self.min_margin, bool) or not isinstance(self.min_margin, (int, float)):
            raise ValueError(f"min_margin must be a number. Got {self.min_margin!r}.")
        if not math.isfinite(self.min_margin) or self.min_margin < 0:
            raise ValueError(f"min_margin must be a finite number >= 0. Got {self.min_margin}.")
        self.min_margin = float(self.min_margin)
        if isinstance(self.min_raters, bool) or not isinstance(self.min_raters, int) or self.min_raters < 1:
            raise ValueError(f"min_raters must be an integer >= 1. Got {self.min_raters!r}.")
        self.weights = self._check_weights(self.weights)
        if self.rounds is not None:
            rounds = tuple(self.rounds)
            if not rounds or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rounds):
                raise ValueError(f"rounds must be None or round numbers >= 1. Got {self.rounds!r}.")
            self.rounds = tuple(sorted(set(rounds)))

    @staticmethod
    def _check_weights(weights: dict[str, float]) -> dict[str, float]:
        if set(weights) != {"alignment", "fidelity"}:
            raise ValueError(f"weights must give exactly alignment and fidelity. Got {sorted(weights)}.")
        out = {}
        for axis in ("alignment", "fidelity"):
            w = weights[axis]
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"weights[{axis!r}] must be a finite number >= 0. Got {w!r}.")
            out[axis] = float(w)
        if out["alignment"] == out["fidelity"] == 0:
            raise ValueError("weights must not both be 0: every reward would be 0 and no pair could form.")
        return out

    @property
    def min_gap(self) -> int:
        """The margin in millionths; at least 1, because a pair needs a strict preference."""
        return max(1, quantize(self.min_margin))

    def as_metadata(self) -> dict:
        return {
            "strategy": self.strategy,
            "min_margin": self.min_margin,
            "weights": dict(self.weights),
            "aggregate": self.aggregate,
            "reward": self.reward,
            "min_raters": self.min_raters,
            "include_gold": self.include_gold,
            "rounds": None if self.rounds is None else list(self.rounds),
            "reward_resolution": 1 / REWARD_SCALE,
        }


def parse_weights(text: str) -> dict[str, float]:
    """``"alignment=1,fidelity=0"`` -> ``{"alignment": 1.0, "fidelity": 0.0}``; unnamed axes are an error."""
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in ("alignment", "fidelity"):
            raise ValueError(f"--weights: expected alignment=W,fidelity=W. Got {text!r}.")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"--weights: {value.strip()!r} is not a number (in {text!r}).") from None
    if set(out) != {"alignment", "fidelity"}:
        raise ValueError(f"--weights: give both alignment and fidelity. Got {text!r}.")
    return out
