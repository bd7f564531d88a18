"""``curate build-pairs`` and ``curate export pairs``: parse flags, call one library function, report."""

from __future__ import annotations

import json

import click

from curation.cli._util import location_options
from curation.pairs.config import AGGREGATES, REWARDS, STRATEGIES


def _workspace(workspace: str | None, db: str | None, required: bool):
    """The workspace, or None when none is needed and none was asked for."""
    from storage.workspace import WorkspaceError, load

    try:
        return load(workspace, db=db)
    except WorkspaceError:
        if required or workspace is not None:
            raise
        return None


@click.command("build-pairs")
@click.option("--min-margin", default=0.0, show_default=True, type=float,
              help="Smallest reward gap kept (winner - loser >= it, and always winner > loser).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="best-vs-worst", show_default=True,
              help="Which pairs per clip (paper table 5).")
@click.option("--weights", default="alignment=0.5,fidelity=0.5", show_default=True,
              help="Composite reward weights; alignment=1,fidelity=0 is table 4's motion-only ablation.")
@click.option("--aggregate", type=click.Choice(AGGREGATES), default="mean", show_default=True,
              help="Per-axis aggregation over a candidate's annotators.")
@click.option("--reward", type=click.Choice(REWARDS), default="mean", show_default=True,
              help="mean: the --aggregate of the ratings; model: the annotator model's posterior means (bias and "
                   "reliability per annotator), with each pair's posterior probability in the confidence column.")
@click.option("--min-raters", default=1, show_default=True, type=click.IntRange(min=1),
              help="Drop candidates with fewer ratings.")
@click.option("--include-gold", is_flag=True, help="Also pair gold clips (left out by default).")
@click.option("--rounds", "rounds_spec", metavar="all|N[,N|N-M...]",
              help="Ratings of these rounds' clips (pooled); default: the current round. Not with --ratings.")
@click.option("--ratings", type=click.Path(dir_okay=False),
              help="A ratings Parquet file (as `curate export ratings` writes) instead of the store's ratings.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Manifest path (default: the next manifests/pairs-vNNNN.parquet of the workspace).")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.option("--dry-run", is_flag=True, help="Print the statistics; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as one JSON object.")
@click.option("--threads", type=click.IntRange(min=1), help="DuckDB threads (default: every core).")
@click.option("--memory-limit", default="2GB", show_default=True,
              help="DuckDB memory cap; beyond it work spills to a temp folder (10M ratings: about 1.7 GB peak RSS).")
@location_options("Workspace folder (default: $CURATE_WORKSPACE, else the current folder). "
                  "Optional with --ratings and --out.")
