"""The store's content the stats are computed from, read in one snapshot into DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from storage import Store, read_dataframes
from storage.queries import (
    GOLD_ANSWERS,
    STATS_ANNOTATORS,
    STATS_ASSIGNMENTS,
    STATS_BROKEN_REPORTS,
    STATS_CANDIDATES,
    STATS_CLIP_TARGETS,
    STATS_RATINGS,
    STATS_ROUNDS,
)
from storage.queries_doubt import DOUBT_SUMMARY, STATS_MODEL


@dataclass
class StatsData:
    """The store's content the figures are computed from (one row per rating/candidate/...)."""

    # rating_id, clip_id, candidate_id, method, annotator_id, alignment, fidelity, candidate_status,
    # is_gold, broken, comment (kept only when broken), source, created_at: ratings_frame's names; round
    ratings: pd.DataFrame
    candidates: pd.DataFrame  # clip_id, is_gold, candidate_id, method, status, round (the clip's)
    annotators: pd.DataFrame  # annotator_id, role, source, active
    assignments: pd.DataFrame  # annotator_id, clip_id, status, is_gold, leased_at, completed_at (UTC)
    gold: pd.DataFrame  # annotate_app.gold.gold_answers_frame
    rounds: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["number", "started_at", "note"]))
    targets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["clip_id", "target"]))  # open escalations
    # Broken without scores (annotate_app.submit): candidate_id, clip_id, method, candidate_status, annotator_id, comment
    broken_reports: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["candidate_id", "clip_id", "method", "candidate_status", "annotator_id", "comment"]))
    # The annotator model's last background fit (annotate_app.doubt.priority): per annotator and the round's summary.
    model: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["annotator_id", "model_reliability", "model_bias"]))
    doubt: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["fitted", "settled", "expected_accuracy", "fitted_at"]))


def _ratings(raw: pd.DataFrame, cands: pd.DataFrame, anns: pd.DataFrame) -> pd.DataFrame:
    # Categorical keys: a million ratings group by integer codes instead of hashing strings.
    keys = {c: "category" for c in ("clip_id", "candidate_id", "method", "status")}
    df = raw.merge(cands.astype(keys), on="candidate_pk").merge(
        anns[["annotator_pk", "annotator_id"]].astype({"annotator_id": "category"}), on="annotator_pk")
    df = df.rename(columns={"status": "candidate_status"}).drop(columns=["candidate_pk", "annotator_pk"])
    return df.astype({"alignment": int, "fidelity": int, "broken": bool}).sort_values("rating_id", ignore_index=True)


def load_data(store: Store) -> StatsData:
    from annotate_app.gold import typed_gold_frame

    f = read_dataframes(store, {"ratings": STATS_RATINGS, "candidates": STATS_CANDIDATES, "annotators": STATS_ANNOTATORS,
                            "assignments": STATS_ASSIGNMENTS, "gold": GOLD_ANSWERS, "rounds": STATS_ROUNDS,
                            "targets": STATS_CLIP_TARGETS, "broken_reports": STATS_BROKEN_REPORTS,
                            "model": STATS_MODEL, "doubt": DOUBT_SUMMARY})
    cands, anns = f["candidates"], f["annotators"]
    cands["is_gold"] = cands["is_gold"].astype(bool)
    cands["round"] = cands["round"].astype(int)
    anns["active"] = anns["active"].astype(bool)
    f["ratings"]["created_at"] = pd.to_datetime(f["ratings"]["created_at"], utc=True, format="ISO8601")
    ratings = _ratings(f["ratings"], cands, anns)
    asg = f["assignments"].astype({"is_gold": bool})
    for col in ("leased_at", "completed_at"):
        asg[col] = pd.to_datetime(asg[col], utc=True, format="ISO8601")
    rounds = f["rounds"].assign(started_at=pd.to_datetime(f["rounds"]["started_at"], utc=True, format="ISO8601")
                                .dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    reports = f["broken_reports"].merge(cands, on="candidate_pk").merge(anns[["annotator_pk", "annotator_id"]],
                                                                          on="annotator_pk")
    reports = reports.rename(columns={"status": "candidate_status"})[
        ["candidate_id", "clip_id", "method", "candidate_status", "annotator_id", "comment"]]
    return StatsData(ratings, cands.drop(columns="candidate_pk"), anns.drop(columns="annotator_pk"),
                     asg, typed_gold_frame(f["gold"]), rounds, f["targets"], reports, f["model"], f["doubt"])
