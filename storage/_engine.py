"""Engine creation: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL, migrated on open."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

# Many annotators write at once; a writer waits this long for SQLite's lock
# instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


READ_ONLY = "curate_read_only"


def _sqlite_begin(conn) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on
    # busy_timeout instead of one failing on lock upgrade (SQLITE_BUSY with no wait).
    # Read-only work (exports, status, stats) uses a deferred BEGIN: in WAL mode it
    # reads a snapshot and never holds annotators' writes back.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def redact(url: str) -> str:
    """The URL with any password hidden, safe to print or log."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the project's connection settings."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_engine(
            u,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_tx(dbapi_conn, _rec):  # let SQLAlchemy emit BEGIN itself
            dbapi_conn.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(u, pool_pre_ping=True, pool_size=10, max_overflow=20)


@dataclass
class Store:
    """An open, migrated database: an engine and a session factory."""

    url: str
    engine: Engine
    sessionmaker: sessionmaker

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        with self.sessionmaker() as s, s.begin():
            yield s

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A connection for reads only: one consistent snapshot that never blocks writers."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the database at ``url``, applying pending migrations first."""
    engine = make_engine(url)
    if migrate:
        from storage.migrate import upgrade

        upgrade(engine)
    return Store(url=url, engine=engine, sessionmaker=sessionmaker(engine, expire_on_commit=False))
