"""``curate round start|list``: open the next round of a campaign, and see each round's size."""

from __future__ import annotations

import json

import click

from curation.cli._util import LazyGroup, term_plain, workspace_options


@click.group("round", cls=LazyGroup)
def round_group() -> None:
    """Rounds of a campaign: generate, rate, build pairs, train; then again.

    \b
    Clips join the round that is current when they are ingested; their
    candidates and ratings belong to the same round. `curate generate`, the
    annotation app and `curate build-pairs` work on the current round
    (generate and build-pairs take --rounds to choose others); `curate stats`
    reports every round. Existing workspaces are round 1.
    """


@round_group.command("start")
@click.option("--note", help='What is new in this round (e.g. "policy-r1 from runs/dpo1").')
@click.option("--allow-empty", is_flag=True, help="Open the next round even if the current one has no clips.")
@workspace_options
def start_cmd(note: str | None, allow_empty: bool, ws) -> None:
    """Open round N+1: clips ingested from now on belong to it.

    \b
    Typical loop:
      curate round start --note "policy-r1 added"
      curate ingest round2_clips.csv
      curate generate --methods policy-r1,hallo3
      curate annotate
      curate stats            # per-round means and head-to-head win rates
      curate build-pairs      # pairs from this round's ratings (--rounds 1,2 pools)
    """
    from storage.rounds import start_round

    with ws.store() as store:
        number = start_round(store, note=note, allow_empty=allow_empty)
    click.echo(f"round {number} started: new clips join it; generate, annotate and build-pairs work on it")


@round_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@workspace_options
def list_cmd(as_json: bool, ws) -> None:
    """Every round: when it started, its note, clips, ready candidates and ratings.

    --json: a list of {number, started_at, note, clips, candidates_ready, ratings, current}.
    """
    from curation.cli.stats import format_table
    from storage.rounds import round_summaries

    with ws.store() as store:
        rows = round_summaries(store)
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(format_table(["round", "started", "clips", "ready candidates", "ratings", "note"], [
        [f"{r['number']}{' (current)' if r['current'] else ''}", r["started_at"], r["clips"], r["candidates_ready"],
         r["ratings"], term_plain(r["note"]) if r["note"] is not None else None] for r in rows]))
