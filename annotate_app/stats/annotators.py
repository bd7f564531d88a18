"""Per-annotator figures and progress over time: agreement with the others, seconds per clip, escalations.

Pure functions of the ``load_data`` frames (docs/stats.md, "How each figure is defined"):

- ``consensus_agreement``: each annotator's composites against the mean composite of the *other*
  raters of the same candidates (Spearman's rank correlation, and the mean signed difference);
- ``seconds_per_clip``: median of ``completed_at - leased_at`` over the annotator's finished clips;
- ``progress_over_time``: cumulative ratings and clips complete, at most ``max_points`` rows;
- ``escalated_clips``: clips adaptive overlap asked more raters for (open or already closed).
"""

from __future__ import annotations

import math

import pandas as pd

AGREEMENT_COLUMNS = ["annotator_id", "shared_candidates", "consensus_spearman", "consensus_mean_diff"]
TIMING_COLUMNS = ["annotator_id", "clips_timed", "median_seconds_per_clip"]


def spearman(x: pd.Series, y: pd.Series) -> float | None:
    """Spearman's rho: Pearson's r of the average ranks (ties share a rank); None when a side is constant."""
    rx, ry = x.rank().to_numpy(), y.rank().to_numpy()
    dx, dy = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((dx * dx).sum() * (dy * dy).sum()))
    return None if den == 0 else float((dx * dy).sum() / den)


def consensus_agreement(ratings: pd.DataFrame, min_shared: int = 3) -> pd.DataFrame:
    """Per annotator: candidates shared with another rater, rho against the others' mean, mean difference.

    A candidate counts for annotator i when i and at least one other annotator rated it; the
    consensus is the others' mean composite (a + f) / 2, so i never agrees with themself.
    ``consensus_mean_diff`` = mean of (i's composite - consensus): below 0 is a harsher rater.
    Fewer than ``min_shared`` candidates, or no variation on a side: rho is None.
    """
    comp = ratings.assign(c=(ratings["alignment"] + ratings["fidelity"]) / 2)
    comp = comp[["candidate_id", "annotator_id", "c"]].astype({"candidate_id": str, "annotator_id": str})
    per = comp.groupby("candidate_id")["c"].agg(["sum", "size"])
    comp = comp.join(per, on="candidate_id")
    shared = comp[comp["size"] >= 2].assign(others=lambda d: (d["sum"] - d["c"]) / (d["size"] - 1))
    rows = []
    for ann, g in shared.groupby("annotator_id", sort=True):
        rho = spearman(g["c"], g["others"]) if len(g) >= min_shared else None
        rows.append([ann, len(g), None if rho is None else round(rho, 4),
                     round(float((g["c"] - g["others"]).mean()), 4)])
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def seconds_per_clip(assignments: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: finished clips with both times, and the median seconds from hand-out to submit.

    The lease times, not the ratings' ``seconds_watched``: they include scoring and reading the
    rubric, and a clip watched in sync plays every candidate at once. A break or an edit made
    later stretches one clip; the median keeps a few of those from moving the figure.
    """
    done = assignments[(assignments["status"] == "done") & assignments["completed_at"].notna()
                       & assignments["leased_at"].notna()]
    secs = (done["completed_at"] - done["leased_at"]).dt.total_seconds().clip(lower=0)
    g = secs.groupby(done["annotator_id"].astype(str))
    out = pd.DataFrame({"clips_timed": g.size(), "median_seconds_per_clip": g.median().round(1)})
    return out.rename_axis("annotator_id").reset_index()[TIMING_COLUMNS]


def clip_complete_times(ratings: pd.DataFrame, clips: pd.DataFrame, candidates: pd.DataFrame, k: int) -> pd.Series:
    """When each complete clip became complete: the latest k-th rating over its ready candidates."""
    ready = candidates.loc[candidates["status"] == "ready", ["candidate_id", "clip_id"]].astype(str)
    r = ratings[["candidate_id", "created_at"]].astype({"candidate_id": str}).merge(ready, on="candidate_id")
    kth = r.sort_values("created_at").groupby("candidate_id").nth(k - 1)
    at = kth.groupby("clip_id")["created_at"].max()
    complete = clips.loc[clips["complete"], "clip_id"].astype(str)
    return at.reindex(complete).dropna()


def progress_over_time(rating_times: pd.Series, complete_times: pd.Series, max_points: int = 400) -> pd.DataFrame:
    """Cumulative ratings and clips complete (``time``, ``ratings``, ``clips_complete``), one row per step.

    Steps are ``ceil(span / max_points)`` seconds (at least 1 s) wide; each row is the count at the
    end of its step, so the last row equals the totals.
    """
    cols = ["time", "ratings", "clips_complete"]
    if rating_times.empty:
        return pd.DataFrame(columns=cols)
    start, end = rating_times.min(), rating_times.max()
    step = max(1, math.ceil((end - start).total_seconds() / max_points))
    bucket = lambda t: start + pd.to_timedelta(((t - start).dt.total_seconds() // step) * step, unit="s")
    r = rating_times.groupby(bucket(rating_times)).size()
    c = complete_times.groupby(bucket(complete_times)).size() if len(complete_times) else pd.Series(dtype=int)
    both = pd.concat([r.rename("ratings"), c.rename("clips_complete")], axis=1).fillna(0).sort_index().cumsum()
    return both.astype(int).rename_axis("time").reset_index()[cols]


def escalated_clips(assignments: pd.DataFrame, targets: pd.DataFrame, k: int) -> pd.DataFrame:
    """Clips past k raters or with an open target: ``clip_id``, ``raters`` (done), ``target``, ``state``.

    ``state`` is ``open`` while a ``clip_targets`` row asks for one more rater, else ``closed``.
    Gold clips are left out (everyone rates them on purpose).
    """
    done = assignments[(assignments["status"] == "done") & ~assignments["is_gold"]]
    raters = done.groupby("clip_id").size().rename("raters")
    t = targets.set_index("clip_id")["target"] if len(targets) else pd.Series(dtype="Int64", name="target")
    ids = sorted(set(raters[raters > k].index) | set(t.index))
    out = pd.DataFrame({"clip_id": ids})
    out["raters"] = raters.reindex(ids).fillna(0).astype(int).to_numpy()
    out["target"] = t.reindex(ids).astype("Int64").to_numpy() if ids else pd.array([], dtype="Int64")
    out["state"] = ["open" if pd.notna(x) else "closed" for x in out["target"]]
    return out
