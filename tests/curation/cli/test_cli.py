"""The `curate` command line: workspace discovery, --db, status, export, errors, and a light --help."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from alembic.script import ScriptDirectory

from curation.demo.media import make_sample_clips
from storage import open_store
from storage.migrate import alembic_config, current_heads, upgrade


def test_init_creates_workspace_and_status_reports_counts(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    ws = tmp_path / "ws"
    r = cli("init", ws)
    assert r.exit_code == 0, r.output
    assert (ws / "curate.toml").is_file() and (ws / "curate.db").is_file()
    manifest = make_sample_clips(ws / "media" / "s", n=2, seconds=0.5, size=32)
    assert cli("-v", "ingest", manifest, "-w", ws).exit_code == 0
    r = cli("status", "--json", "-w", ws)
    data = json.loads(r.output)
    assert (data["clips"], data["candidates"], data["ratings"]) == (2, 0, 0)


def test_workspace_from_env_and_current_folder(tmp_path, cli, monkeypatch):
    ws = tmp_path / "ws"
    cli("init", ws)
    monkeypatch.setenv("CURATE_WORKSPACE", str(ws))
    assert json.loads(cli("status", "--json").output)["clips"] == 0
    monkeypatch.delenv("CURATE_WORKSPACE")
    monkeypatch.chdir(ws)
    assert json.loads(cli("status", "--json").output)["clips"] == 0


def test_missing_workspace_says_how_to_make_one(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    r = cli("status")
    assert r.exit_code == 1
    assert f"No workspace at {tmp_path}" in r.output and "curate init" in r.output


def test_db_flag_points_the_workspace_at_another_store(tmp_path, cli, db_url):
    ws = tmp_path / "ws"
    cli("init", ws)
    manifest = make_sample_clips(ws / "media" / "s", n=1, seconds=0.5, size=32)
    assert cli("ingest", manifest, "-w", ws, "--db", db_url).exit_code == 0
    assert json.loads(cli("status", "--json", "-w", ws, "--db", db_url).output)["clips"] == 1
    if db_url.startswith("postgresql"):
        # the embedded SQLite store stayed empty
        assert json.loads(cli("status", "--json", "-w", ws).output)["clips"] == 0


def test_bad_input_exits_1_with_one_line(tmp_path, cli):
    ws = tmp_path / "ws"
    cli("init", ws)
    bad = ws / "bad.csv"
    bad.write_text("clip_id,image\nx,y.png\n")
    r = cli("ingest", bad, "-w", ws)
    assert r.exit_code == 1
    assert r.output.strip() == f"Error: {bad}: missing required column(s) ['audio']; found ['clip_id', 'image']. Required: ['clip_id', 'image', 'audio']."


def test_export_ratings_cli_writes_parquet(tmp_path, cli):
    ws = tmp_path / "ws"
    cli("init", ws)
    out = tmp_path / "r.parquet"
    r = cli("export", "ratings", "--out", out, "-w", ws)
    assert r.exit_code == 0 and "wrote 0 ratings" in r.output
    assert list(pd.read_parquet(out).columns)[:7] == [
        "rating_id", "clip_id", "candidate_id", "method", "annotator_id", "alignment", "fidelity"
    ]


def _command_paths(cmd, path):
    """``path`` and, for a group, the path to every subcommand below it."""
    import click

    yield path
    if isinstance(cmd, click.Group):
        for sub in cmd.list_commands(click.Context(cmd)):
            yield from _command_paths(cmd.get_command(click.Context(cmd), sub), [*path, sub])


def test_every_command_has_help(cli):
    """Every lazily registered command loads (an import error fails here: nothing is optional) and it and each
    of its subcommands answer --help."""
    import click

    from curation.cli import COMMANDS, SHORT_HELP
    from curation.cli import cli as group

    ctx = click.Context(group)
    assert group.list_commands(ctx) == sorted(COMMANDS) and set(SHORT_HELP) == set(COMMANDS)
    checked = 0
    for name, target in COMMANDS.items():
        cmd = group.get_command(ctx, name)  # imports target's module, as `curate NAME` does
        assert isinstance(cmd, click.Command) and cmd.name == name, (name, target, cmd)
        for path in _command_paths(cmd, [name]):
            r = cli(*path, "--help")
            assert r.exit_code == 0 and "Usage: " in r.output and " ".join(path) in r.output, (path, r.output)
            checked += 1
    assert checked > len(COMMANDS)  # the groups' subcommands were reached too


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from curation.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'diffusers', 'decord', 'moviepy', 'streamlit', 'pandas', 'duckdb', 'sqlalchemy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_workspace_made_by_an_older_version_opens(db_url):
    """A store at the first revision, with data, is upgraded on open and keeps its rows."""
    from sqlalchemy import text

    from storage._engine import make_engine

    engine = make_engine(db_url)
    upgrade(engine, "0001_initial")
    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO clips (clip_id, image_path, image_sha256, image_width, image_height, audio_path, audio_sha256,"
            " audio_duration, is_gold, created_at) VALUES ('old', '/i', :h, 1, 1, '/a', :h, 1.5, false, CURRENT_TIMESTAMP)"
        ), {"h": "0" * 64})
    engine.dispose()
    store = open_store(db_url)
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert current_heads(store.engine) == heads
    with store.engine.connect() as c:
        assert c.execute(text("SELECT clip_id, audio_duration FROM clips")).all() == [("old", 1.5)]
    store.dispose()


@pytest.mark.parametrize("bad", ['[store]\ndatabase_url = 3\n[annotation]\noverlap = 0\n', "[bogus]\nx=1\n", "not toml ["])
def test_invalid_config_is_reported(tmp_path, cli, bad):
    ws = tmp_path / "ws"
    cli("init", ws)
    (ws / "curate.toml").write_text(bad)
    r = cli("status", "-w", ws)
    assert r.exit_code == 1
    assert f"Error: {ws / 'curate.toml'}: " in r.output


def test_init_persists_a_passwordless_db_url(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    cli("init", tmp_path / "a", "--db", url)
    assert url in (tmp_path / "a" / "curate.toml").read_text()
    assert (tmp_path / "elsewhere.db").is_file()


@pytest.mark.postgres
def test_a_db_password_is_never_written_or_printed(tmp_path, cli, pg_url, monkeypatch):
    """The server trusts local connections, so any password works: check where it ends up."""
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    secret_url = pg_url.replace("postgres@", "postgres:s3cr3t-pw@", 1)
    assert "s3cr3t-pw" in secret_url
    r = cli("-vv", "init", tmp_path / "b", "--db", secret_url)
    assert r.exit_code == 0, r.output
    assert "s3cr3t-pw" not in r.output and "was not written to curate.toml" in r.output
    assert "s3cr3t-pw" not in (tmp_path / "b" / "curate.toml").read_text()
    r = cli("status", "-w", tmp_path / "b", "--db", secret_url)
    assert r.exit_code == 0 and "s3cr3t-pw" not in r.output and "***" in r.output
