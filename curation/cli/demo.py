"""``curate demo``: the main job. A sample workspace, candidates from the built-in generators, two
accounts, and the annotation app served on localhost. Running it again reuses the workspace.

Everything in the demo is made by the project itself (drawn portraits, synthetic speech-like
audio, CPU generators), so it is redistributable.
"""

from __future__ import annotations

from pathlib import Path

import click

DEMO_METHODS = ["still", "lipsync", "lipsync_offset", "lipsync_blur"]
DEMO_USERS = (("demo", "annotator"), ("admin", "admin"))
# Enough clips that one person feels the flow of rating (several clips in a row, with their queue and edits),
# few enough that the CPU generators finish in about a minute on 2 cores (measured in docs/annotate.md).
DEMO_CLIPS = 8


def _sample_clips(ws) -> int:
    """Ingest the ``DEMO_CLIPS`` sample clips once; returns how many clips the store holds.

    An older demo workspace with fewer clips gets the missing ones: the clips are drawn from
    their index, so the first ones come out byte for byte the same and ingest leaves them be.
    """
    from sqlalchemy import func, select

    from curation.demo.media import make_sample_clips
    from curation.ingest import ingest_manifest
    from storage import Clip

    manifest = ws.path("media", "sample", "clips.csv")
    if not manifest.exists() or len(manifest.read_text().splitlines()) - 1 < DEMO_CLIPS:
        manifest = make_sample_clips(ws.path("media", "sample"), n=DEMO_CLIPS, seconds=2.0, size=256)
    ingest_manifest(ws, manifest)  # idempotent: same files, same rows
    with ws.store() as store, store.session() as s:
        return s.scalar(select(func.count()).select_from(Clip))


def _candidates(ws) -> str:
    """Candidate videos from the built-in generators (jobs already done are skipped)."""
    from generators.runner import run_generation

    report = run_generation(ws, DEMO_METHODS, progress=False)
    return f"{report.done} generated, {report.skipped} already there, {report.failed} failed"


GOLD_CLIP = "sample-003"
# Known answers the built-in generators make possible: a 0.4 s audio shift is out of sync,
# a blurred video is not a faithful portrait.
GOLD_ANSWERS = (("lipsync_offset", "1-2", "", "audio shifted by 0.4 s"),
                ("lipsync_blur", "", "1-2", "heavy blur"))


def _gold(ws) -> str:
    """Mark one sample clip gold so the dashboard shows gold accuracy (skipped without those candidates)."""
    from annotate_app.gold import GoldSpec, mark_gold, parse_range
    from storage.errors import CurateError

    with ws.store() as store:
        try:
            for method, align, fid, note in GOLD_ANSWERS:
                spec = GoldSpec(GOLD_CLIP, method, parse_range(align, "alignment"), parse_range(fid, "fidelity"), note)
                mark_gold(store, spec)
        except CurateError as e:
            return f"none ({e})"
    return f"{GOLD_CLIP} (lipsync_offset: alignment 1-2, lipsync_blur: fidelity 1-2)"


def _accounts(ws, port: int) -> list[tuple[str, str, str]]:
    """(name, password, link) for the demo accounts; new credentials on every run (old ones stop working)."""
    from sqlalchemy import select

    from annotate_app.accounts import add_annotator, login_url, reset_credentials
    from storage import Annotator

    with ws.store() as store:
        with store.session() as s:
            existing = set(s.scalars(select(Annotator.name)))
        out = []
        for name, role in DEMO_USERS:
            pw, token = reset_credentials(store, name) if name in existing else add_annotator(store, name, role=role)
            out.append((name, pw, login_url(token, port=port)))
        return out


def _round_stats(ws) -> dict:
    from annotate_app.assign import AssignConfig
    from annotate_app.stats import StatsConfig, compute_stats

    with ws.store() as store:
        k = AssignConfig.from_workspace(ws).overlap
        return compute_stats(store, k, StatsConfig(overlap=k))["rounds"]


@click.command("demo")
@click.argument("directory", required=False, default="demo-workspace", type=click.Path(file_okay=False))
@click.option("--port", default=8501, show_default=True, type=int, help="Port of the annotation app.")
@click.option("--no-serve", is_flag=True, help="Build the workspace and print the logins, but do not serve.")
@click.option("--rounds", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2: also run a two-round campaign in miniature (simulated raters, tiny SFT + DPO on CPU, "
                   "round 2 with the trained run as policy-r1; a few minutes).")
def demo_cmd(directory: str, port: int, no_serve: bool, rounds: int) -> None:
    """Build a sample workspace in DIRECTORY (default ./demo-workspace) and serve the annotation app.

    \b
    The port is checked first: when it is taken, nothing is built or reset.

    \b
    Steps (each skipped when already done, so a second run reuses everything):
      1. create the workspace (curate.toml + SQLite store)
      2. write 8 sample clips (drawn portrait + speech-like audio, 2 s) and ingest them
      3. generate candidates with the built-in CPU generators:
         still, lipsync, lipsync_offset, lipsync_blur
      4. mark sample-003 gold (known answers for lipsync_offset and lipsync_blur)
      5. create the accounts `demo` (annotator) and `admin` (dashboard);
         their passwords and login links are new on every run, unless
         the workspace is being served (then they are kept)
      6. serve the app on http://127.0.0.1:PORT/ until Ctrl-C

    \b
    With --rounds 2, between 4 and 5: two simulated raters score round 1,
    pairs are built, a tiny Wan is trained (SFT of the audio module, then
    DPO from it), round 2 opens with 3 new clips and the run as the
    `policy-r1` method, its candidates are rated, and the per-round means
    and head-to-head win rates are printed (`curate stats` shows them again).

    \b
    Example:
      curate demo                 # then open the printed link
      curate demo /tmp/demo --port 8600 --no-serve
    """
    from annotate_app.web.server import port_free, serving
    from curation.cli._util import default_sections
    from storage.workspace import init

    if not no_serve and not port_free(port):  # first: nothing is built or reset for a run that cannot serve
        raise click.ClickException(
            f"Port {port} is already in use (nothing was changed). If that is the demo you started before, open "
            f"http://127.0.0.1:{port}/ with the login it printed; else serve this one elsewhere: "
            f"curate demo --port {port + 1}")
    ws = init(Path(directory), sections=default_sections(3))
    click.echo(f"Workspace: {ws.root}")
    click.echo(f"Clips: {_sample_clips(ws)}")
    click.echo("Generating candidates (CPU, about a minute the first time)...")
    click.echo(f"Candidates: {_candidates(ws)}")
    click.echo(f"Gold clip: {_gold(ws)}")
    if rounds == 2:
        from curation.cli.stats import print_rounds
        from curation.demo.rounds import run_two_rounds

        ws = run_two_rounds(ws, DEMO_METHODS, click.echo)
        print_rounds(_round_stats(ws))
    click.echo("")
    if live := serving(ws):  # new logins would sign the open tabs out
        click.echo(f"This workspace is being served (process {live[0]}, http://127.0.0.1:{live[1]}/): its logins "
                   "were kept; use the ones that run printed (`curate annotators reset NAME` makes new ones).")
        return
    for name, pw, link in _accounts(ws, port):
        click.echo(f"  {name:<6} password {pw}   or open {link}")
    click.echo("")
    if no_serve:
        click.echo(f"Serve it with: curate annotate -w {ws.root} --port {port}")
        return
    from annotate_app.web.server import serve

    click.echo(f"Open http://127.0.0.1:{port}/ and sign in (Ctrl-C stops the app).")
    raise SystemExit(serve(ws, port=port))
