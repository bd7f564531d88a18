"""The quality-control report over the store: throughput, score distributions, agreement, flagged videos,
and `compute_stats` / `stats_frames`, which assemble it with the other modules' parts.

Everything here is a pure function of a few DataFrames (``load_data``), so the
numbers are testable without a database; ``compute_stats`` gives the JSON-able
figures (``curate stats``, the dashboard) and ``stats_frames`` the tables behind
them for plots. The composite score is Hallo4's r = (alignment + fidelity) / 2.
Reading the store lives in ``load``, progress toward k in ``progress``, gold accuracy in
``gold_accuracy`` and Krippendorff's alpha in ``alpha``; the package exports the public names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

import pandas as pd

from annotate_app.stats import annotators as per_annotator
from annotate_app.stats.alpha import ordinal_alpha
from annotate_app.stats.gold_accuracy import gold_accuracy
from annotate_app.stats.load import StatsData, load_data
from annotate_app.stats.progress import annotator_progress, clip_progress, over_assigned, overall_progress
from annotate_app.stats.rounds import RoundStatsConfig, round_frames, round_report
from storage import AXES, Store

SCORES = (1, 2, 3, 4, 5)


@dataclass
class StatsConfig:
    """What counts, and how much to list. Every figure is documented in docs/stats.md."""

    overlap: int = field(default=3, metadata={"help": "k: ratings wanted per ready candidate (curate.toml overlap)."})
    idle_gap_minutes: float = field(default=30.0, metadata={
        "help": "A pause longer than this between two of an annotator's ratings is a break, not work time."})
    min_gold_accuracy: float = field(default=0.8, metadata={
        "help": "Annotators whose gold accuracy is below this (0..1) are marked below_threshold."})
    alpha_include_gold: bool = field(default=False, metadata={
        "help": "Count gold clips in alpha; off by default, as their obvious answers would inflate agreement."})
    throughput_skip_sources: tuple[str, ...] = field(default=("import", "labelstudio"), metadata={
        "help": "Rating sources left out of throughput: their time is when they reached the store (an import, a "
                "Label Studio pull), not when they were made."})
    agreement_min_candidates: int = field(default=3, metadata={
        "help": "An annotator's agreement with the others (Spearman's rho) needs this many shared candidates."})
    max_rows: int = field(default=200, metadata={
        "help": "Longest lists in the JSON (clips, flagged, over-assigned); 0 = no limit. Frames are never cut."})
    rounds: RoundStatsConfig = field(default_factory=RoundStatsConfig, metadata={
        "help": "Per-round method means and head-to-head win rates (annotate_app/stats/rounds.py)."})

    def __post_init__(self) -> None:
        if not isinstance(self.overlap, int) or self.overlap < 1:
            raise ValueError(f"overlap must be an integer >= 1, got {self.overlap!r}")
        if not self.idle_gap_minutes > 0:
            raise ValueError(f"idle_gap_minutes must be > 0, got {self.idle_gap_minutes!r}")
        if not 0 <= self.min_gold_accuracy <= 1:
            raise ValueError(f"min_gold_accuracy must be within 0..1, got {self.min_gold_accuracy!r}")
        if not isinstance(self.agreement_min_candidates, int) or self.agreement_min_candidates < 2:
            raise ValueError(f"agreement_min_candidates must be an integer >= 2, got {self.agreement_min_candidates!r}")
        if self.max_rows < 0:
            raise ValueError(f"max_rows must be >= 0 (0 = no limit), got {self.max_rows!r}")
        self.throughput_skip_sources = tuple(self.throughput_skip_sources)


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


# --- flags ---------------------------------------------------------------------------------------


def flagged_videos(ratings: pd.DataFrame, reports: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidates at least one annotator marked broken, most-flagged first, with the flaggers' comments.

    ``reports``: broken reports without scores (a video marked broken, or one that could not load);
    each counts as one answer that flags the candidate."""
    if reports is not None and len(reports):
        cols = ["candidate_id", "clip_id", "method", "candidate_status", "broken", "comment"]
        extra = reports.assign(broken=True, rating_id=-1 - pd.RangeIndex(len(reports)))
        ratings = pd.concat([ratings[cols + ["rating_id"]].astype({c: object for c in cols[:4]}),
                             extra[cols + ["rating_id"]]], ignore_index=True)
    per = ratings.groupby("candidate_id", observed=True).agg(
        clip_id=("clip_id", "first"), method=("method", "first"), status=("candidate_status", "first"),
        ratings=("rating_id", "size"), flagged_by=("broken", "sum"))
    broken = ratings[ratings["broken"]]
    comments = broken.dropna(subset=["comment"]).groupby("candidate_id")["comment"].agg(list)
    out = per[per["flagged_by"] > 0].join(comments.rename("comments"))
    out["flagged_by"] = out["flagged_by"].astype(int)
    out["share"] = (out["flagged_by"] / out["ratings"]).round(4)
    out["comments"] = out["comments"].apply(lambda c: c if isinstance(c, list) else [])
    return out.reset_index().sort_values(["flagged_by", "candidate_id"], ascending=[False, True], ignore_index=True)


