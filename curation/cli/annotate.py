"""``curate annotate`` and ``curate annotators``: serve the app, manage who may sign in."""

from __future__ import annotations

import json

import click

from curation.cli._util import workspace_options


@click.command("annotate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep localhost unless behind a proxy.")
@click.option("--port", default=8501, show_default=True, type=int, help="Port to serve on.")
@click.option("--gold-rate", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Chance that the next clip is a gold clip (when the annotator has one left).")
@workspace_options
def annotate_cmd(ws, host: str, port: int, gold_rate: float) -> None:
    """Serve the annotation app (Streamlit) until Ctrl-C.

    \b
    Annotators sign in with the password or login link printed by
    `curate annotators add NAME`. Admins (--admin) also see the dashboard.
    The workspace and database URL are passed to the app in the environment,
    never on the command line.

    \b
    Example:
      curate annotators add alice && curate annotate --port 8501
    """
    from annotate_app.web.server import serve
    from curation.face_box import fill_missing

    _fill_face_boxes(ws, fill_missing)
    click.echo(f"Serving the annotation app on http://{host}:{port}/ (Ctrl-C stops it)")
    raise SystemExit(serve(ws, host=host, port=port, gold_rate=gold_rate))


def _fill_face_boxes(ws, fill_missing) -> None:
    """Generated candidates (and older stores) get their face box once, for the mouth zoom. Best effort: a store
    that cannot be reached now is said in one line (no password) and the app starts anyway, as it always did; its
    pages retry the store and the zoom falls back to the fixed crop."""
    from sqlalchemy.exc import DBAPIError

    from storage import redact
    from storage.errors import CurateError

    try:
        with ws.store() as store:
            if n := fill_missing(store, ws.root):
                click.echo(f"Found the faces of {n} candidate video(s) for the mouth zoom.")
    except (DBAPIError, CurateError) as e:
        first = str(getattr(e, "orig", None) or e).strip().splitlines()[0][:200]
        click.echo(f"Face boxes not filled: the store at {redact(ws.database_url)} did not answer ({first}).")


@click.group("annotators")
def annotators_group() -> None:
    """Add, list, reset, disable and enable annotator accounts of the annotation app.

    \b
    Passwords and login tokens are printed once and stored only as salted
    scrypt hashes; a lost one is replaced with `curate annotators reset NAME`.
    """


def _echo_credentials(name: str, password: str, token: str, port: int) -> None:
    from annotate_app.accounts import login_url

    click.echo(f"annotator: {name}")
    click.echo(f"password:  {password}   (shown once)")
    click.echo(f"login link: {login_url(token, port=port)}")


@annotators_group.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Admin role: also sees the dashboard page.")
@click.option("--port", default=8501, show_default=True, type=int, help="Port used in the printed login link.")
@workspace_options
def add_cmd(ws, name: str, admin: bool, port: int) -> None:
    """Create annotator NAME; prints a one-time password and a login link.

    \b
    Example:
      curate annotators add alice
      curate annotators add boss --admin
    """
    from annotate_app.accounts import add_annotator

    with ws.store() as store:
        password, token = add_annotator(store, name, role="admin" if admin else "annotator")
    _echo_credentials(name, password, token, port)


@annotators_group.command("reset")
@click.argument("name")
@click.option("--port", default=8501, show_default=True, type=int, help="Port used in the printed login link.")
@workspace_options
def reset_cmd(ws, name: str, port: int) -> None:
    """New password and login link for NAME (the old ones and NAME's open sessions stop working)."""
    from annotate_app.accounts import reset_credentials

    with ws.store() as store:
        password, token = reset_credentials(store, name)
    _echo_credentials(name, password, token, port)


@annotators_group.command("disable")
@click.argument("name")
@workspace_options
def disable_cmd(ws, name: str) -> None:
    """Lock NAME out now: open sessions end, leased clips go back to the pool; ratings stay."""
    from annotate_app.accounts import set_active

    with ws.store() as store:
        done = set_active(store, name, False)
    click.echo(f"{name}: disabled; {done['sessions_ended']} session(s) ended, "
               f"{done['leases_released']} leased clip(s) released.")


@annotators_group.command("enable")
@click.argument("name")
@workspace_options
def enable_cmd(ws, name: str) -> None:
    """Let NAME sign in again with their current password or login link."""
    from annotate_app.accounts import set_active

    with ws.store() as store:
        set_active(store, name, True)
    click.echo(f"{name}: enabled.")


@annotators_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@workspace_options
def list_cmd(ws, as_json: bool) -> None:
    """List annotators: name, role, source (app/import/labelstudio) and whether they can sign in."""
    from annotate_app.accounts import list_annotators

    with ws.store() as store:
        rows = list_annotators(store)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No annotators yet. Add one with `curate annotators add NAME`.")
        return
    click.echo(f"{'name':<24} {'role':<10} {'source':<12} sign-in")
    for r in rows:
        sign_in = ("yes" if r["active"] else "disabled") if r["can_sign_in"] else "no"
        click.echo(f"{r['name']:<24} {r['role']:<10} {r['source']:<12} {sign_in}")
