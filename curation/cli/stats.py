"""``curate stats``: the dashboard's figures on the terminal. pandas loads only inside the command."""

from __future__ import annotations

import json

import click

from curation.cli._util import workspace_options


def format_table(headers: list[str], rows: list[list]) -> str:
    """A plain left-aligned text table; None prints as "-"."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def _ms(s: dict) -> str:
    """mean±std of one summarize() dict."""
    if s["mean"] is None:
        return "-"
    return f"{s['mean']:.2f}" + (f"±{s['std']:.2f}" if s["std"] is not None else "")


def _counts(s: dict) -> str:
    return "/".join(str(s["counts"][str(v)]) for v in range(1, 6))


def _pct(x) -> str:
    return "-" if x is None else f"{x:.1%}"


def _ci(s: dict) -> str:
    """mean [low, high] of one round-method axis; "-" when no interval (one clip)."""
    if s["mean"] is None:
        return "-"
    return f"{s['mean']:.2f}" + (f" [{s['low']:.2f}, {s['high']:.2f}]" if s["low"] is not None else "")


def print_rounds(rounds: dict) -> None:
    """Per round and method: means with intervals; then one line per head-to-head pair."""
    from annotate_app.stats.rounds import h2h_sentence

    cfg = rounds["config"]
    conf = f"{cfg['confidence']:.0%}".replace("%", " %")
    gold = "all clips" if cfg["include_gold"] else "gold clips left out"
    click.echo(f"\nrounds (current: {rounds['current']}; {gold}; mean over clips [{conf} t-interval])")
    click.echo(format_table(["round", "method", "clips", "ratings", "alignment", "fidelity", "composite"], [
        [m["round"], m["method"], m["clips"], m["ratings"], _ci(m["alignment"]), _ci(m["fidelity"]),
         _ci(m["composite"])] for m in rounds["methods"]]))
    click.echo(f"\nhead to head (paired on the round's clips by mean composite; ties count half; "
               f"[{conf} bootstrap over clips, seed {cfg['seed']}])")
    for row in rounds["head_to_head"]:
        click.echo(f"round {row['round']}: {h2h_sentence(row)}")
    if not rounds["head_to_head"]:
        click.echo("no clip has rated candidates of two methods yet")


def print_report(st: dict) -> None:
    p = st["progress"]
    click.echo(f"ratings      {st['ratings']}")
    click.echo(f"progress     {p['ratings_done_toward_overlap']}/{p['ratings_needed']} ratings toward k={p['overlap']} "
               f"({_pct(p['progress'])}); clips {p['clips_complete']} complete, {p['clips_in_progress']} in progress, "
               f"{p['clips_not_started']} not started")
    tp = st["throughput"]["overall"]
    skipped = ", ".join(tp["skipped_sources"])
    click.echo(f"throughput   {tp['ratings_per_hour'] or '-'} ratings/hour over {tp['active_hours']} active hours"
               + (f" (ratings from {skipped} carry no rating time: not counted)" if skipped else ""))
    o = st["over_assigned"]
    click.echo(f"over k       {o['over_assigned']} of {o['candidates_rated']} rated candidates ({_pct(o['share'])}) "
               f"have more than k={o['overlap']} ratings; {o['extra_ratings']} extra ratings")

    click.echo("\nagreement (Krippendorff's alpha, ordinal; units = candidates" +
               (")" if st["agreement"]["gold_included"] else ", gold clips left out)"))
    click.echo(format_table(["axis", "alpha", "reading", "units", "annotators", "note"], [
        [ax, a["alpha"], a["interpretation"], a["units"], a["annotators"], a["reason"]]
        for ax in ("alignment", "fidelity", "composite") for a in [st["agreement"][ax]]]))

    gold = {g["annotator_id"]: g for g in st["gold"]["annotators"]}
    rate = {t["annotator_id"]: t for t in st["throughput"]["annotators"]}
    click.echo("\nannotators (gold = ratings within the expected ranges / gold ratings)")
    click.echo(format_table(
        ["annotator", "role", "ratings", "clips", "leased", "done", "per hour", "gold", "gold acc", "check"], [
            [a["annotator_id"], a["role"], a["ratings"], a["clips_rated"], a["assignments_leased"],
             a["assignments_done"], rate.get(a["annotator_id"], {}).get("ratings_per_hour"),
             f"{g['passed']}/{g['gold_ratings']}" if g else None, _pct(g["accuracy"]) if g else None,
             ("LOW" if g["below_threshold"] else "ok") if g else None]
            for a in st["annotators"] for g in [gold.get(a["annotator_id"])]]))

    click.echo("\nannotators against the others (rho: Spearman of their composites vs the other raters' mean; "
               "bias: mean difference; s/clip: median hand-out to submit)")
    click.echo("(reliability, model bias: the annotator model's last fit, share of score variance that is "
               "quality and bias in points; empty before a fit, see --fit-model)")
    click.echo(format_table(["annotator", "shared", "rho", "bias", "reliability", "model bias", "clips timed",
                             "s/clip"], [
        [f["annotator_id"], f["shared_candidates"], f["consensus_spearman"], f["consensus_mean_diff"],
         f.get("model_reliability"), f.get("model_bias"), f["clips_timed"], f["median_seconds_per_clip"]]
        for f in st["annotator_figures"]]))
    d = st["doubt"]
    if d["fitted_clips"]:
        click.echo(f"\npair doubt (annotator model, fitted {d['fitted_at']}): {d['settled']} clips settled, "
                   f"{d['in_doubt']} in doubt; expected pair accuracy {d['expected_pair_accuracy']:.3f}")

    for title, key in (("scores by annotator", "scores_by_annotator"), ("scores by method", "scores_by_method")):
        click.echo(f"\n{title} (mean±std, then counts of 1/2/3/4/5)")
        heads = ["name", "n", "alignment", "1/2/3/4/5", "fidelity", "1/2/3/4/5", "composite"]
        rows = [[name, d["alignment"]["n"], _ms(d["alignment"]), _counts(d["alignment"]), _ms(d["fidelity"]),
                 _counts(d["fidelity"]), _ms(d["composite"]) if "composite" in d else None]
                for name, d in st[key].items()]
        click.echo(format_table(heads, rows))

    click.echo(f"\nflagged videos: {st['flagged']['candidates']} candidate(s) marked broken")
    if st["flagged"]["items"]:
        click.echo(format_table(["candidate", "method", "flagged by", "ratings", "comments"], [
            [f["candidate_id"], f["method"], f["flagged_by"], f["ratings"], "; ".join(f["comments"])[:60]]
            for f in st["flagged"]["items"]]))
    if o["items"]:
        click.echo("\ncandidates with more than k ratings")
        click.echo(format_table(["candidate", "method", "ratings"],
                                [[i["candidate_id"], i["method"], i["ratings"]] for i in o["items"]]))
    print_rounds(st["rounds"])
    open_clips = [c for c in st["clips"] if not c["complete"]]
    if open_clips:
        click.echo("\nclips not complete yet (least complete first)")
        click.echo(format_table(["clip", "gold", "candidates", "ratings", "annotators", "min/candidate", "progress"], [
            [c["clip_id"], "yes" if c["is_gold"] else "", c["candidates"], c["ratings"], c["annotators"],
             c["min_ratings"], _pct(c["progress"])] for c in open_clips]))


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys below).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0),
              help="Longest list printed (clips, flagged, over-assigned); 0 = all.")
@click.option("--idle-gap-minutes", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="A pause longer than this between two ratings is a break, not work time.")
@click.option("--min-gold-accuracy", default=0.8, show_default=True, type=click.FloatRange(0, 1),
              help="Annotators below this gold accuracy are marked LOW.")
@click.option("--include-gold-in-alpha", is_flag=True, help="Count gold clips in Krippendorff's alpha too.")
@click.option("--bootstrap", default=2000, show_default=True, type=click.IntRange(min=100),
              help="Bootstrap resamples per head-to-head win rate.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the bootstrap (the same seed gives the same intervals).")
@click.option("--fit-model", is_flag=True,
              help="Fit the annotator model now (as active allocation does in the background) before the report: "
                   "reliability and bias per annotator, settled / in-doubt clips. Minutes at 100k ratings.")
@workspace_options
def stats_cmd(as_json: bool, limit: int, idle_gap_minutes: float, min_gold_accuracy: float,
              include_gold_in_alpha: bool, bootstrap: int, seed: int, fit_model: bool, ws) -> None:
    """Progress, throughput, score distributions, agreement, gold accuracy, flags, rounds.

    The same figures as the app's admin dashboard. k is `overlap` in curate.toml.

    \b
    --json keys (docs/stats.md has every field):
      progress             ratings done toward k per ready candidate; clip states
      clips                per clip: candidates, ratings, annotators, min_ratings,
                           progress, complete (least complete first, --limit)
      annotators           per annotator: ratings, clips_rated, assignments_*,
                           first/last_rating_at
      throughput           overall and per annotator: ratings_per_hour,
                           active_hours, median_seconds_per_rating
      scores_by_annotator  {name: {alignment|fidelity|composite: {n, counts,
                           mean, std}, candidates}}; composite = (a + f) / 2
      scores_by_method     {method: {...the same...}}
      agreement            {alignment|fidelity|composite: {alpha, units,
                           annotators, interpretation, reason}} (ordinal alpha;
                           alpha is null with a reason when it cannot be computed)
      gold                 answers, gold_clips, per annotator: gold_ratings,
                           passed, accuracy, below_threshold
      flagged              candidates marked broken: flagged_by, ratings, comments
      over_assigned        candidates with more than k ratings: count, share,
                           extra_ratings, items
      rounds               current, list, methods (per round and method: clips,
                           ratings, alignment|fidelity|composite: {mean, low,
                           high}), head_to_head (per round and method pair:
                           method_a, method_b, clips, wins, ties, losses,
                           win_rate, low, high; method_a is the one winning more)
      annotator_figures    per annotator: shared_candidates, consensus_spearman,
                           consensus_mean_diff (vs the others' mean composite),
                           clips_timed, median_seconds_per_clip (lease to submit),
                           model_reliability (0..1), model_bias (points): the
                           annotator model's last fit (--fit-model, or the
                           background fit of allocation = "active")
      doubt                fitted_clips, settled, in_doubt,
                           expected_pair_accuracy, fitted_at (that fit)
      escalated            adaptive overlap: open, closed, items
    Example:  curate stats --json | jq .agreement.alignment.alpha
    """
    from annotate_app.assign import AssignConfig
    from annotate_app.stats import StatsConfig, compute_stats
    from annotate_app.stats.rounds import RoundStatsConfig

    k = AssignConfig.from_workspace(ws).overlap
    cfg = StatsConfig(overlap=k, idle_gap_minutes=idle_gap_minutes, min_gold_accuracy=min_gold_accuracy,
                      alpha_include_gold=include_gold_in_alpha, max_rows=limit,
                      rounds=RoundStatsConfig(bootstrap_samples=bootstrap, seed=seed))
    with ws.store() as store:
        if fit_model:
            from annotate_app.doubt.priority import refresh

            acfg = AssignConfig.from_workspace(ws)
            refresh(store, acfg.settle_confidence, acfg.overlap_max or acfg.overlap)
        st = compute_stats(store, k, cfg)
    if as_json:
        click.echo(json.dumps(st))
    else:
        print_report(st)
