"""The store's content the stats are computed from, read in one snapshot into DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from storage import Store, read_frames

# Plain tables joined in pandas: integer keys merge faster than the database returns joined text.
RATINGS = """
SELECT id AS rating_id, candidate_pk, annotator_pk, alignment, fidelity, broken,
       CASE WHEN broken THEN comment END AS comment, source, created_at
FROM ratings ORDER BY id
"""
CANDIDATES = """
SELECT c.id AS candidate_pk, cl.clip_id AS clip_id, cl.is_gold AS is_gold, c.candidate_id AS candidate_id,
       c.method AS method, c.status AS status, cl.round AS round
FROM candidates c JOIN clips cl ON cl.id = c.clip_pk
ORDER BY cl.clip_id, c.candidate_id
"""
ANNOTATORS = "SELECT id AS annotator_pk, name AS annotator_id, role, source, active FROM annotators ORDER BY name"
ROUNDS = "SELECT number, started_at, note FROM rounds ORDER BY number"
ASSIGNMENTS = """
SELECT a.name AS annotator_id, cl.clip_id AS clip_id, s.status AS status
FROM assignments s JOIN annotators a ON a.id = s.annotator_pk JOIN clips cl ON cl.id = s.clip_pk
"""


@dataclass
class StatsData:
    """The store's content the figures are computed from (one row per rating/candidate/...)."""

    # rating_id, clip_id, candidate_id, method, annotator_id, alignment, fidelity, candidate_status,
    # is_gold, broken, comment (kept only when broken), source, created_at: ratings_frame's names; round
    ratings: pd.DataFrame
    candidates: pd.DataFrame  # clip_id, is_gold, candidate_id, method, status, round (the clip's)
    annotators: pd.DataFrame  # annotator_id, role, source, active
    assignments: pd.DataFrame  # annotator_id, clip_id, status
    gold: pd.DataFrame  # annotate_app.gold.gold_answers_frame
    rounds: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["number", "started_at", "note"]))


def _ratings(raw: pd.DataFrame, cands: pd.DataFrame, anns: pd.DataFrame) -> pd.DataFrame:
    # Categorical keys: a million ratings group by integer codes instead of hashing strings.
    keys = {c: "category" for c in ("clip_id", "candidate_id", "method", "status")}
    df = raw.merge(cands.astype(keys), on="candidate_pk").merge(
        anns[["annotator_pk", "annotator_id"]].astype({"annotator_id": "category"}), on="annotator_pk")
    df = df.rename(columns={"status": "candidate_status"}).drop(columns=["candidate_pk", "annotator_pk"])
    return df.astype({"alignment": int, "fidelity": int, "broken": bool}).sort_values("rating_id", ignore_index=True)


def load_data(store: Store) -> StatsData:
    from annotate_app.gold import GOLD_ANSWERS, typed_gold_frame

    f = read_frames(store, {"ratings": RATINGS, "candidates": CANDIDATES, "annotators": ANNOTATORS,
                            "assignments": ASSIGNMENTS, "gold": GOLD_ANSWERS, "rounds": ROUNDS})
    cands, anns = f["candidates"], f["annotators"]
    cands["is_gold"] = cands["is_gold"].astype(bool)
    cands["round"] = cands["round"].astype(int)
    anns["active"] = anns["active"].astype(bool)
    f["ratings"]["created_at"] = pd.to_datetime(f["ratings"]["created_at"], utc=True, format="ISO8601")
    ratings = _ratings(f["ratings"], cands, anns)
    rounds = f["rounds"].assign(started_at=pd.to_datetime(f["rounds"]["started_at"], utc=True, format="ISO8601")
                                .dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    return StatsData(ratings, cands.drop(columns="candidate_pk"), anns.drop(columns="annotator_pk"),
                     f["assignments"], typed_gold_frame(f["gold"]), rounds)
