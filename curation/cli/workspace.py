"""Workspace and data in/out commands: init, ingest, import, export ratings, status."""

from __future__ import annotations

import json
from pathlib import Path

import click

from curation.cli._util import LazyGroup, default_sections, no_progress_option, workspace_options


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--db", envvar="CURATE_DB_URL", help="Database URL instead of the embedded SQLite file.")
@click.option("--overlap", default=3, show_default=True, type=click.IntRange(min=1), help="Annotators per clip (k).")
def init_cmd(directory: str, db: str | None, overlap: int) -> None:
    """Create a workspace in DIRECTORY (default: here).

    Writes curate.toml (database URL, media roots, rubric text, overlap k,
    generator settings), makes media/, manifests/, exports/, logs/, and creates
    and migrates the store (SQLite file curate.db unless --db is given).
    --db URL is written to curate.toml unless it carries a password (secrets
    stay in the environment: pass it as CURATE_DB_URL). Running it again on an
    existing workspace only applies pending migrations.
    """
    from storage import redact
    from storage.workspace import init

    ws = init(directory, db=db, overlap=overlap, sections=default_sections(overlap))
    click.echo(f"workspace: {ws.root}")
    click.echo(f"store:     {redact(ws.database_url)}")
    if db and ws.config.database_url != db:
        click.echo("note:      the URL carries a password, so it was not written to curate.toml;\n"
                   "           keep passing it with --db or CURATE_DB_URL (or use ~/.pgpass).")
    click.echo(f"next:      curate -w {ws.root} ingest clips.csv")


@click.command("ingest")
@click.argument("manifest", type=click.Path(dir_okay=False))
@no_progress_option
@workspace_options
def ingest_cmd(manifest: str, no_progress: bool, ws) -> None:
    """Add input clips from MANIFEST (.csv, .jsonl or .parquet).

    \b
    Columns:
      clip_id   unique id of the clip (text)
      image     reference portrait (png/jpg/...)
      audio     driving audio (wav/mp3/m4a/...; a video's audio track works too)
      prompt    optional text prompt (FantasyTalking, Hallo3 use one)
      skeleton  optional pose file, or a folder of per-frame pose files
      video     optional ground-truth recording (mp4), for `curate eval`
    Paths are relative to the manifest's folder and must stay inside it or a
    media root of curate.toml. Every image and audio file is decoded and
    content-hashed. All rows are added in one transaction or none; ingesting
    the same manifest again changes nothing.
    """
    from curation.ingest import ingest_manifest

    rep = ingest_manifest(ws, manifest, progress=not no_progress)
    click.echo(f"clips: {rep.added} added, {rep.unchanged} unchanged")


@click.group("import", cls=LazyGroup)
def import_group() -> None:
    """Import candidate videos or ratings produced elsewhere."""


@import_group.command("candidates")
@click.argument("file", type=click.Path(dir_okay=False))
@no_progress_option
@workspace_options
def import_candidates_cmd(file: str, no_progress: bool, ws) -> None:
    """Register pre-generated videos from FILE (.csv, .jsonl, .parquet).

    \b
    Columns:
      clip_id       an ingested clip
      method        the generator's name (e.g. hallo3); one video per clip and method
      video         path to the mp4, relative to FILE's folder
      candidate_id  optional; default "<clip_id>:<method>"
    Each video is probed with decord (fps, frames, size, duration, audio track)
    and hashed. One transaction; importing the same file again changes nothing.
    """
    from curation.file_import import import_candidates

    rep = import_candidates(ws, file, progress=not no_progress)
    click.echo(f"candidates: {rep.added} added, {rep.unchanged} unchanged")
    for line in rep.warnings:
        click.echo(f"warning: {line}", err=True)


@import_group.command("ratings")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Overwrite existing ratings whose scores differ (old values kept as "
              "revisions).")
@click.option("--over-k", is_flag=True, help="Import ratings under app annotators' names even where that gives a "
              "clip more than k raters.")
