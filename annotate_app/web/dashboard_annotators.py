"""The dashboard's progress-over-time charts and its tables, with readable column names.

Figures come from ``stats_frames`` (annotate_app/stats/annotators.py and report.py). Each table
shows a chosen set of columns under readable names (``LABELS``), few enough that it fits a
1366 px wide window without a horizontal scrollbar (tests/annotate_app/web/test_dashboard_browser.py).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from storage.csv_safe import formula_safe_frame

# frame column -> header shown; a table shows only the columns named for it below
LABELS = {
    "annotator_id": "Annotator", "role": "Role", "ratings": "Ratings", "clips_rated": "Clips",
    "assignments_leased": "In hand", "ratings_per_hour": "Ratings / h",
    "median_seconds_per_clip": "Median s / clip", "shared_candidates": "Shared",
    "consensus_spearman": "ρ vs others", "consensus_mean_diff": "Bias vs others", "accuracy": "Gold acc.",
    "clip_id": "Clip", "is_gold": "Gold", "candidates": "Candidates", "annotators": "Raters",
    "min_ratings": "Fewest", "progress": "Progress", "complete": "Complete", "candidate_id": "Candidate",
    "method": "Method", "status": "Status", "flagged_by": "Flagged by", "share": "Share", "comments": "Comments",
    "raters": "Raters done", "target": "Wants", "state": "State",
}
# role and clips in hand left out: eleven columns do not fit 1366 px beside the sidebar (measured)
ANNOTATOR_COLUMNS = ["annotator_id", "ratings", "clips_rated", "ratings_per_hour",
                     "median_seconds_per_clip", "shared_candidates", "consensus_spearman", "consensus_mean_diff",
                     "accuracy"]
CLIP_COLUMNS = ["clip_id", "is_gold", "candidates", "ratings", "annotators", "min_ratings", "progress", "complete"]
FLAGGED_COLUMNS = ["candidate_id", "method", "status", "ratings", "flagged_by", "share", "comments"]
ESCALATED_COLUMNS = ["clip_id", "raters", "target", "state"]
PERCENT = ("progress", "share", "accuracy")  # 0..1 figures shown as percentages


def table(frame: pd.DataFrame, columns: list[str]) -> None:
    """The named columns under their readable headers (formula-safe: the CSV download is a spreadsheet)."""
    shown = formula_safe_frame(frame.reindex(columns=columns)).rename(columns=LABELS)
    shares = {LABELS[c]: st.column_config.NumberColumn(format="percent") for c in PERCENT if c in columns}
    st.dataframe(shown, hide_index=True, width="stretch", column_config=shares)


def render_progress(frames: dict) -> None:
    """Cumulative ratings and clips complete over time, side by side (their scales differ)."""
    st.subheader("Progress over time")
    over = frames["progress_over_time"]
    if over.empty:
        st.caption("No ratings yet.")
        return
    left, right = st.columns(2)
    left.caption("Ratings stored (cumulative)")
    left.line_chart(over, x="time", y="ratings", height=200)
    right.caption("Clips complete: every ready candidate has k ratings (cumulative)")
    right.line_chart(over, x="time", y="clips_complete", height=200)


def render_annotators(frames: dict) -> None:
    st.subheader("Annotators")
    st.caption("Median s / clip: from hand-out to submit (breaks included; the median damps them). "
               "ρ vs others: Spearman's rank correlation of the annotator's composites with the mean of the other "
               "raters of the same candidates (Shared = how many); Bias vs others: their mean difference "
               "(below 0 = harsher). Gold clips left out, as in alpha.")
    ann = frames["annotators"].merge(frames["throughput"][["annotator_id", "ratings_per_hour"]], on="annotator_id",
                                     how="left")
    ann = ann.merge(frames["annotator_figures"], on="annotator_id", how="left")
    ann = ann.merge(frames["gold_accuracy"][["annotator_id", "accuracy"]], on="annotator_id", how="left")
    table(ann, ANNOTATOR_COLUMNS)


def render_escalated(frames: dict) -> None:
    esc = frames["escalated"]
    st.subheader(f"Escalated clips (adaptive overlap): {int((esc['state'] == 'open').sum())} open")
    if esc.empty:
        st.caption("No clip has asked for more than k raters (overlap_max in curate.toml; docs/annotate.md).")
        return
    st.caption("Open: the raters disagreed and the clip waits for one more (Wants); closed: it stopped past k.")
    table(esc, ESCALATED_COLUMNS)
