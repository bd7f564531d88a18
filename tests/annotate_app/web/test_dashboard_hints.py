"""The dashboard's "Next step" lines and its table cells, on figures written by hand."""

from __future__ import annotations

import pandas as pd

from annotate_app.web.dashboard_hints import annotator_to_check, next_steps


def _frames(figs=None, gold=None, flagged=None):
    return {
        "annotator_figures": pd.DataFrame(figs or [], columns=["annotator_id", "shared_candidates",
                                                              "consensus_spearman", "consensus_mean_diff"]),
        "gold_accuracy": pd.DataFrame(gold or [], columns=["annotator_id", "accuracy"]),
        "flagged": pd.DataFrame(flagged or [], columns=["candidate_id", "method", "status", "ratings",
                                                        "flagged_by", "share", "comments"]),
    }


def _fig(complete=0, clips=4, alpha=0.9, interp="reliable"):
    ag = {"alpha": alpha, "interpretation": interp, "reason": None}
    return {"progress": {"clips": clips, "clips_complete": complete},
            "agreement": {"alignment": ag, "fidelity": {"alpha": 0.85, "interpretation": "reliable"}}}


def test_quiet_campaign_says_nothing_needs_you():
    assert next_steps(_fig(), _frames()) == ["Nothing needs you now: the annotators are rating."]


def test_the_annotator_with_most_reasons_is_named():
    figs = [("ann", 8, 0.9, 0.1), ("bob", 8, 0.1, -1.5), ("cy", 8, 0.2, 0.0)]
    gold = [("cy", 1.0), ("bob", 0.25)]
    # bob: rho 0.1 < 0.3, 1.5 points harsher, gold 25 %: three reasons; cy one; ann none
    assert annotator_to_check(_frames(figs, gold)) == (
        "Check annotator **bob**: ρ vs others 0.10, harsher than the others by 1.5 points, gold accuracy 25%.")
    assert annotator_to_check(_frames([("ann", 8, 0.9, 0.1)])) is None
    assert annotator_to_check(_frames([("nan", 2, float("nan"), float("nan"))])) is None  # too few shared


def test_flagged_video_alpha_below_chance_and_pairs_in_order():
    flagged = [("c7", "lipsync_blur", "ready", 3, 2, 0.67, "black"), ("c2", "still", "ready", 3, 1, 0.33, "")]
    lines = next_steps(_fig(complete=1, alpha=-0.21, interp="below chance"), _frames(flagged=flagged), page_errors=2)
    assert lines == [
        "2 page error(s) were logged: see `logs/app-errors.log` in the workspace (each annotator saw its reference).",
        "Look at flagged video **c7** (lipsync\\_blur): marked broken by 2 of 3 (1 more below).",
        "Agreement on alignment is below chance (alpha -0.21): go over the rubric's anchors with the annotators.",
        ("1 of 4 clips are complete: `curate build-pairs` can already build pairs from them (a trial manifest); "
         "wait for all for the real one."),
    ]
    done = next_steps(_fig(complete=4), _frames())
    assert done == ["Every clip is complete: build the pairs (`curate build-pairs --min-margin 1`)."]


def test_table_cells_empty_as_a_dash_shares_as_percent():
    from annotate_app.web.dashboard_annotators import readable

    frame = pd.DataFrame({"annotator_id": ["ann", "bob"], "ratings": [4, 0], "consensus_spearman": [0.5, None],
                          "accuracy": [0.75, None], "target": pd.array([4, None], dtype="Int64"),
                          "comments": ["ok", None], "progress": [0.5, 1.0]})
    shown, config = readable(frame, list(frame.columns))
    assert shown.to_dict("list") == {
        "Annotator": ["ann", "bob"], "Ratings": [4, 0], "ρ vs others": ["0.50", "—"], "Gold acc.": ["75%", "—"],
        "Wants": ["4", "—"], "Comments": ["ok", "—"], "Progress": [0.5, 1.0]}
    assert config["Progress"]["type_config"]["format"] == "percent" and "Ratings" not in config
    assert config["Wants"]["alignment"] == "right"


def test_time_axis_is_24_hour_utc():
    import altair as alt

    from annotate_app.web import dashboard_annotators as da

    captured = {}

    class Target:
        def altair_chart(self, chart, **kw):
            captured["spec"] = chart.to_dict()

    over = pd.DataFrame({"time": pd.to_datetime(["2026-12-07 13:05:00", "2026-12-07 15:00:00"]), "ratings": [1, 3]})
    da.time_chart(over, "time", "ratings", target=Target())
    x = captured["spec"]["encoding"]["x"]
    assert x["axis"]["format"] == "%m-%d %H:%M" and x["scale"]["type"] == "utc"
    values = [row["time"] for row in next(iter(captured["spec"]["datasets"].values()))]
    assert values == ["2026-12-07T13:05:00Z", "2026-12-07T15:00:00Z"]  # naive store times are UTC
    assert alt  # altair is what draws it
