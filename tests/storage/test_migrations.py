"""The migration chain stays one line, and the migrated schema is exactly what the models describe."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, inspect

from storage import open_store
from storage.migrate import MIGRATIONS
from storage.models import Base

# Revisions up to the merge grew as seven branches off 0001_initial (four share "0006_"); from the merge on,
# every revision takes the next unused number and names the one before it as its only down_revision.
MERGE_NUMBER = 7


def _number(name: str) -> int | None:
    m = re.match(r"(\d+)_", name)
    return int(m.group(1)) if m else None


def chain_problems(script_location: Path) -> list[str]:
    """What breaks the rule "one head, unique ids, unique numbers after the merge" in ``script_location``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    script = ScriptDirectory.from_config(cfg)
    problems = []
    heads = script.get_heads()
    if len(heads) != 1:
        problems.append(f"{len(heads)} heads {sorted(heads)}: name the latest revision as down_revision")
    revisions = list(script.walk_revisions())
    ids = Counter(r.revision for r in revisions)
    problems += [f"revision id {rid!r} used {n} times" for rid, n in ids.items() if n > 1]
    files = Counter(_number(p.name) for p in (script_location / "versions").glob("*.py"))
    problems += [
        f"{n} revision files share the number {num:04d}"
        for num, n in files.items()
        if num is not None and num >= MERGE_NUMBER and n > 1
    ]
    for rev in revisions:
        number = _number(rev.revision)
        if number is None:
            problems.append(f"revision id {rev.revision!r} does not start with its number")
        elif number > MERGE_NUMBER and not isinstance(rev.down_revision, str):
            problems.append(f"{rev.revision} has down_revision {rev.down_revision!r}: one parent after the merge")
    return problems


def test_the_chain_is_one_line():
    assert chain_problems(MIGRATIONS) == []


def _revision(folder: Path, rev: str, down: str) -> None:
    (folder / f"{rev}.py").write_text(f'revision = "{rev}"\ndown_revision = "{down}"\n'
                                      "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n")


def test_the_check_catches_a_second_head_and_a_reused_number(tmp_path):
    loc = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS / "versions", loc / "versions", ignore=shutil.ignore_patterns("__pycache__"))
    # On top of the real head, whatever it is now: the two test revisions take the next number.
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    nxt = f"{_number(head) + 1:04d}"
    _revision(loc / "versions", f"{nxt}_one", head)
    assert chain_problems(loc) == []
    _revision(loc / "versions", f"{nxt}_two", head)
    problems = chain_problems(loc)
    assert any("2 heads" in p for p in problems), problems
    assert any(f"share the number {nxt}" in p for p in problems), problems


def _check_constraints(engine) -> list[str]:
    # Alembic's autogenerate does not compare CHECK constraints; compare their names here.
    insp = inspect(engine)
    problems = []
    for table in Base.metadata.sorted_tables:
        model = {c.name for c in table.constraints if isinstance(c, CheckConstraint) and c.name}
        migrated = {c["name"] for c in insp.get_check_constraints(table.name) if c["name"]}
        if missing := model - migrated:
            problems.append(f"{table.name}: CHECK {sorted(missing)} in the models, not in the migrated schema")
        if extra := migrated - model - _NATIVE_CHECKS.get(table.name, set()):
            problems.append(f"{table.name}: CHECK {sorted(extra)} in the migrated schema, not in the models")
    return problems


# CHECK constraints the dialect adds itself (none today); listed so a new one is a decision, not a surprise.
_NATIVE_CHECKS: dict[str, set[str]] = {}


def test_migrated_schema_matches_the_models(db_url):
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            diff = compare_metadata(ctx, Base.metadata)
        checks = _check_constraints(store.engine)
    finally:
        store.engine.dispose()
    assert diff == [], "the migrated schema differs from storage.models:\n" + "\n".join(map(repr, diff))
    assert checks == []
