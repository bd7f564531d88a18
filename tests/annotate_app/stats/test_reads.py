"""The stats read never locks annotators out, and all its queries see one snapshot (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage import Annotator, make_engine, read_dataframes

INSERT_LATE = ("INSERT INTO annotators (name, role, source, active, created_at) "
               "VALUES ('late', 'annotator', 'app', true, '2026-01-01 00:00:00')")


def write_late(url: str) -> None:
    """Commit one row from another connection; SQLite: fail within 1 s if a lock is held."""
    if make_url(url).get_backend_name() == "sqlite":
        con = sqlite3.connect(make_url(url).database, timeout=1, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(INSERT_LATE.replace("true", "1"))
            con.execute("COMMIT")
        finally:
            con.close()
        return
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            conn.execute(text(INSERT_LATE))
    finally:
        engine.dispose()


class WriteBetween(dict):
    """Queries whose iteration commits a write (on its own connection) after the first query ran."""

    def __init__(self, queries: dict, url: str):
        super().__init__(queries)
        self.url, self.error = url, None

    def items(self):
        for i, item in enumerate(super().items()):
            if i == 1:
                try:
                    write_late(self.url)
                except Exception as e:  # noqa: BLE001 - "database is locked" or a lock timeout
                    self.error = e
            yield item


def test_writers_go_on_during_a_stats_read_and_the_read_is_one_snapshot(workspace):
    store = workspace.open_store()
    try:
        with store.session() as s:
            s.add(Annotator(name="early"))
        q = "SELECT name FROM annotators ORDER BY name"
        queries = WriteBetween({"before": q, "after": q}, store.url)
        frames = read_dataframes(store, queries)
        assert queries.error is None  # the writer did not wait for the reader
        # both queries see the same snapshot, taken at the first read
        assert frames["before"]["name"].tolist() == frames["after"]["name"].tolist() == ["early"]
        assert read_dataframes(store, {"now": q})["now"]["name"].tolist() == ["early", "late"]
    finally:
        store.dispose()