def build_pairs_cmd(min_margin, strategy, weights, aggregate, reward, min_raters, include_gold, rounds_spec, ratings, out,
                    force, dry_run, as_json, threads, memory_limit, workspace, db) -> None:
    """Turn ratings into a versioned DPO pair manifest (Parquet) and its dataset card.

    \b
    Rewards. Per candidate, each axis is aggregated over its annotators
    (--aggregate mean | median | zscore), then
        r = w_alignment * alignment + w_fidelity * fidelity   (default 0.5 / 0.5).
    zscore standardises each annotator's scores first, (x - their mean) / their
    standard deviation over the ratings that pass the exclusions; an annotator
    whose scores on an axis never vary contributes 0 on it. Its rewards and
    --min-margin are then in standard deviations.
    --reward model takes each axis from the annotator model instead (an
    ordinal model with a bias and a reliability per annotator, docs/stats.md):
    the posterior means, and the manifest's confidence column holds each
    pair's posterior probability (best-vs-worst: that it is the clip's
    best and worst with a gap >= --min-margin). Filter on it downstream.

    \b
    Pairs per clip (--strategy, the four of paper table 5):
      best-vs-worst    highest reward vs lowest: one pair per clip (default)
      best-vs-worse    highest vs every lower one
      better-vs-worst  every higher one vs the lowest
      better-vs-worse  every ordered pair with r_i > r_j
    A pair needs r_winner > r_loser and r_winner - r_loser >= --min-margin.
    Rewards are compared in millionths (rounded half up), so equal rewards tie
    exactly and a margin of exactly 1 is kept. Tied candidates are never paired
    with each other; where the best (or worst) is tied, the smallest
    candidate_id (string order) is taken.

    \b
    Left out: every candidate an annotator marked broken (broken=true on any
    of its ratings), candidates whose status is failed or flagged, gold clips
    (unless --include-gold), and candidates with fewer than --min-raters ratings.

    \b
    Input: the workspace's ratings, or --ratings FILE.parquet with columns
    clip_id, candidate_id, method, annotator_id, alignment, fidelity (1-5) and
    optionally video, image, audio, prompt, skeleton, candidate_status, is_gold,
    broken. Missing media columns are taken from the workspace store when there
    is one. A score outside 1-5, an empty cell, two ratings of one candidate by
    one annotator, or a candidate under two clips (methods, videos) is an error
    naming the row; nothing is written then.

    \b
    Rounds: from the store, only the ratings of the current round's clips
    (`curate round list`); --rounds 1,2 pools rounds, --rounds all takes every
    rating. The rounds used are recorded in the manifest's metadata.

    \b
    Output: manifests/pairs-v0001.parquet, -v0002, ... (never overwritten) and
    pairs-vNNNN.md beside it: counts, margin histogram, per-method wins. The
    Parquet metadata records the parameters, the sha256 of the ratings, the
    time and the tool version.

    \b
    Examples:
      curate build-pairs --min-margin 1
      curate build-pairs --strategy better-vs-worse --weights alignment=1,fidelity=0
      curate build-pairs --ratings ratings.parquet --out pairs.parquet --dry-run
    """
    from curation.pairs.build import build_pairs
    from curation.pairs.config import BuildPairsConfig, parse_weights
    from curation.pairs.manifest import write_manifest
    from storage.errors import CurateError

    cfg = BuildPairsConfig(strategy=strategy, min_margin=min_margin, weights=parse_weights(weights),
                           aggregate=aggregate, reward=reward, min_raters=min_raters, include_gold=include_gold)
    ws = _workspace(workspace, db, required=ratings is None or (out is None and not dry_run))
    store = ws.open_store() if ws is not None else None
    try:
        if ratings is None:
            from dataclasses import replace

            from storage.rounds import resolve_rounds

            cfg = replace(cfg, rounds=resolve_rounds(store, rounds_spec))
        elif rounds_spec is not None:
            raise click.BadParameter("--rounds selects the store's ratings; a --ratings file is used as it is.")
        result = build_pairs(cfg, ratings=ratings, store=store, threads=threads, memory_limit=memory_limit)
    finally:
        if store is not None:
            store.dispose()
    if dry_run:
        _print_dry_run(cfg, result, as_json)
        return
    if result.manifest.num_rows == 0:
        raise CurateError("no pairs: every clip lacks two eligible candidates at least --min-margin apart.")
    path, card, _meta = write_manifest(cfg, result, out=out, folder=ws.path("manifests") if ws else None,
                                      force=force)
    if as_json:
        click.echo(json.dumps({"manifest": str(path), "card": str(card), **result.stats,
                               "timings": result.timings}))
        return
    s = result.stats
    click.echo(f"wrote {s['pairs']} pairs from {s['clips_with_pairs']} clips to {path}")
    click.echo(f"card: {card}")
    for note in result.notes:
        click.echo(f"note: {note}")


def _print_dry_run(cfg, result, as_json: bool) -> None:
    from curation.pairs.card import render_card
    from curation.pairs.manifest import manifest_metadata

    if as_json:
        click.echo(json.dumps(result.stats))
        return
    meta = manifest_metadata(cfg, result, None)
    click.echo(render_card("pairs (dry run: nothing written)", meta, result.stats), nl=False)


@click.command("pairs")
@click.argument("manifest", type=click.Path(dir_okay=False, exists=True))
@click.option("--format", "fmt", type=click.Choice(["hf", "pickapic"]), required=True,
              help="hf: a Hugging Face dataset folder; pickapic: one Pick-a-Pic-style Parquet file.")
@click.option("--out", required=True, type=click.Path(), help="Output folder (hf) or .parquet file (pickapic).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="pickapic: which side the winner goes to is drawn from (seed, pair_id).")
@click.option("--force", is_flag=True, help="Replace an existing output.")
def export_pairs_cmd(manifest: str, fmt: str, out: str, seed: int, force: bool) -> None:
    """Export a pair MANIFEST (from `curate build-pairs`) for other trainers.

    \b
    hf        OUT/data/train-00000-of-00001.parquet + OUT/README.md (the card, with a
              `configs` header): datasets.load_dataset("OUT") or
              load_dataset("parquet", data_files="OUT/data/*.parquet"). Columns as in the manifest.
    pickapic  OUT.parquet with pair_id, clip_id, caption (the prompt, "" if none), image,
              audio, video_0, video_1, candidate_id_0/1, method_0/1, reward_0/1,
              label_0, label_1 (1.0 for the winner's side, 0.0 for the loser's). The
              winner's side is drawn per pair from --seed, so label_0 is 1 for about half.

    \b
    Example:
      curate export pairs manifests/pairs-v0001.parquet --format hf --out exports/pairs-hf
    """
    from curation.pairs.export import export_hf, export_pickapic

    if fmt == "hf":
        path, n = export_hf(manifest, out, force=force)
    else:
        path, n = export_pickapic(manifest, out, seed=seed, force=force)
    click.echo(f"wrote {n} pairs to {path}")
