"""Shared CLI plumbing: the workspace options and a lazily loaded command group."""

from __future__ import annotations

import functools
import importlib

import click


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked, so ``--help`` stays instant.

    ``lazy`` maps a command name to ``"module:attribute"``; ``short_help`` gives the
    one-line description shown in the group's help without importing the module.
    """

    def __init__(self, *args, lazy: dict[str, str] | None = None, short: dict[str, str] | None = None, **kw):
        super().__init__(*args, **kw)
        self.lazy = dict(lazy or {})
        self.short = dict(short or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            mod, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(mod), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        from storage.errors import CurateError

        try:
            return super().invoke(ctx)
        except CurateError as e:
            # Bad input (CurateError, WorkspaceError): one clear line, exit status 1; the library
            # already rolled back whatever it started.
            raise click.ClickException(str(e)) from None
        except ValueError as e:
            # The one error boundary for settings: config dataclasses raise ValueError in
            # __post_init__, and a bad setting is a usage error (exit status 2), whichever command.
            raise click.UsageError(str(e)) from None  # no ctx: the group's usage line would mislead

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.short.get(name, "")))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(80)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


WORKSPACE_HELP = "Workspace folder (default: $CURATE_WORKSPACE, else the current folder)."


def location_options(workspace_help: str = WORKSPACE_HELP):
    """Add ``--workspace/-w`` and ``--db``; the command receives them as given (``workspace``, ``db``).

    For commands whose workspace is optional (``build-pairs --ratings``, ``eval --videos``); the others
    use :func:`workspace_options`, which opens it.
    """

    def decorate(f):
        f = click.option(
            "--db",
            envvar="CURATE_DB_URL",
            help="Database URL overriding curate.toml, e.g. postgresql+psycopg://user@host/db ($CURATE_DB_URL).",
        )(f)
        return click.option(
            "-w", "--workspace", type=click.Path(file_okay=False), envvar="CURATE_WORKSPACE", help=workspace_help
        )(f)

    return decorate


def workspace_options(f):
    """Add ``--workspace/-w`` and ``--db`` to a command; it receives ``ws`` (an opened Workspace)."""

    @location_options()
    @functools.wraps(f)
    def wrapper(*args, workspace, db, **kwargs):
        from storage.workspace import load

        ws = load(workspace, db=db)
        check_sections(ws)
        return f(*args, ws=ws, **kwargs)

    return wrapper


def check_sections(ws) -> None:
    """Check curate.toml's feature sections with their features' own config classes, so a typo in any of
    them stops every command with one line (storage keeps them as raw tables)."""
    from annotate_app.assign import AssignConfig
    from curation.evaluate.config import EvalConfig
    from generators.normalize_config import NormalizeConfig
    from storage.errors import WorkspaceError
    from storage.limits import Limits

    for cls in (AssignConfig, NormalizeConfig, EvalConfig, Limits):
        try:
            cls.from_workspace(ws)
        except WorkspaceError as e:
            raise WorkspaceError(f"{ws.config_path}: {e}") from None


def default_sections(overlap: int) -> dict:
    """The feature sections a new curate.toml starts with: each feature's defaults, written out to edit."""
    from dataclasses import asdict

    from annotate_app.assign import AssignConfig
    from curation.evaluate.config import EvalConfig
    from generators.normalize_config import NormalizeConfig
    from storage.limits import Limits

    assign = AssignConfig(overlap=overlap)
    return {"annotation": {"overlap": assign.overlap, "lease_minutes": assign.lease_minutes,
                           "disagree_spread": assign.disagree_spread, "allocation": assign.allocation,
                           "settle_confidence": assign.settle_confidence, "refit_seconds": assign.refit_seconds},
            "normalize": asdict(NormalizeConfig()), "eval": asdict(EvalConfig()), "limits": asdict(Limits())}


def no_progress_option(f):
    """Add ``--no-progress`` (progress bars off, e.g. in CI logs); the command receives ``no_progress``."""
    return click.option("--no-progress", is_flag=True, help="No progress bars (e.g. in CI logs).")(f)


def term_plain(text) -> str:
    """Stored text made safe to print on a terminal: control and invisible format characters (ESC, newlines,
    bidi overrides) are shown escaped (``\\x1b``, ``\\n``, ``\\u202e``), so a note cannot move the cursor, recolour
    the screen or fake a line of output. The terminal counterpart of annotate_app.web.plain_text.md_plain."""
    import unicodedata

    out = []
    for ch in "" if text is None else str(text):
        if unicodedata.category(ch) in ("Cc", "Cf"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)
