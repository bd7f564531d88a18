"""``curate labelstudio push|pull``: Label Studio as a second annotation front end."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import click

from curation.cli._util import term_plain, workspace_options

_CONNECTION = """\b
Connection: LABEL_STUDIO_URL (or --url) and LABEL_STUDIO_API_KEY, a legacy
token or a personal access token (Account & Settings in Label Studio). The
key is read from the environment only, and never printed or logged."""


def _connection_options(f):
    f = click.option(
        "--url",
        envvar="LABEL_STUDIO_URL",
        default="",
        show_envvar=True,
        help="Label Studio base URL, e.g. http://127.0.0.1:8080.",
    )(f)
    f = click.option(
        "--project",
        "project",
        default=None,
        help="Project title (default: 'curate <workspace folder name>').",
    )(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")(f)
    return f


def _config(ws, url: str, project: str | None, **kw):
    from annotate_app.labelstudio import LabelStudioConfig, default_project_title
    from generators.normalize_config import NormalizeConfig

    return LabelStudioConfig(
        url=url,
        fps=NormalizeConfig.from_workspace(ws).fps,
        api_key=os.environ.get("LABEL_STUDIO_API_KEY", ""),
        project=project or default_project_title(ws),
        **kw,
    )


@click.group("labelstudio", context_settings={"help_option_names": ["-h", "--help"]})
def labelstudio_group() -> None:
    """Push clips to a Label Studio project and pull the ratings back.

    \b
    Blind: tasks carry opaque ids and randomly named media links only; which
    method made which video is kept in the curate store. Ratings come back as
    source "labelstudio", one annotator per Label Studio user.

    \b
      export LABEL_STUDIO_URL=http://127.0.0.1:8080 LABEL_STUDIO_API_KEY=...
      curate labelstudio push --document-root /data/media
      ... annotators rate in Label Studio ...
      curate labelstudio pull

    See docs/labelstudio.md for the server setup and the rules.
    """


@labelstudio_group.command("push", epilog=_CONNECTION)
@_connection_options
@click.option(
    "--per",
    type=click.Choice(["clip", "candidate"]),
    default=None,
    help="One task per clip (all its videos, random order) or per candidate video. "
    "Fixed when the project is created. [default: clip]",
)
@click.option(
    "--document-root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT",
    show_envvar=True,
    help="The server's local-files document root as seen from here; blind links to the media "
    "are made under <root>/labelstudio-media/. [default: the first media root]",
)
@click.option(
    "--media-url-prefix",
    default=None,
    help="Serve the media yourself: task URLs become PREFIX + path under the document root "
    "(e.g. https://media.example.org/), and no local-files storage is added.",
)
@workspace_options
def push_cmd(ws, url, project, as_json, per, document_root, media_url_prefix) -> None:
    """Create or update the project and import the tasks not there yet.

    \b
    The labelling config comes from the workspace rubric (curate.toml [rubric]):
    the reference image, then per video two required 1-5 ratings (alignment,
    fidelity) and an optional comment. maximum_annotations = annotation.overlap.
    Pushing again imports only new clips (idempotent), and updates the config,
    instructions and overlap if curate.toml changed. Per-clip projects take
    clips whose number of ready candidates equals the project's video slots
    (the most any clip had at creation); the others are listed as skipped.

    \b
    Example:
      curate labelstudio push --project "hallo4 round 1" --document-root ~/ls-media
    """
    from annotate_app.labelstudio import push

    cfg = _config(ws, url, project, per=per, document_root=document_root, media_url_prefix=media_url_prefix)
    r = push(ws, cfg)
    if as_json:
        click.echo(json.dumps(asdict(r)))
        return
    what = "created" if r.project_created else ("updated" if r.project_updated else "unchanged")
    click.echo(
        f"Project {cfg.project!r} (id {r.project_id}) {what}: {r.imported} task(s) imported, "
        f"{r.resumed} recovered from an interrupted push, {r.existing} already there."
    )
    for line in r.skipped:
        click.echo(f"  skipped {line}", err=True)


@labelstudio_group.command("pull", epilog=_CONNECTION)
@_connection_options
@click.option(
    "--strict",
    is_flag=True,
    help="Abort without writing anything if any annotation is invalid (default: store the "
    "valid ones and report the rest).",
)
@workspace_options
def pull_cmd(ws, url, project, as_json, strict) -> None:
    """Read the project's annotations into the store as ratings.

    \b
    Idempotent: pulling twice adds nothing. An edited annotation updates its
    ratings; a deleted or skipped one removes them. Every value is checked
    (1-5 integer ratings, known controls, both axes for every video); an
    invalid annotation is reported with its task and annotation id and not
    stored. More annotations per task than the overlap are kept (Label Studio
    sometimes hands a task to one annotator too many); `curate stats` shows them.

    \b
    Example:
      curate labelstudio pull --project "hallo4 round 1"
    """
    from annotate_app.labelstudio import pull

    r = pull(ws, _config(ws, url, project), strict=strict)
    if as_json:
        click.echo(json.dumps(asdict(r)))
    else:
        click.echo(
            f"Pulled project {r.project_id}: {r.added} rating(s) added, {r.updated} updated, "
            f"{r.unchanged} unchanged, {r.deleted} removed; {r.cancelled} skipped task(s); "
            f"{r.annotators_added} new annotator(s)."
        )
    for line in r.notes:
        click.echo(f"  note: {term_plain(line)}", err=True)  # may hold Label Studio's text
    for line in r.problems:
        click.echo(f"  rejected: {term_plain(line)}", err=True)
    if r.problems:
        click.echo(f"{len(r.problems)} problem(s) in invalid annotations: not stored (see above).", err=True)