# --- entry points -------------------------------------------------------------------------------


def records(df: pd.DataFrame, limit: int = 0) -> list[dict]:
    """JSON-safe rows (NaN -> None, timestamps -> ISO 8601); the first ``limit`` only when > 0."""
    return json.loads((df.head(limit) if limit else df).to_json(orient="records", date_format="iso"))


def _build(data: StatsData, cfg: StatsConfig) -> tuple[dict[str, pd.DataFrame], dict, dict]:
    """(frames, overall throughput, over-assignment summary): everything computed once."""
    overall_tp, tp = throughput(data.ratings, cfg)
    over_summary, over_items = over_assigned(data.ratings, data.candidates, cfg.overlap)
    acc = gold_accuracy(data.ratings, data.gold, cfg.min_gold_accuracy)
    clips = clip_progress(data.ratings, data.candidates, cfg.overlap)
    frames = {
        "ratings": data.ratings,
        "clips": clips,
        "annotators": annotator_progress(data),
        "throughput": tp,
        "ratings_by_hour": ratings_by_hour(data.ratings),
        "scores_by_annotator": score_counts_long(data.ratings, "annotator_id"),
        "scores_by_method": score_counts_long(data.ratings, "method"),
        "gold_answers": data.gold,
        "gold_accuracy": pd.DataFrame(acc, columns=["annotator_id", "gold_ratings", "passed", "accuracy",
                                                    "alignment_passed", "fidelity_passed", "below_threshold"]),
        "flagged": flagged_videos(data.ratings, data.broken_reports),
        "over_assigned": over_items,
        **round_frames(data.ratings, cfg.rounds),
        **_annotator_frames(data, clips, cfg),
    }
    return frames, overall_tp, over_summary


def _annotator_frames(data: StatsData, clips: pd.DataFrame, cfg: StatsConfig) -> dict[str, pd.DataFrame]:
    """Agreement with the others and seconds per clip per annotator, progress over time, escalations."""
    rated = data.ratings if cfg.alpha_include_gold else data.ratings[~data.ratings["is_gold"]]
    figs = per_annotator.consensus_agreement(rated, cfg.agreement_min_candidates).merge(
        per_annotator.seconds_per_clip(data.assignments), on="annotator_id", how="outer")
    figs = figs.merge(data.model.astype({"annotator_id": str}), on="annotator_id", how="left")
    figs = figs.astype({"shared_candidates": "Int64", "clips_timed": "Int64"})
    done_at = per_annotator.clip_complete_times(data.ratings, clips, data.candidates, cfg.overlap)
    return {
        "annotator_figures": figs.sort_values("annotator_id", ignore_index=True),
        "progress_over_time": per_annotator.progress_over_time(data.ratings["created_at"], done_at),
        "escalated": per_annotator.escalated_clips(data.assignments, data.targets, cfg.overlap),
    }


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
        "rounds": round_report(data.rounds, f, cfg.rounds),
        "annotator_figures": records(f["annotator_figures"]),
        "doubt": doubt_summary(data.doubt),
        "escalated": {"open": int((f["escalated"]["state"] == "open").sum()),
                      "closed": int((f["escalated"]["state"] == "closed").sum()),
                      "items": records(f["escalated"], cfg.max_rows)},
    }


def doubt_summary(doubt: pd.DataFrame) -> dict:
    """The last fit of the annotator model over this round: clips settled / in doubt, expected pair accuracy.

    Expected pair accuracy = the mean over fitted clips of the confidence in each clip's best-vs-worst pair:
    the share of pairs the model expects to be right if the round stopped now. All None before any fit.
    """
    row = doubt.iloc[0] if len(doubt) else None
    fitted = int(row["fitted"]) if row is not None and pd.notna(row["fitted"]) else 0
    if not fitted:
        return {"fitted_clips": 0, "settled": None, "in_doubt": None, "expected_pair_accuracy": None,
                "fitted_at": None}
    settled = int(row["settled"])
    return {"fitted_clips": fitted, "settled": settled, "in_doubt": fitted - settled,
            "expected_pair_accuracy": round(float(row["expected_accuracy"]), 4), "fitted_at": str(row["fitted_at"])}


def _config(overlap: int, config: StatsConfig | None) -> StatsConfig:
    cfg = config or StatsConfig(overlap=overlap)
    return cfg if cfg.overlap == overlap else replace(cfg, overlap=overlap)


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
