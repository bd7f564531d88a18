"""Alembic, driven from code: every open upgrades to the head.

Revisions live in ``storage/migrations/versions``. The early ones branched off ``0001_initial``;
``0007_merge`` joins them, and from there the chain is one line: each new revision names the current
head as ``down_revision`` and takes the next number (``tests/storage/test_migrations.py`` enforces it, and that
the migrated schema matches ``storage.models``). ``upgrade heads`` still reaches a store left on any
of the old branches.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, target: str = "heads") -> None:
    """Bring the schema at ``engine`` up to ``target`` (all heads by default)."""
    cfg = alembic_config(engine)
    script = ScriptDirectory.from_config(cfg)
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == set(script.get_heads()):
        return  # up to date: skip Alembic's (slow) environment start-up
    command.upgrade(cfg, target)


def current_heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())
