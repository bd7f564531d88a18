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
INTEGER = ("target", "shared_candidates")  # counts that arrive as floats when a cell is empty


EMPTY = "—"  # an empty cell (no figure yet), where Streamlit would print "None"
# Time axes: 24-hour UTC, as the ISO UTC times in the headers ("Figures as of ...+00:00").
TIME_FORMAT = "%m-%d %H:%M"


def _cell(v, percent: bool, integer: bool) -> str:
    if pd.isna(v):
        return EMPTY
    return f"{v:.0%}" if percent else str(int(v)) if integer else f"{v:.2f}"


def readable(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict]:
    """The named columns under their readable headers (formula-safe: the CSV download is a spreadsheet),
    and their column settings: shares as percentages, other fractions with 2 decimals. Streamlit's grid
    prints an empty cell as "None" whatever the format, so a numeric column with gaps becomes right-aligned
    text with "—" in them."""
    shown = formula_safe_frame(frame.reindex(columns=columns)).rename(columns=LABELS)
    config = {}
    for col, label in zip(columns, shown.columns):
        values, percent = shown[label], col in PERCENT
        if pd.api.types.is_bool_dtype(values):
            continue
        if not pd.api.types.is_numeric_dtype(values):
            shown[label] = values.astype(object).where(values.notna(), EMPTY)
            continue
        integer = pd.api.types.is_integer_dtype(values) or col in INTEGER
        if values.isna().any():
            shown[label] = [_cell(v, percent, integer) for v in values]
            config[label] = st.column_config.TextColumn(alignment="right")
        elif percent or not integer or col in INTEGER:
            config[label] = st.column_config.NumberColumn(format="percent" if percent else "%d" if integer else "%.2f")
    return shown, config


def table(frame: pd.DataFrame, columns: list[str]) -> None:
    shown, config = readable(frame, columns)
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config)


def time_chart(frame: pd.DataFrame, x: str, y: str, *, color: str | None = None, mark: str = "line",
               height: int = 200, target=None) -> None:
    """``y`` over UTC time ``x`` with a 24-hour axis (Streamlit's own charts use a 12-hour clock, no AM/PM)."""
    import altair as alt

    # ISO strings ending in Z: a naive time (SQLite) would be read as the browser's local time.
    frame = frame.assign(**{x: pd.to_datetime(frame[x], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")})
    base = alt.Chart(frame, height=height)
    chart = (base.mark_bar() if mark == "bar" else base.mark_line(point=len(frame) < 3)).encode(
        x=alt.X(f"{x}:T", title="time (UTC)", scale=alt.Scale(type="utc"),
                axis=alt.Axis(format=TIME_FORMAT, labelAngle=0)),
        y=alt.Y(f"{y}:Q", title=y.replace("_", " ")),
        tooltip=[alt.Tooltip(f"{x}:T", format="%Y-%m-%d %H:%M UTC", title="time"), f"{y}:Q"]
        + ([f"{color}:N"] if color else []),
        **({"color": alt.Color(f"{color}:N", title=LABELS.get(color, color))} if color else {}),
    )
    (target or st).altair_chart(chart, width="stretch")


def render_progress(frames: dict) -> None:
    """Cumulative ratings and clips complete over time, side by side (their scales differ)."""
    st.subheader("Progress over time")
    over = frames["progress_over_time"]
    if over.empty:
        st.caption("No ratings yet.")
        return
    left, right = st.columns(2)
    left.caption("Ratings stored (cumulative)")
    time_chart(over, "time", "ratings", target=left)
    right.caption("Clips complete: every ready candidate has k ratings (cumulative)")
    time_chart(over, "time", "clips_complete", target=right)


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
