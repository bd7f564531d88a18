"""The dashboard's "Next step" box: what an admin should look at now, worked out from the figures.

Each rule reads figures ``compute_stats`` / ``stats_frames`` already have (the same numbers as
``curate stats``); the thresholds are the rules of thumb docs/annotate.md states.
"""

from __future__ import annotations

import math

import pandas as pd

from annotate_app.web.plain_text import md_plain

# An annotator is worth a look when their composites rank unlike the others' (Spearman below this; the
# stats leave it empty under too few shared candidates), they are off by this much on average, or miss gold.
LOW_RHO = 0.3
BIG_BIAS = 1.0
LOW_GOLD = 0.5


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def annotator_to_check(frames: dict) -> str | None:
    """The one annotator most worth checking, and why; None when nobody stands out."""
    ann = frames["annotator_figures"].merge(frames["gold_accuracy"][["annotator_id", "accuracy"]],
                                            on="annotator_id", how="outer")
    worst = None  # (badness, sentence)
    for row in ann.itertuples(index=False):
        rho, bias = _num(getattr(row, "consensus_spearman", None)), _num(getattr(row, "consensus_mean_diff", None))
        acc = _num(row.accuracy)
        why = []
        if rho is not None and rho < LOW_RHO:
            why.append(f"ρ vs others {rho:.2f}")
        if bias is not None and abs(bias) >= BIG_BIAS:
            why.append(f"{'harsher' if bias < 0 else 'kinder'} than the others by {abs(bias):.1f} points")
        if acc is not None and acc < LOW_GOLD:
            why.append(f"gold accuracy {acc:.0%}")
        if why:
            badness = (len(why), -(rho if rho is not None else 1.0))
            if worst is None or badness > worst[0]:
                worst = (badness, f"Check annotator **{md_plain(row.annotator_id)}**: " + ", ".join(why) + ".")
    return worst[1] if worst else None


def next_steps(fig: dict, frames: dict, page_errors: int = 0) -> list[str]:
    """Short Markdown lines, most urgent first (stored names go through ``md_plain``)."""
    out = []
    if page_errors:
        out.append(f"{page_errors} page error(s) were logged: see `logs/app-errors.log` in the workspace "
                   "(each annotator saw its reference).")
    flagged: pd.DataFrame = frames["flagged"]
    if not flagged.empty:
        top = flagged.iloc[0]
        more = f" ({len(flagged) - 1} more below)" if len(flagged) > 1 else ""
        out.append(f"Look at flagged video **{md_plain(top['candidate_id'])}** ({md_plain(top['method'])}): marked broken by "
                   f"{int(top['flagged_by'])} of {int(top['ratings'])}{more}.")
    for axis in ("alignment", "fidelity"):
        a = fig["agreement"][axis]
        if a.get("interpretation") in ("below chance", "low"):
            out.append(f"Agreement on {axis} is {a['interpretation']} (alpha {a['alpha']:.2f}): go over the rubric's "
                       "anchors with the annotators.")
    if who := annotator_to_check(frames):
        out.append(who)
    p = fig["progress"]
    if p["clips"] and p["clips_complete"] == p["clips"]:
        out.append("Every clip is complete: build the pairs (`curate build-pairs --min-margin 1`).")
    elif p["clips_complete"]:
        out.append(f"{p['clips_complete']} of {p['clips']} clips are complete: `curate build-pairs` can already "
                   "build pairs from them (a trial manifest); wait for all for the real one.")
    return out or ["Nothing needs you now: the annotators are rating."]
