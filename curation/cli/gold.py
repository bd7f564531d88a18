"""``curate gold mark|unmark|list|import``: gold clips with known answers. Only flag parsing here."""

from __future__ import annotations

import json

import click

from curation.cli._util import workspace_options

RANGE_HELP = "Expected {axis} scores, inclusive: 1-2, 4-5 or a single 5 (default 1-5: not checked)."


@click.group("gold")
def gold_group() -> None:
    """Gold clips: candidates whose right answer is known, to check annotators.

    \b
    Make known-bad candidates for a few clips, then mark them:
      curate generate --methods lipsync_offset,lipsync_blur --clips clip_007,clip_031
      curate gold mark clip_007 --candidate lipsync_offset --alignment 1-2 \\
          --note "audio shifted 0.4 s"
      curate gold mark clip_031 --candidate lipsync_blur --fidelity 1-2
    lipsync_offset moves the mouth 0.4 s behind the audio (bad alignment);
    lipsync_blur is heavily blurred and noisy (bad fidelity). Any candidate
    works (your own re-encoded video, a real recording expected at 4-5).
    The app mixes gold clips into every annotator's queue; `curate stats`
    reports each annotator's gold accuracy:
    the share of their gold ratings with BOTH scores inside the ranges.
    """


@gold_group.command("mark")
@click.argument("clip_id")
@click.option("--candidate", required=True, help="candidate_id, or the method name of one of the clip's candidates.")
@click.option("--alignment", default=None, help=RANGE_HELP.format(axis="alignment"))
@click.option("--fidelity", default=None, help=RANGE_HELP.format(axis="fidelity"))
@click.option("--note", default=None, help='Why this answer is known, e.g. "audio shifted 0.4 s".')
@workspace_options
def mark_cmd(clip_id: str, candidate: str, alignment: str | None, fidelity: str | None, note: str | None, ws) -> None:
    """Mark CLIP_ID gold with the expected answer for one of its candidates.

    Marking the same candidate again replaces its ranges and note. At least one
    of --alignment / --fidelity is required.
    """
    from annotate_app.gold import GoldSpec, mark_gold, parse_range

    spec = GoldSpec(clip_id, candidate, parse_range(alignment, "--alignment"), parse_range(fidelity, "--fidelity"), note)
    with ws.store() as store:
        outcome = mark_gold(store, spec)
    click.echo(f"gold {clip_id} / {candidate}: alignment {spec.alignment}, fidelity {spec.fidelity} ({outcome})")


@gold_group.command("unmark")
@click.argument("clip_id")
@click.option("--candidate", default=None, help="Remove only this candidate's answer (id or method).")
@workspace_options
def unmark_cmd(clip_id: str, candidate: str | None, ws) -> None:
    """Remove CLIP_ID's gold answers; the clip becomes an ordinary clip when none remain.

    Ratings already given are kept; they just stop counting as gold checks.
    """
    from annotate_app.gold import unmark_gold

    with ws.store() as store:
        n = unmark_gold(store, clip_id, candidate)
    click.echo(f"removed {n} gold answer(s) from {clip_id}")


@gold_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@workspace_options
def list_cmd(as_json: bool, ws) -> None:
    """Every gold answer, with how many ratings it has and how many passed.

    --json: a list of objects with keys clip_id, candidate_id, method,
    alignment_min, alignment_max, fidelity_min, fidelity_max, note, ratings, passed.
    """
    from annotate_app.gold import gold_answers_frame
    from curation.cli.stats import format_table

    with ws.store() as store:
        df = gold_answers_frame(store)
    rows = json.loads(df.to_json(orient="records"))
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no gold answers; mark one with `curate gold mark CLIP_ID --candidate ... --alignment 1-2`")
        return
    table = [
        [r["clip_id"], r["candidate_id"], r["method"], f"{r['alignment_min']}-{r['alignment_max']}",
         f"{r['fidelity_min']}-{r['fidelity_max']}", r["ratings"], r["passed"], r["note"] or ""]
        for r in rows
    ]
    click.echo(format_table(["clip", "candidate", "method", "align", "fidelity", "ratings", "passed", "note"], table))


@gold_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@workspace_options
def import_cmd(file: str, ws) -> None:
    """Gold answers from FILE (.csv, .jsonl or .parquet), all rows or none.

    \b
    Columns:
      clip_id                     an ingested clip
      candidate_id                one of its candidates (id or method name)
      alignment_min, alignment_max  integers 1-5; empty = 1 / 5
      fidelity_min, fidelity_max    integers 1-5; empty = 1 / 5
      note                        optional
    Example row:  clip_007,clip_007:lipsync_offset,1,2,,,audio shifted 0.4 s
    Importing the same file again changes nothing; new ranges replace old ones.
    """
    from annotate_app.gold import import_gold

    with ws.store() as store:
        rep = import_gold(store, file)
    click.echo(f"gold answers: {rep.added} added, {rep.unchanged} unchanged, {rep.updated} updated")
