"""``curate generate`` and ``curate generators list|check``: flags in, one library call, a summary out."""

from __future__ import annotations

import click

from curation.cli._util import LazyGroup, no_progress_option, workspace_options


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


@click.command("generate")
@click.option("--methods", default="still,lipsync", show_default=True, help="Comma-separated generator names.")
@click.option("--clips", help="Comma-separated clip ids (default: every clip of the rounds chosen).")
@click.option("--rounds", "rounds_spec", metavar="all|N[,N|N-M...]",
              help="Clips of these rounds (default: the current round; with --clips: any round).")
@click.option("--gpus", help="Comma-separated GPU ids, one worker process per GPU (default: one local worker).")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(min=0), help="Extra attempts after a failure.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local processes, or a Ray cluster ($RAY_ADDRESS; a local Ray instance when unset).")
@click.option("--retry-failed", is_flag=True, help="Also rerun jobs that failed in an earlier run.")
@no_progress_option
@workspace_options
def generate_cmd(methods, clips, rounds_spec, gpus, retries, executor, retry_failed, no_progress, ws) -> None:
    """Generate one candidate video per (clip, method) that has none yet.

    \b
    Every (clip, method) is a job in the store. Each worker claims jobs, runs the
    method (built-in CPU generators in-process; baselines through their own Python
    environment, configured under [generators.<method>] in curate.toml), brings the
    output to the [normalize] format (fps, size, length; the clip's audio muxed in),
    and registers it as a candidate in the same transaction that marks the job done.
    Raw outputs are kept under media/candidates/<method>/raw/, one log per job
    under logs/jobs/.

    \b
    Safe to interrupt: run it again and it finishes the remaining jobs exactly once
    (jobs of a killed run are taken over when their process is gone). A job that
    fails is retried --retries times, then marked failed with the upstream's error.

    \b
    Rounds: without --clips, the clips of the current round (`curate round
    list`); --rounds 1,2 or --rounds all for others.

    \b
    Built-in methods (CPU, no weights): still, lipsync, lipsync_offset, lipsync_blur.
    Baselines: sadtalker, aniportrait, echomimic_v2, fantasytalking, hallo3, hallo4
    (check them first with `curate generators check`).

    \b
    Examples:
      curate generate --methods still,lipsync,lipsync_offset,lipsync_blur
      curate generate --methods hallo3,fantasytalking --gpus 0,1,2,3
      RAY_ADDRESS=ray://head:10001 curate generate --methods hallo3 --executor ray
    """
    from generators.runner import run_generation
    from storage.rounds import resolve_rounds

    rounds = None
    if clips is None or rounds_spec is not None:
        with ws.store() as store:
            rounds = resolve_rounds(store, rounds_spec)
    rep = run_generation(ws, _split(methods) or [], _split(clips), _split(gpus), executor, retries,
                         progress=not no_progress, retry_failed=retry_failed, rounds=rounds)
    for m, c in sorted(rep.per_method.items()):
        click.echo(f"{m:>16}: {c['done']} done, {c['failed']} failed, {c['skipped']} skipped, {c['unfinished']} unfinished")
    click.echo(f"jobs: {rep.done} done, {rep.failed} failed, {rep.skipped} skipped, {rep.unfinished} unfinished "
               f"in {rep.seconds:.1f} s")
    if rep.failed:
        click.echo("failed jobs keep their error and log: see logs/jobs/ (rerun with --retry-failed)")


@click.group("generators", cls=LazyGroup)
def generators_group() -> None:
    """List the generator adapters and check what each one is missing."""


@generators_group.command("list")
@workspace_options
def list_cmd(ws) -> None:
    """Every method: built-in or upstream, and whether curate.toml configures it."""
    from generators.registry import BUILTIN, GENERATORS, known_methods

    for m in known_methods(ws.config.generators):
        settings = ws.config.generators.get(m)
        ref = (settings or {}).get("adapter", m)
        kind = "import" if ref == "import" else "built-in" if ref in BUILTIN else "upstream" if ref in GENERATORS else "custom"
        if settings is not None:
            conf = "configured"
        elif kind == "built-in":
            conf = "ready (no settings needed)"
        elif kind == "import":
            conf = "template: use it via adapter = \"import\" in a [generators.<name>] table"
        else:
            conf = "not configured"
        via = f" (adapter {ref})" if ref != m else ""
        click.echo(f"{m:>16}  {kind:<9} {conf}{via}")


@generators_group.command("check")
@click.argument("methods", nargs=-1)
@workspace_options
def check_cmd(methods, ws) -> None:
    """Say, per method, what is missing to run it (checkout, weights, python).

    \b
    With no METHODS: every configured method plus the built-ins. Exit status 1
    when a method named on the command line is not ready. Example table:
      [generators.hallo3]
      checkout = "/opt/hallo3"
      python = "/opt/envs/hallo3/bin/python"   # or: conda_env = "hallo3"
      weights = "/opt/hallo3/pretrained_models"
      extra_args = ["--some-flag", "1"]
      seed = 42
    """
    from generators.registry import BUILTIN, build
    from storage.errors import CurateError

    names = list(methods) or sorted(set(BUILTIN) - {"import"} | set(ws.config.generators))
    not_ready = []
    for m in names:
        try:
            missing = build(m, ws.config.generators.get(m, {}), ws.root).check()
        except CurateError as e:
            missing = [str(e)]
        if missing:
            not_ready.append(m)
            click.echo(f"{m}: NOT READY")
            for line in missing:
                click.echo(f"  - {line}")
        else:
            click.echo(f"{m}: ready")
    if methods and not_ready:
        raise click.exceptions.Exit(1)
