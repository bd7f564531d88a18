"""Quality-control figures over the store: progress, throughput, scores, agreement, gold accuracy, flags.

Modules: ``load`` (the store's content in one snapshot), ``report`` (pure functions of those
DataFrames, and the entry points below), ``progress`` (progress toward k ratings), ``alpha``
(Krippendorff's ordinal alpha) and ``gold_accuracy``. Every figure is documented in docs/stats.md.
"""

from annotate_app.stats.alpha import interpret_alpha, ordinal_alpha, ordinal_alpha_from_counts
from annotate_app.stats.gold_accuracy import gold_accuracy
from annotate_app.stats.load import StatsData, load_data
from annotate_app.stats.report import (
    SCORES,
    StatsConfig,
    agreement,
    compute_stats,
    over_assigned,
    stats_and_frames,
    stats_frames,
    summarize,
    work_rate,
)

__all__ = [
    "SCORES",
    "StatsConfig",
    "StatsData",
    "agreement",
    "compute_stats",
    "gold_accuracy",
    "interpret_alpha",
    "load_data",
    "ordinal_alpha",
    "ordinal_alpha_from_counts",
    "over_assigned",
    "stats_and_frames",
    "stats_frames",
    "summarize",
    "work_rate",
]
