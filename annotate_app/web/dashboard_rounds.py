"""The dashboard's "Rounds" section: per-round method means and head-to-head win rates.

The figures are ``compute_stats``' ``rounds`` key and the ``round_methods`` frame
(annotate_app/stats/rounds.py), the same numbers as ``curate stats``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotate_app.stats.rounds import h2h_sentence


def _readable(table: pd.DataFrame) -> pd.DataFrame:
    """One column per axis, "mean [low, high]": twelve numeric columns did not fit 1366 px."""
    out = table[["method", "clips", "ratings"]].rename(columns=str.capitalize)
    for axis in ("alignment", "fidelity", "composite"):
        out[f"{axis.capitalize()} mean [interval]"] = [
            f"{m:.2f}" + ("" if pd.isna(lo) else f" [{lo:.2f}, {hi:.2f}]")
            for m, lo, hi in zip(table[axis], table[f"{axis}_low"], table[f"{axis}_high"])]
    return out


def render_rounds(fig: dict, frames: dict) -> None:
    rounds = fig["rounds"]
    st.subheader(f"Rounds (current: {rounds['current']})")
    if not rounds["methods"]:
        st.caption("No ratings yet.")
        return
    numbers = sorted({m["round"] for m in rounds["methods"]}, reverse=True)
    shown = st.selectbox("Round", numbers, index=0, key="dashboard_round")
    conf = f"{rounds['config']['confidence']:.0%}"
    st.caption(f"Means over the round's clips with {conf} t-intervals; head to head: share of clips where the "
               f"first method's mean composite is higher, ties counted half, {conf} bootstrap interval over clips."
               + ("" if rounds["config"]["include_gold"] else " Gold clips are left out."))
    table = frames["round_methods"]
    st.dataframe(_readable(table[table["round"] == shown]), hide_index=True, width="stretch")
    lines = [h2h_sentence(r) for r in rounds["head_to_head"] if r["round"] == shown]
    st.markdown("\n".join(f"- {line}" for line in lines) if lines else "No clip has two rated methods yet.")