@workspace_options
def import_ratings_cmd(file: str, replace: bool, over_k: bool, ws) -> None:
    """Import ratings collected elsewhere from FILE (.csv, .jsonl, .parquet).

    \b
    Columns (the same contract `curate export ratings` writes):
      candidate_id  the candidate (or give clip_id + method instead)
      clip_id       optional with candidate_id; checked when present
      method        optional with candidate_id
      annotator_id  the annotator's name; created when new
      alignment     integer 1-5: lips/body in sync with the audio
      fidelity      integer 1-5: natural expression, rendering quality
      comment, broken (true/false), seconds_watched   optional
    One transaction; a rating that exists with the same scores is skipped, with
    other scores it is an error unless --replace (the old scores are kept in
    rating_revisions). A rating under an app annotator's name counts as their
    submit of the clip; one that would give a clip more than k raters is refused
    unless --over-k. Comments are at most 2,000 characters.
    """
    from curation.file_import import import_ratings

    rep = import_ratings(ws, file, replace=replace, over_k=over_k)
    click.echo(f"ratings: {rep.added} added, {rep.unchanged} unchanged, {rep.updated} updated")


@click.group("export", cls=LazyGroup, lazy={"pairs": "curation.cli.pairs:export_pairs_cmd"},
             short={"pairs": "Export a pair manifest as a HF or Pick-a-Pic dataset."})
def export_group() -> None:
    """Export ratings or pairs."""


@export_group.command("ratings")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output file: .parquet, or .csv (formula-safe text cells); the suffix chooses.")
@click.option("--rounds", "rounds_spec", default="all", show_default=True, metavar="all|N[,N|N-M...]",
              help="Only the ratings of these rounds' clips.")
@workspace_options
def export_ratings_cmd(out: str, rounds_spec: str, ws) -> None:
    """Write every rating to a Parquet or CSV file (atomically: temp name, then rename).

    \b
    Columns: rating_id, clip_id, candidate_id, method, annotator_id,
    alignment, fidelity (int 1-5), video, candidate_status, is_gold, broken,
    comment, seconds_watched, source, created_at, updated_at (UTC), round.
    The first six are the input contract of `curate build-pairs --ratings`.
    A .csv gets a leading ' on text cells starting with = + - @ (a spreadsheet
    then shows them as text); other suffixes are refused.
    """
    from storage.export import export_ratings
    from storage.rounds import resolve_rounds

    with ws.store() as store:
        path, n = export_ratings(store, Path(out), rounds=resolve_rounds(store, rounds_spec))
    click.echo(f"wrote {n} ratings to {path}")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@workspace_options
def status_cmd(as_json: bool, ws) -> None:
    """Counts of clips, candidates, ratings, annotators, and rating progress.

    Progress is the share of the ratings needed for every ready candidate to
    have k (overlap) ratings. --json keys: clips, candidates, candidates_ready,
    candidates_failed, candidates_flagged, ratings, annotators, jobs_pending,
    jobs_failed, overlap, ratings_needed, ratings_done_toward_overlap,
    candidates_fully_rated, clips_fully_rated, progress, round (the current one).
    """
    from annotate_app.assign import AssignConfig
    from storage import redact
    from storage.export import status_counts

    with ws.store() as store:
        counts = status_counts(store, AssignConfig.from_workspace(ws).overlap)
    if as_json:
        click.echo(json.dumps(counts))
        return
    click.echo(f"workspace  {ws.root}\nstore      {redact(ws.database_url)}")
    click.echo(f"round      {counts['round']} (current; `curate round list` for all)")
    click.echo(f"clips      {counts['clips']} ({counts['clips_fully_rated']} fully rated)")
    click.echo(
        f"candidates {counts['candidates']} ({counts['candidates_ready']} ready, "
        f"{counts['candidates_failed']} failed, {counts['candidates_flagged']} flagged)"
    )
    click.echo(f"annotators {counts['annotators']}")
    click.echo(
        f"ratings    {counts['ratings']}  progress {counts['progress']:.1%} of "
        f"{counts['ratings_needed']} needed for k={counts['overlap']}"
    )
    if counts["jobs_pending"] or counts["jobs_failed"]:
        click.echo(f"jobs       {counts['jobs_pending']} pending, {counts['jobs_failed']} failed")
