"""The one place DuckDB SQL runs: named queries from ``curation/sql/*.sql``, values always bound.

Queries use named parameters (``$min_gap``); only the parameters a query mentions are passed, so callers may hand
the same dict to several queries.
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources

import duckdb
import pyarrow as pa

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
# Session settings: no progress bar (a CLI prints its own report); rows come back in the order of the query's
# ORDER BY, and nothing else relies on scan order, so DuckDB need not preserve it.
# A Parquet footer's statistics are the writer's claims, and these optimizers act on them without reading a value:
# statistics_propagation answers min()/max() from the footer and folds `alignment > 5` to false where the footer
# says max 5; the pushdowns hand filters to the reader, which skips row groups whose footer range excludes them.
# A file whose footer says max 5 while its data holds 9 then passes every check. With them off every query reads
# the values (measured: the same time at 3M ratings; the queries after the first pass read DuckDB's own tables).
UNTRUSTED_STATISTICS = "statistics_propagation,filter_pushdown,join_filter_pushdown,row_group_pruner"
SETTINGS = (
    "SET enable_progress_bar = false",
    "SET preserve_insertion_order = false",
    f"SET disabled_optimizers = '{UNTRUSTED_STATISTICS}'",
)
# Names of views made from Arrow tables (view_of) are checked against this.
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@functools.cache
def sql(name: str) -> str:
    """The text of ``curation/sql/<name>.sql``."""
    return resources.files("curation.sql").joinpath(f"{name}.sql").read_text()


def connect(
    threads: int | None = None, memory_limit: str | None = None, temp_directory: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every core (or ``threads``).

    ``memory_limit`` (like ``"1GB"``) caps DuckDB's buffers; beyond it, work spills to ``temp_directory``.
    """
    config = {"threads": int(threads or os.cpu_count() or 1)}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_directory:
        config["temp_directory"] = temp_directory
    con = duckdb.connect(":memory:", config=config)
    for setting in SETTINGS:
        con.execute(setting)
    return con


def _bind(text: str, params: dict | None) -> dict:
    wanted = set(_PARAM.findall(text))
    params = params or {}
    missing = wanted - set(params)
    if missing:
        raise KeyError(f"query needs parameters {sorted(missing)}")
    return {k: params[k] for k in wanted}


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> None:
    """Execute the named statement (CREATE TABLE ..., UPDATE ...)."""
    text = sql(name)
    con.execute(text, _bind(text, params))


def rows(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> list[dict]:
    """The named query's result as a list of dicts (for small results: checks, counts, tables in the card)."""
    text = sql(name)
    cur = con.execute(text, _bind(text, params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def frame(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None):
    """The named query's result as a pandas DataFrame (for inputs of Python steps, e.g. the annotator model)."""
    text = sql(name)
    return con.execute(text, _bind(text, params)).df()


def query_arrow(con: duckdb.DuckDBPyConnection, name: str) -> pa.Table:
    """The named query's result as Arrow (no parameters), in the order of its ORDER BY."""
    return con.sql(sql(name)).to_arrow_table()


def view_of(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Expose an Arrow table to later queries as view ``name`` (read in place, not copied)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a view name: {name!r}")
    con.from_arrow(table).create_view(name)
