"""Ratings as integer index arrays, the form the model's vectorised likelihood needs.

One rating row is one annotator's two scores on one candidate. Candidates without a rating are
kept (they get the prior), so a clip's pair is always over all its candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

AXES = ("alignment", "fidelity")


@dataclass(frozen=True)
class RatingSet:
    """Ratings indexed by position. ``cand``/``ann`` per rating; ``clip`` per candidate."""

    cand: np.ndarray  # (n_ratings,) candidate index of each rating
    ann: np.ndarray  # (n_ratings,) annotator index of each rating
    scores: dict[str, np.ndarray]  # axis -> (n_ratings,) integer 1..5
    clip: np.ndarray  # (n_cand,) clip index of each candidate
    cand_ids: np.ndarray  # candidate key per index (whatever the caller uses)
    clip_ids: np.ndarray
    ann_ids: np.ndarray
    gold: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # axis -> (cand idx, centre, sd) anchors

    @property
    def n_cand(self) -> int:
        return len(self.cand_ids)

    @property
    def n_clip(self) -> int:
        return len(self.clip_ids)

    @property
    def n_ann(self) -> int:
        return len(self.ann_ids)


def _gold_anchors(gold: pd.DataFrame | None, cand_index: pd.Index) -> dict:
    """A gold range lo..hi becomes a normal anchor on the candidate's quality: centre (lo+hi)/2,
    sd half the width plus 0.25 (a one-point range still leaves room for rounding)."""
    out = {}
    for axis in AXES:
        if gold is None or gold.empty:
            out[axis] = (np.zeros(0, int), np.zeros(0), np.zeros(0))
            continue
        pos = cand_index.get_indexer(gold["candidate_id"])
        keep = pos >= 0
        lo, hi = gold[f"{axis}_min"].to_numpy(float)[keep], gold[f"{axis}_max"].to_numpy(float)[keep]
        out[axis] = (pos[keep], (lo + hi) / 2, (hi - lo) / 2 + 0.25)
    return out


def rating_set(ratings: pd.DataFrame, candidates: pd.DataFrame | None = None,
               gold: pd.DataFrame | None = None, annotators=None) -> RatingSet:
    """From a frame with clip_id, candidate_id, annotator_id, alignment, fidelity (one row per rating).

    ``candidates`` (clip_id, candidate_id) adds candidates nobody rated yet; ``gold`` (candidate_id,
    alignment_min/max, fidelity_min/max) anchors the gold candidates; ``annotators`` (ids) fixes
    the annotator index (for warm starts), else the ids in ``ratings``, sorted.
    """
    cands = ratings[["clip_id", "candidate_id"]]
    if candidates is not None:
        cands = pd.concat([cands, candidates[["clip_id", "candidate_id"]]])
    cands = cands.drop_duplicates("candidate_id").sort_values(["clip_id", "candidate_id"], kind="stable")
    cand_index = pd.Index(cands["candidate_id"].to_numpy())
    clip_codes, clip_ids = pd.factorize(cands["clip_id"].to_numpy(), sort=True)
    if annotators is None:
        ann_codes, ann_ids = pd.factorize(ratings["annotator_id"].to_numpy(), sort=True)
    else:
        ann_ids = np.asarray(annotators)
        ann_codes = pd.Index(ann_ids).get_indexer(ratings["annotator_id"])
    return RatingSet(
        cand=cand_index.get_indexer(ratings["candidate_id"]).astype(np.int64),
        ann=ann_codes.astype(np.int64),
        scores={a: ratings[a].to_numpy(np.int64) for a in AXES},
        clip=clip_codes.astype(np.int64),
        cand_ids=cand_index.to_numpy(), clip_ids=np.asarray(clip_ids), ann_ids=np.asarray(ann_ids),
        gold=_gold_anchors(gold, cand_index),
    )
