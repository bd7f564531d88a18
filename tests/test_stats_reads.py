"""The stats read never locks annotators out: on SQLite it is a deferred snapshot, not BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url

from annotate_app.stats import read_frames
from storage import Annotator


class WriteBetween(dict):
    """Queries whose iteration commits a write (on its own connection) after the first query ran."""

    def __init__(self, queries: dict, db_path: str):
        super().__init__(queries)
        self.db_path, self.error = db_path, None

    def items(self):
        for i, item in enumerate(super().items()):
            if i == 1:
                con = sqlite3.connect(self.db_path, timeout=1, isolation_level=None)
                try:
                    con.execute("BEGIN IMMEDIATE")
                    con.execute("INSERT INTO annotators (name, role, source, active, created_at) "
                                "VALUES ('late', 'annotator', 'app', 1, '2026-01-01 00:00:00')")
                    con.execute("COMMIT")
                except sqlite3.OperationalError as e:  # "database is locked"
                    self.error = e
                finally:
                    con.close()
            yield item


def test_writers_go_on_during_a_stats_read_and_the_read_is_one_snapshot(sqlite_workspace):
    store = sqlite_workspace.open_store()
    try:
        with store.session() as s:
            s.add(Annotator(name="early"))
        q = "SELECT name FROM annotators ORDER BY name"
        queries = WriteBetween({"before": q, "after": q}, make_url(store.url).database)
        frames = read_frames(store, queries)
        assert queries.error is None  # the writer did not wait for the reader
        # both queries see the same snapshot, taken at the first read
        assert frames["before"]["name"].tolist() == frames["after"]["name"].tolist() == ["early"]
        assert read_frames(store, {"now": q})["now"]["name"].tolist() == ["early", "late"]
    finally:
        store.dispose()
