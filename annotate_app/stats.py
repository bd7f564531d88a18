"""Quality-control figures over the store: progress, throughput, scores, agreement, gold, flags.

Everything here is a pure function of a few DataFrames (``load_data``), so the
numbers are testable without a database; ``compute_stats`` gives the JSON-able
figures (``curate stats``, the dashboard) and ``stats_frames`` the tables behind
them for plots. The composite score is Hallo4's r = (alignment + fidelity) / 2.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from storage import Store

AXES = ("alignment", "fidelity")
SCORES = (1, 2, 3, 4, 5)

# Plain tables joined in pandas: integer keys merge faster than the database returns joined text.
RATINGS = """
SELECT id AS rating_id, candidate_pk, annotator_pk, alignment, fidelity, broken,
       CASE WHEN broken THEN comment END AS comment, source, created_at
FROM ratings ORDER BY id
"""
CANDIDATES = """
SELECT c.id AS candidate_pk, cl.clip_id AS clip_id, cl.is_gold AS is_gold, c.candidate_id AS candidate_id,
       c.method AS method, c.status AS status
FROM candidates c JOIN clips cl ON cl.id = c.clip_pk
ORDER BY cl.clip_id, c.candidate_id
"""
ANNOTATORS = "SELECT id AS annotator_pk, name AS annotator_id, role, source, active FROM annotators ORDER BY name"
ASSIGNMENTS = """
SELECT a.name AS annotator_id, cl.clip_id AS clip_id, s.status AS status
FROM assignments s JOIN annotators a ON a.id = s.annotator_pk JOIN clips cl ON cl.id = s.clip_pk
"""


@dataclass
class StatsConfig:
    """What counts, and how much to list. Every figure is documented in docs/stats.md."""

    # k: ratings wanted per ready candidate (curate.toml `overlap`).
    overlap: int = 3
    # A pause longer than this between two of an annotator's ratings is a break, not work time.
    idle_gap_minutes: float = 30.0
    # Annotators whose gold accuracy is below this are marked `below_threshold`.
    min_gold_accuracy: float = 0.8
    # Gold clips are usually left out of alpha: their obvious answers would inflate agreement.
    alpha_include_gold: bool = False
    # Ratings from these sources carry the time they reached the store (an import, a Label Studio
    # pull), not when they were made: counting them would show thousands of ratings per second.
    throughput_skip_sources: tuple[str, ...] = ("import", "labelstudio")
    # Longest lists in the JSON (clips, flagged, over-assigned); 0 = no limit. Frames are never cut.
    max_rows: int = 200

    def __post_init__(self) -> None:
        if not isinstance(self.overlap, int) or self.overlap < 1:
            raise ValueError(f"overlap must be an integer >= 1, got {self.overlap!r}")
        if not self.idle_gap_minutes > 0:
            raise ValueError(f"idle_gap_minutes must be > 0, got {self.idle_gap_minutes!r}")
        if not 0 <= self.min_gold_accuracy <= 1:
            raise ValueError(f"min_gold_accuracy must be within 0..1, got {self.min_gold_accuracy!r}")
        if self.max_rows < 0:
            raise ValueError(f"max_rows must be >= 0 (0 = no limit), got {self.max_rows!r}")
        self.throughput_skip_sources = tuple(self.throughput_skip_sources)


@dataclass
class StatsData:
    """The store's content the figures are computed from (one row per rating/candidate/...)."""

    # rating_id, clip_id, candidate_id, method, annotator_id, alignment, fidelity, candidate_status,
    # is_gold, broken, comment (kept only when broken), source, created_at: ratings_frame's names
    ratings: pd.DataFrame
    candidates: pd.DataFrame  # clip_id, is_gold, candidate_id, method, status
    annotators: pd.DataFrame  # annotator_id, role, source, active
    assignments: pd.DataFrame  # annotator_id, clip_id, status
    gold: pd.DataFrame  # annotate_app.gold.gold_answers_frame


