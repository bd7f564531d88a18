"""Progress toward k ratings per ready candidate, per clip and per annotator, and candidates past k."""

from __future__ import annotations

import pandas as pd

from annotate_app.stats.load import StatsData


def _per_candidate(ratings: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Every candidate with its rating count ``n``."""
    n = ratings.groupby("candidate_id").size().rename("n")
    out = candidates.merge(n, left_on="candidate_id", right_index=True, how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    return out


def clip_progress(ratings: pd.DataFrame, candidates: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per clip: ready candidates, ratings, distinct annotators, ratings done toward k each, complete?"""
    per = _per_candidate(ratings, candidates)
    ready = per[per["status"] == "ready"].assign(done=lambda d: d["n"].clip(upper=k))
    g = ready.groupby("clip_id").agg(candidates=("n", "size"), min_ratings=("n", "min"), done=("done", "sum"))
    out = per.groupby("clip_id").agg(is_gold=("is_gold", "first"), ratings=("n", "sum")).join(g)
    out["annotators"] = ratings.groupby("clip_id")["annotator_id"].nunique().reindex(out.index).fillna(0)
    out = out.fillna({"candidates": 0, "min_ratings": 0, "done": 0}).astype(
        {"candidates": int, "min_ratings": int, "done": int, "annotators": int, "ratings": int})
    out["needed"] = out["candidates"] * k
    out["progress"] = (out["done"] / out["needed"].where(out["needed"] > 0)).round(4)
    out["complete"] = (out["candidates"] > 0) & (out["min_ratings"] >= k)
    return out.reset_index()


def overall_progress(clips: pd.DataFrame, k: int) -> dict:
    """The same numbers as ``curate status`` (ready candidates toward k ratings each), plus clip states."""
    needed, done = int(clips["needed"].sum()), int(clips["done"].sum())
    return {
        "overlap": k, "ratings_needed": needed, "ratings_done_toward_overlap": done,
        "progress": round(done / needed, 4) if needed else 0.0,
        "clips": len(clips), "clips_complete": int(clips["complete"].sum()),
        "clips_in_progress": int(((clips["done"] > 0) & ~clips["complete"]).sum()),
        "clips_not_started": int((clips["done"] == 0).sum()),
    }


def annotator_progress(data: StatsData) -> pd.DataFrame:
    """Per annotator: ratings, clips rated, assignments by status, first and last rating time."""
    r = data.ratings.groupby("annotator_id").agg(
        ratings=("rating_id", "size"), clips_rated=("clip_id", "nunique"),
        first_rating_at=("created_at", "min"), last_rating_at=("created_at", "max"))
    a = data.assignments.pivot_table(index="annotator_id", columns="status", aggfunc="size", fill_value=0)
    a = a.reindex(columns=["leased", "done", "released"], fill_value=0).add_prefix("assignments_")
    out = data.annotators.set_index("annotator_id").join(r).join(a)
    counts = ["ratings", "clips_rated", "assignments_leased", "assignments_done", "assignments_released"]
    out[counts] = out[counts].fillna(0).astype(int)
    return out.reset_index()


def over_assigned(ratings: pd.DataFrame, candidates: pd.DataFrame, k: int) -> tuple[dict, pd.DataFrame]:
    """Candidates with more than k ratings (Label Studio hands 4-9% of tasks to two people).

    Gold clips are left out: they are mixed into everyone's queue on purpose.
    ``share`` is over the non-gold candidates with at least one rating.
    """
    per = _per_candidate(ratings, candidates)
    rated = per[(per["n"] > 0) & ~per["is_gold"]]
    over = rated[rated["n"] > k].sort_values(["n", "candidate_id"], ascending=[False, True])
    summary = {
        "overlap": k, "candidates_rated": len(rated), "over_assigned": len(over),
        "share": round(len(over) / len(rated), 4) if len(rated) else 0.0,
        "extra_ratings": int((over["n"] - k).sum()), "max_ratings": int(rated["n"].max()) if len(rated) else 0,
    }
    items = over[["candidate_id", "clip_id", "method", "n"]].rename(columns={"n": "ratings"})
    return summary, items.reset_index(drop=True)
