"""The admin dashboard: progress, throughput, score distributions, agreement, gold accuracy, flags.

Sections with their own module: ``dashboard_annotators`` (progress over time, the annotator,
clip and flag tables with readable headers, escalated clips) and ``dashboard_rounds``.

Every figure comes from ``annotate_app.stats`` (the same numbers as ``curate stats``);
this page only lays them out. Method names are shown here on purpose: admins are not blind.
Tables go through ``formula_safe_frame`` (in ``dashboard_annotators.table``): each offers a CSV download, and a name or comment
such as ``=HYPERLINK(...)`` must not run when that file is opened in a spreadsheet.
"""

from __future__ import annotations

import time

import streamlit as st

from annotate_app.assign import AssignConfig
from annotate_app.web import chrome, context, signin
from annotate_app.web.dashboard_annotators import (
    CLIP_COLUMNS,
    FLAGGED_COLUMNS,
    render_annotators,
    render_escalated,
    render_progress,
    table,
    time_chart,
)
from annotate_app.web.dashboard_hints import next_steps
from annotate_app.web.dashboard_rounds import render_rounds

REFRESH_SECONDS = 30


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner="Computing statistics...")
def _stats(_store, url: str, overlap: int, minute: int):
    from annotate_app.stats import compute_stats, stats_frames

    return compute_stats(_store, overlap), stats_frames(_store, overlap)


def _load(store, overlap: int):
    try:
        return _stats(store, store.url, overlap, int(time.time() // REFRESH_SECONDS))
    except ImportError:
        return None


def _fmt(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _headline(fig: dict) -> None:
    p, tp = fig["progress"], fig["throughput"]["overall"]
    c = st.columns(5)
    c[0].metric("Clips complete", f"{p['clips_complete']} / {p['clips']}")
    c[1].metric("Ratings toward k", f"{p['ratings_done_toward_overlap']} / {p['ratings_needed']}")
    c[2].metric("Ratings per hour", _fmt(tp.get("ratings_per_hour"), 1))
    c[3].metric("Flagged videos", fig["flagged"]["candidates"])
    c[4].metric("Over-assigned", fig["over_assigned"]["over_assigned"])
    st.progress(min(1.0, float(p["progress"])), text=f"{p['progress']:.1%} of the ratings wanted (k = {p['overlap']})")


def _agreement(fig: dict) -> None:
    st.subheader("Agreement (Krippendorff's alpha, ordinal)")
    cols = st.columns(3)
    for col, axis in zip(cols, ("alignment", "fidelity", "composite")):
        a = fig["agreement"][axis]
        col.metric(axis, _fmt(a["alpha"]), help=a.get("reason") or a.get("interpretation"))
        col.caption(a.get("interpretation") or a.get("reason") or "")
    st.caption("Reading: reliable >= 0.800, tentative 0.667 to 0.800, low below; below chance (negative): "
               "the raters disagree more than random scores would.")


def _doubt(fig: dict) -> None:
    """The annotator model's last fit: how many pairs are settled, and the accuracy it expects of the pairs."""
    d = fig["doubt"]
    if not d["fitted_clips"]:
        return
    st.subheader("Pair doubt (annotator model)")
    c = st.columns(3)
    c[0].metric("Clips settled", f"{d['settled']} / {d['fitted_clips']}")
    c[1].metric("Clips in doubt", d["in_doubt"])
    c[2].metric("Expected pair accuracy", f"{d['expected_pair_accuracy']:.1%}",
                help="Mean over the round's clips of the model's confidence in each best-vs-worst pair.")
    st.caption(f"Last fit {d['fitted_at']}.")


def _distribution(frame, by: str, title: str) -> None:
    st.subheader(title)
    if frame.empty:
        st.caption("No ratings yet.")
        return
    for col, axis in zip(st.columns(2), ("alignment", "fidelity")):
        wide = frame[frame["axis"] == axis].pivot_table(index="score", columns=by, values="count", fill_value=0)
        # Column names become Vega-Lite field names, where ":" starts a type ("alice:x" broke the page).
        wide.columns = [str(c).replace(":", "\\:") for c in wide.columns]
        col.caption(axis)
        col.bar_chart(wide, stack=False, height=220)


def render() -> None:
    """The "Dashboard" page (admins only)."""
    account = st.session_state.get("account")
    if account is None or not account.is_admin:
        st.error("The dashboard is for admins.")
        return
    ws, store = context.workspace(), context.store()
    chrome.header("Dashboard", account, signin.sign_out)
    loaded = _load(store, AssignConfig.from_workspace(ws).overlap)
    if loaded is None:
        st.info("stats not available (annotate_app.stats is missing).")
        return
    fig, frames = loaded
    st.caption(f"Figures as of {fig['generated_at']} (refreshed every {REFRESH_SECONDS} s).")
    _headline(fig)
    errors, _ = chrome.recent_errors(ws)
    st.info("**Next step**  \n" + "  \n".join(next_steps(fig, frames, errors)))
    render_progress(frames)
    _agreement(fig)
    _doubt(fig)
    _distribution(frames["scores_by_method"], "method", "Scores per method")
    _distribution(frames["scores_by_annotator"], "annotator_id", "Scores per annotator")
    render_rounds(fig, frames)
    render_annotators(frames)
    if not frames["ratings_by_hour"].empty:
        st.caption("Ratings per hour (UTC)")
        time_chart(frames["ratings_by_hour"], "hour", "ratings", color="annotator_id", mark="bar")
    render_escalated(frames)
    st.subheader("Progress per clip")
    table(frames["clips"], CLIP_COLUMNS)
    st.subheader("Flagged videos")
    if frames["flagged"].empty:
        st.caption("No video was marked broken.")
    else:
        table(frames["flagged"], FLAGGED_COLUMNS)