def read_frames(store: Store, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Run read-only SQL (no parameters) on a plain DBAPI cursor, all in one read snapshot.

    Not through SQLAlchemy: on SQLite every SQLAlchemy transaction starts with BEGIN
    IMMEDIATE (the writers' lock), so a long read would stall annotators' submissions.
    A deferred BEGIN in WAL mode is a snapshot that writers do not wait for; on
    PostgreSQL a REPEATABLE READ, READ ONLY transaction is the same. It is also 3-6x
    faster on a million rows than SQLAlchemy's per-row result processing.
    """
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        if store.dialect == "sqlite":
            cur.execute("BEGIN")
        elif store.dialect == "postgresql":  # one snapshot for every query, as on SQLite
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        out = {}
        for name, sql in queries.items():
            cur.execute(sql)
            out[name] = pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])
        raw.rollback()  # nothing was written; just end the snapshot
        return out
    finally:
        raw.close()


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
                            "assignments": ASSIGNMENTS, "gold": GOLD_ANSWERS})
    cands, anns = f["candidates"], f["annotators"]
    cands["is_gold"] = cands["is_gold"].astype(bool)
    anns["active"] = anns["active"].astype(bool)
    f["ratings"]["created_at"] = pd.to_datetime(f["ratings"]["created_at"], utc=True, format="ISO8601")
    ratings = _ratings(f["ratings"], cands, anns)
    return StatsData(ratings, cands.drop(columns="candidate_pk"), anns.drop(columns="annotator_pk"),
                     f["assignments"], typed_gold_frame(f["gold"]))


# --- progress ---------------------------------------------------------------------------------


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


# --- throughput ---------------------------------------------------------------------------------


def work_rate(times: pd.Series, idle_gap_s: float) -> dict:
    """Ratings per hour of work from rating timestamps.

    Sorted, each gap between consecutive ratings is one rating's worth of work,
    unless it is longer than ``idle_gap_s`` (a break). rate = counted gaps / their
    total time. Ratings at 0, 60 and 120 s: 2 gaps in 120 s -> 60 per hour. A clip
    submitted at once (5 ratings in the same second) adds 4 gaps of 0 s, so the rate
    stays right on average. No counted time (0 or 1 rating) -> rate None.
    """
    gaps = times.sort_values().diff().dt.total_seconds().dropna()
    work = gaps[gaps <= idle_gap_s]
    active = float(work.sum())
    return {
        "ratings": len(times),
        "active_hours": round(active / 3600, 4),
        "ratings_per_hour": round(len(work) * 3600 / active, 2) if active > 0 else None,
        "median_seconds_per_rating": round(float(work.median()), 2) if len(work) else None,
    }


def throughput(ratings: pd.DataFrame, cfg: StatsConfig) -> tuple[dict, pd.DataFrame]:
    """Overall (all annotators' timestamps pooled) and per-annotator work rates."""
    timed = ratings[~ratings["source"].isin(cfg.throughput_skip_sources)]
    gap = cfg.idle_gap_minutes * 60
    per = [{"annotator_id": a, **work_rate(g["created_at"], gap)} for a, g in timed.groupby("annotator_id")]
    overall = work_rate(timed["created_at"], gap)
    overall["first_at"] = timed["created_at"].min().isoformat() if len(timed) else None
    overall["last_at"] = timed["created_at"].max().isoformat() if len(timed) else None
    overall["skipped_sources"] = list(cfg.throughput_skip_sources)
    cols = ["annotator_id", "ratings", "active_hours", "ratings_per_hour", "median_seconds_per_rating"]
    return overall, pd.DataFrame(per, columns=cols)


def ratings_by_hour(ratings: pd.DataFrame) -> pd.DataFrame:
    """Ratings per annotator per clock hour (UTC), for a throughput plot."""
    hour = ratings["created_at"].dt.floor("h").rename("hour")
    return ratings.groupby([hour, "annotator_id"]).size().rename("ratings").reset_index()


# --- score distributions ------------------------------------------------------------------------


def with_composite(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings.assign(composite=(ratings["alignment"] + ratings["fidelity"]) / 2)


def summarize(values: pd.Series, domain) -> dict:
    """n, counts per value of ``domain``, mean and sample std (ddof=1; None below 2 values)."""
    counts = values.value_counts().reindex(domain, fill_value=0)
    n = len(values)
    return {
        "n": n,
        "counts": {f"{v:g}": int(c) for v, c in counts.items()},
        "mean": round(float(values.mean()), 4) if n else None,
        "std": round(float(values.std(ddof=1)), 4) if n > 1 else None,
    }


COMPOSITE_DOMAIN = tuple(x / 2 for x in range(2, 11))  # 1.0, 1.5, ..., 5.0


def score_distributions(ratings: pd.DataFrame, by: str) -> dict:
    """{group: {alignment|fidelity|composite: summarize(...), candidates: n}} for each value of column ``by``."""
    df = with_composite(ratings)
    out = {}
    for key, g in df.groupby(by, sort=True):
        out[key] = {a: summarize(g[a], SCORES) for a in AXES}
        out[key]["composite"] = summarize(g["composite"], COMPOSITE_DOMAIN)
        out[key]["candidates"] = int(g["candidate_id"].nunique())
    return out


def score_counts_long(ratings: pd.DataFrame, by: str) -> pd.DataFrame:
    """Long table (by, axis, score, count) for bar charts; composite in half steps."""
    df = with_composite(ratings)
    parts = []
    for axis, domain in (("alignment", SCORES), ("fidelity", SCORES), ("composite", COMPOSITE_DOMAIN)):
        c = df.groupby(by)[axis].value_counts().unstack(fill_value=0).reindex(columns=list(domain), fill_value=0)
        parts.append(c.stack().rename("count").rename_axis([by, "score"]).reset_index().assign(axis=axis))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out[[by, "axis", "score", "count"]]


# --- agreement ----------------------------------------------------------------------------------


def interpret_alpha(alpha: float) -> str:
    """Krippendorff's guide: >= 0.800 reliable, 0.667..0.800 tentative conclusions only."""
    return "reliable" if alpha >= 0.8 else "tentative" if alpha >= 0.667 else "low"


def ordinal_alpha_from_counts(counts: np.ndarray) -> float:
    """Krippendorff's alpha (ordinal) from a units x values count matrix, every unit with 2+ values.

    The same numbers as ``krippendorff.alpha(value_counts=..., level_of_measurement="ordinal")``
    (the tests hold it to that), vectorised: the coincidence matrix is one product,
    o = W^T C - diag(sum_u W_u) with W_u = C_u / (m_u - 1), where the package loops
    over units (6 s instead of 0.1 s for 500k candidates).
    alpha = 1 - (n - 1) * sum(o * d) / sum(n_c n_k * d), with the ordinal distance
    d_ck = (n_c + ... + n_k - (n_c + n_k) / 2)^2 over the value totals n_c.
    """
    counts = np.asarray(counts, dtype=float)
    w = counts / (counts.sum(axis=1, keepdims=True) - 1)
    o = w.T @ counts - np.diag(w.sum(axis=0))
    n_c = o.sum(axis=1)
    lo, hi = np.minimum.outer(np.arange(len(n_c)), np.arange(len(n_c))), np.maximum.outer(
        np.arange(len(n_c)), np.arange(len(n_c)))
    cum = np.concatenate([[0.0], np.cumsum(n_c)])
    d = (cum[hi + 1] - cum[lo] - (n_c[lo] + n_c[hi]) / 2) ** 2
    return float(1 - (n_c.sum() - 1) * (o * d).sum() / (np.outer(n_c, n_c) * d).sum())


def ordinal_alpha(units: pd.Series, raters: pd.Series, values: pd.Series, domain) -> dict:
    """Krippendorff's alpha, ordinal level, from long-form (unit, rater, value) rows.

    Equivalent to the annotators x units reliability matrix with NaN for missing,
    but reduced to unit x value counts, which is small however many annotators
    there are. Units with one value carry no pairing and are dropped.
    Worked example (2 raters, 4 units: (1,1), (1,2), (3,3), (2,3)): value totals
    n1=3, n2=2, n3=3, n=8; ordinal distances d12 = (3+2-2.5)^2 = 6.25, d23 = 6.25,
    d13 = (8-3)^2 = 25; observed sum over units 2*6.25 + 2*6.25 = 25; expected sum
    2*(3*2*6.25 + 2*3*6.25 + 3*3*25) = 600; alpha = 1 - (n-1)*25/600 = 17/24 = 0.7083.
    (Nominal alpha on the same data is 1/3: ordinal credits near misses.)
    """
    domain = list(domain)
    unit_code, _ = pd.factorize(units)
    value_idx = pd.Index(domain).get_indexer(values)
    if (value_idx < 0).any():
        raise ValueError(f"values outside the domain {domain}: {sorted(set(values[value_idx < 0]))}")
    # unit x value counts in one bincount (pandas crosstab is ~50x slower on 100k+ ratings)
    counts = np.bincount(unit_code * len(domain) + value_idx, minlength=(unit_code.max() + 1) * len(domain)
                         if len(unit_code) else 0).reshape(-1, len(domain))
    paired = counts.sum(axis=1) >= 2
    counts = counts[paired]
    info = {"alpha": None, "level": "ordinal", "units": int(paired.sum()),
            "annotators": int(raters[paired[unit_code]].nunique()) if len(unit_code) else 0,
            "pairable_values": int(counts.sum()), "interpretation": None, "reason": None}
    observed = [v for v, n in zip(domain, counts.sum(axis=0)) if n]
    if raters.nunique() < 2:
        info["reason"] = f"needs ratings from at least 2 annotators; found {raters.nunique()}"
    elif not len(counts):
        info["reason"] = "no candidate has ratings from 2 or more annotators yet"
    elif len(observed) < 2:
        info["reason"] = f"every paired rating is {observed[0]:g}: no variation, alpha is undefined"
    if info["reason"]:
        return info
    alpha = ordinal_alpha_from_counts(counts)
    info.update(alpha=round(alpha, 4), interpretation=interpret_alpha(round(alpha, 4)))
    return info


def agreement(ratings: pd.DataFrame, cfg: StatsConfig) -> dict:
    """Ordinal alpha per axis and on the composite; units are candidates, gold left out unless configured."""
    df = ratings if cfg.alpha_include_gold else ratings[~ratings["is_gold"]]
    # Composite as a + f (2..10) keeps the values integral; ordinal alpha only sees their order.
    cols = {"alignment": (df["alignment"], SCORES), "fidelity": (df["fidelity"], SCORES),
            "composite": (df["alignment"] + df["fidelity"], tuple(range(2, 11)))}
    # Integer codes once, not string hashing three times.
    units, raters = (pd.Series(pd.factorize(df[c])[0], index=df.index) for c in ("candidate_id", "annotator_id"))
    out = {name: ordinal_alpha(units, raters, v, d) for name, (v, d) in cols.items()}
    out["gold_included"] = cfg.alpha_include_gold
    return out


# --- flags and over-assignment ------------------------------------------------------------------


def flagged_videos(ratings: pd.DataFrame) -> pd.DataFrame:
    """Candidates at least one annotator marked broken, most-flagged first, with the flaggers' comments."""
    per = ratings.groupby("candidate_id").agg(
        clip_id=("clip_id", "first"), method=("method", "first"), status=("candidate_status", "first"),
        ratings=("rating_id", "size"), flagged_by=("broken", "sum"))
    broken = ratings[ratings["broken"]]
    comments = broken.dropna(subset=["comment"]).groupby("candidate_id")["comment"].agg(list)
    out = per[per["flagged_by"] > 0].join(comments.rename("comments"))
    out["flagged_by"] = out["flagged_by"].astype(int)
    out["share"] = (out["flagged_by"] / out["ratings"]).round(4)
    out["comments"] = out["comments"].apply(lambda c: c if isinstance(c, list) else [])
    return out.reset_index().sort_values(["flagged_by", "candidate_id"], ascending=[False, True], ignore_index=True)


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


# --- entry points -------------------------------------------------------------------------------


def records(df: pd.DataFrame, limit: int = 0) -> list[dict]:
    """JSON-safe rows (NaN -> None, timestamps -> ISO 8601); the first ``limit`` only when > 0."""
    return json.loads((df.head(limit) if limit else df).to_json(orient="records", date_format="iso"))


def _build(data: StatsData, cfg: StatsConfig) -> tuple[dict[str, pd.DataFrame], dict, dict]:
    """(frames, overall throughput, over-assignment summary): everything computed once."""
    from annotate_app.gold import gold_accuracy

    overall_tp, tp = throughput(data.ratings, cfg)
    over_summary, over_items = over_assigned(data.ratings, data.candidates, cfg.overlap)
    acc = gold_accuracy(data.ratings, data.gold, cfg.min_gold_accuracy)
    frames = {
        "ratings": data.ratings,
        "clips": clip_progress(data.ratings, data.candidates, cfg.overlap),
        "annotators": annotator_progress(data),
        "throughput": tp,
        "ratings_by_hour": ratings_by_hour(data.ratings),
        "scores_by_annotator": score_counts_long(data.ratings, "annotator_id"),
        "scores_by_method": score_counts_long(data.ratings, "method"),
        "gold_answers": data.gold,
        "gold_accuracy": pd.DataFrame(acc, columns=["annotator_id", "gold_ratings", "passed", "accuracy",
                                                    "alignment_passed", "fidelity_passed", "below_threshold"]),
        "flagged": flagged_videos(data.ratings),
        "over_assigned": over_items,
    }
    return frames, overall_tp, over_summary


def _report(data: StatsData, cfg: StatsConfig, f: dict[str, pd.DataFrame], overall_tp: dict, over: dict) -> dict:
    """Every figure as one JSON-able dict (keys documented in docs/stats.md)."""
    # Least complete first: the clips that need attention head a cut list.
    clips = f["clips"].sort_values(["complete", "progress", "clip_id"], na_position="first")
    gold_clips = int(data.candidates.loc[data.candidates["is_gold"], "clip_id"].nunique())
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": asdict(cfg) | {"throughput_skip_sources": list(cfg.throughput_skip_sources)},
        "ratings": len(data.ratings),
        "progress": overall_progress(f["clips"], cfg.overlap),
        "clips": records(clips, cfg.max_rows),
        "annotators": records(f["annotators"]),
        "throughput": {"overall": overall_tp, "annotators": records(f["throughput"])},
        "scores_by_annotator": score_distributions(data.ratings, "annotator_id"),
        "scores_by_method": score_distributions(data.ratings, "method"),
        "agreement": agreement(data.ratings, cfg),
        "gold": {"answers": len(data.gold), "gold_clips": gold_clips, "annotators": records(f["gold_accuracy"])},
        "flagged": {"candidates": len(f["flagged"]), "items": records(f["flagged"], cfg.max_rows)},
        "over_assigned": over | {"items": records(f["over_assigned"], cfg.max_rows)},
    }


def _config(overlap: int, config: StatsConfig | None) -> StatsConfig:
    cfg = config or StatsConfig(overlap=overlap)
    return cfg if cfg.overlap == overlap else StatsConfig(**(asdict(cfg) | {"overlap": overlap}))


def compute_stats(store: Store, overlap: int, config: StatsConfig | None = None) -> dict:
    """All figures for the store, k = ``overlap`` (``config`` overrides the other defaults)."""
    return stats_and_frames(store, overlap, config)[0]


def stats_frames(store: Store, overlap: int = 3, config: StatsConfig | None = None) -> dict[str, pd.DataFrame]:
    """The tables behind ``compute_stats``, uncut, for the dashboard's plots and tables."""
    return _build(load_data(store), _config(overlap, config))[0]


def stats_and_frames(store: Store, overlap: int, config: StatsConfig | None = None) -> tuple[dict, dict]:
    """``(compute_stats(...), stats_frames(...))`` from one read of the store."""
    cfg = _config(overlap, config)
    data = load_data(store)
    frames, overall_tp, over = _build(data, cfg)
    return _report(data, cfg, frames, overall_tp, over), frames
