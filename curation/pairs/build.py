"""Ratings -> DPO pairs (Hallo4 sec. 3.2, tables 4-5), computed by DuckDB.

The steps, each a named query in ``curation/sql/``:

1. ``ratings``: the source (a ratings Parquet file read in place, or the workspace store's ratings) as one view
   with the contract columns; columns a file lacks are NULL and filled from the store where there is one.
2. ``candidate_stats``: one pass, one row per candidate: mean scores plus what the input checks need.
3. The checks, over the values (a file's footer statistics are never trusted); the first problem found is raised as a :class:`CurateError` naming the file, row and column.
4. ``candidates`` -> ``scores_<aggregate>`` -> ``eligible``: exclusions, per-axis aggregate, composite reward.
5. ``pairs_<strategy>`` -> ``manifest``.

Nothing is written here; :mod:`curation.pairs.manifest` writes the manifest and its card.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from curation import _duck
from curation.pairs.config import BuildPairsConfig
from curation.pairs.reward_model import confidence_column
from storage import ids
from storage.errors import CurateError, where

REQUIRED = ["clip_id", "candidate_id", "method", "annotator_id", "alignment", "fidelity"]
# Optional columns and their DuckDB type; absent ones are NULL (then taken from the store, if any).
OPTIONAL = {
    "video": "VARCHAR",
    "image": "VARCHAR",
    "audio": "VARCHAR",
    "prompt": "VARCHAR",
    "skeleton": "VARCHAR",
    "candidate_status": "VARCHAR",
    "is_gold": "BOOLEAN",
    "broken": "BOOLEAN",
}
MEDIA = ["video", "image", "audio", "prompt", "skeleton"]
CLIP_MEDIA = MEDIA[1:]
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_NUMBER = _INTEGER | {"FLOAT", "DOUBLE"}

# Read from the store with SQLAlchemy (duckdb 2.0 cannot attach SQLite offline); natural keys only.
STORE_CLIPS = (
    "SELECT clip_id, image_path AS image, audio_path AS audio, prompt, skeleton_path AS skeleton, is_gold FROM clips"
)
STORE_CANDIDATES = "SELECT candidate_id, video_path AS video, status AS candidate_status FROM candidates"
# The source's columns and types, without reading a row.
SOURCE_SCHEMA = "SELECT * FROM src LIMIT 0"
# View ``ratings`` over the source: {columns} is built in _register_view from fixed column names only.
RATINGS_VIEW = "CREATE OR REPLACE TEMP VIEW ratings AS SELECT {columns} FROM src"
_STORE_CLIPS_SCHEMA = pa.schema(
    [("clip_id", pa.string()), ("image", pa.string()), ("audio", pa.string()), ("prompt", pa.string()),
     ("skeleton", pa.string()), ("is_gold", pa.bool_())]
)
_STORE_CANDIDATES_SCHEMA = pa.schema(
    [("candidate_id", pa.string()), ("video", pa.string()), ("candidate_status", pa.string())]
)


@dataclass
class PairsResult:
    """What :func:`build_pairs` computed: the manifest table, statistics for the card, and provenance."""

    manifest: pa.Table
    stats: dict
    source: dict  # kind ("file" | "store"), label, sha256, rows
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for bench/build_pairs.py


class _Laps:
    """``lap("name")`` records the seconds since the previous lap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 4)
        self._last = now


def build_pairs(
    cfg: BuildPairsConfig,
    ratings: str | Path | None = None,
    store=None,
    threads: int | None = None,
    memory_limit: str | None = "2GB",
) -> PairsResult:
    """Pairs from ``ratings`` (a ratings Parquet file) or, without it, from ``store``'s ratings.

    ``store`` (a :class:`storage.Store`) also fills media and status columns a ratings file lacks.
    ``memory_limit`` caps DuckDB's memory (beyond it DuckDB spills to a temp folder).
    Raises :class:`CurateError` for bad input, naming the file, row and column.
    """
    if ratings is None and store is None:
        raise CurateError("build-pairs needs a ratings file or a workspace store.")
    if ratings is not None and cfg.rounds is not None:
        raise CurateError("rounds select the store's ratings; a ratings file is used as it is (filter it first).")
    from curation.pairs.card import statistics

    spill = tempfile.TemporaryDirectory(prefix="curate-pairs-")
    con = _duck.connect(threads, memory_limit, spill.name)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        if ratings is not None:
            label = _register_file(con, Path(ratings))
            digest = pool.submit(_sha256, Path(ratings))  # overlaps with the queries; hashlib releases the GIL
        else:
            label = "the workspace store's ratings"
            digest = pool.submit(str, _register_store_ratings(con, store, cfg.rounds))
        columns, types = _source_columns(con)
        notes = _register_view(con, label, columns, types, has_store=store is not None)
        _register_store_tables(con, store)
        lap = _Laps()
        _duck.run(con, "candidate_stats")
        lap("aggregate")
        _check_input(con, label)
        lap("checks")
        params = _params(cfg)
        _duck.run(con, "file_clips" if any(c in types for c in CLIP_MEDIA) else "no_file_clips")
        _duck.run(con, "clip_media")
        # Without a store or another aggregate, leaner variants of the same queries (no joins to empty tables).
        _duck.run(con, "candidates" if store is not None else "candidates_file")
        _duck.run(con, "candidate_counts", params)
        reward = None
        if cfg.reward == "model":
            from curation.pairs.reward_model import register_model_scores

            reward = register_model_scores(con, params, cfg.weights, store, cfg.include_gold)
            lap("model")
        if cfg.aggregate == "mean" and cfg.strategy == "best-vs-worst" and reward is None:
            # The default: pairs come from the extremes alone, so no eligible table is copied out (see the .sql).
            _duck.run(con, "method_counts_mean", params)
            _duck.run(con, "extremes_mean", params)
            _duck.run(con, "drop_cand_stats")
        else:
            if reward is not None:
                _duck.run(con, "scores_model")
                _duck.run(con, "eligible", params)
            elif cfg.aggregate == "mean":
                _duck.run(con, "eligible_mean", params)
            else:
                _duck.run(con, f"scores_{cfg.aggregate}", params)
                _duck.run(con, "eligible", params)
            _duck.run(con, "method_counts")
            _duck.run(con, "drop_cand_stats")  # big tables go as soon as they are done with
            if cfg.strategy != "better-vs-worse":  # the only strategy that needs no best or worst
                _duck.run(con, "extremes", params)
        if cfg.strategy != "better-vs-worse":
            _duck.run(con, "ends")
        _duck.run(con, "pairs_" + cfg.strategy.replace("-", "_"), params)
        if cfg.strategy == "best-vs-worst":
            _duck.run(con, "members_extremes")
            if cfg.aggregate != "mean" or reward is not None:
                _duck.run(con, "drop_eligible")
        else:
            _duck.run(con, "members_eligible")
        table = _duck.query_arrow(con, "manifest")
        table = table.append_column("confidence", confidence_column(reward, table, cfg.strategy, cfg.min_margin))
        _duck.view_of(con, "manifest", table)  # for the card's queries
        lap("pairs")
        stats = statistics(con)
        lap("card")
        sha = digest.result()
        lap("hash")
        notes += _null_media_notes(table)
        source = {"kind": "file" if ratings is not None else "store", "label": label, "sha256": sha}
        return PairsResult(manifest=table, stats=stats, source=source, notes=notes, timings=lap.seconds)
    except duckdb.OutOfMemoryException as e:
        # DuckDB spills what it can to ``spill``; what still does not fit is one line, not its five-line hint list.
        raise CurateError(
            f"build-pairs: {ratings or 'the store ratings'} needs more memory than --memory-limit {memory_limit} "
            f"even with spilling to {spill.name} ({str(e).splitlines()[0]}); raise --memory-limit or lower "
            "--threads.") from None
    except duckdb.IOException as e:
        if "space" not in str(e).lower():
            raise
        raise CurateError(f"build-pairs: no space left in {spill.name} for DuckDB to spill to "
                          f"({str(e).splitlines()[0]}); set TMPDIR to a folder with room.") from None
    finally:
        pool.shutdown(wait=True)
        con.close()
        spill.cleanup()


def _params(cfg: BuildPairsConfig) -> dict:
    return {
        "min_gap": cfg.min_gap,
        "min_raters": cfg.min_raters,
        "include_gold": cfg.include_gold,
        "w_alignment": cfg.weights["alignment"],
        "w_fidelity": cfg.weights["fidelity"],
    }


def _sha256(path: Path) -> str:
    from storage.media import sha256_file

    return sha256_file(path)


def _register_file(con, path: Path) -> str:
    """Expose the Parquet file as view ``src`` (read in place, only the columns the queries use)."""
    if not path.is_file():
        raise CurateError(f"{path}: file not found.")
    try:
        con.read_parquet(str(path), file_row_number=True).create_view("src")
    except duckdb.Error as e:  # IOException / InvalidInputException: not Parquet, truncated, ...
        raise CurateError(f"{path}: cannot be read as Parquet: {str(e).splitlines()[0]}") from None
    if _duck.rows(con, "source_rows")[0]["n"] == 0:
        raise CurateError(f"{path}: no ratings in the file.")
    return str(path)


def _register_store_ratings(con, store, rounds: tuple[int, ...] | None = None) -> str:
    """Expose the store's ratings (of ``rounds``' clips when given) as view ``src``; returns their sha256."""
    import hashlib

    from storage.export import RATINGS_CONTRACT, ratings_frame

    df = ratings_frame(store, rounds)
    if df.empty:
        where = "" if rounds is None else f" in round(s) {', '.join(map(str, rounds))} (--rounds chooses others)"
        raise CurateError(f"No ratings in the workspace yet{where}: rate candidates (curate annotate) or import ratings.")
    # The hash covers the contract columns in the export's order (clip, candidate, annotator), not row ids.
    digest = hashlib.sha256(df[RATINGS_CONTRACT].to_csv(index=False).encode()).hexdigest()
    df = df.rename(columns={"rating_id": "_row"})
    con.register("src", df)
    return digest


def _source_columns(con) -> tuple[list[str], dict[str, str]]:
    rel = con.sql(SOURCE_SCHEMA)
    return rel.columns, dict(zip(rel.columns, (str(t) for t in rel.types)))


def _register_view(con, label: str, columns: list[str], types: dict[str, str], has_store: bool) -> list[str]:
    """Create view ``ratings`` with every contract column, checking types; returns notes on missing columns."""
    missing = [c for c in REQUIRED if c not in types]
    if missing:
        raise CurateError(
            f"{where(label, column=missing[0])}: missing column(s) {', '.join(missing)}; "
            f"a ratings file needs {', '.join(REQUIRED)}."
        )
    select = ["file_row_number + 1 AS _row" if "file_row_number" in types else "_row"]
    for col in REQUIRED[:4]:
        select.append(_text_column(label, col, types[col]))
    for col in ("alignment", "fidelity"):
        if types[col] not in _NUMBER and not types[col].startswith("DECIMAL"):
            raise CurateError(f"{where(label, column=col)}: scores must be integers 1-5; the column is {types[col]}.")
        select.append(col)
    notes = []
    for col, sql_type in OPTIONAL.items():
        if col not in types:
            select.append(f"NULL::{sql_type} AS {col}")
            if col in MEDIA and not has_store:
                notes.append(f"{label} has no {col!r} column and there is no workspace store: {col} is left empty.")
        elif sql_type == "BOOLEAN" and types[col] != "BOOLEAN":
            raise CurateError(f"{where(label, column=col)}: expected true/false values; the column is {types[col]}.")
        else:
            select.append(f"CAST({col} AS {sql_type}) AS {col}" if types[col] != sql_type else col)
    # Identifiers only, all from the fixed lists above: no value from the file reaches the SQL text.
    con.execute(RATINGS_VIEW.format(columns=", ".join(select)))
    return notes


def _text_column(label: str, col: str, sql_type: str) -> str:
    if sql_type == "VARCHAR":
        return col
    if sql_type in _INTEGER:
        return f"CAST({col} AS VARCHAR) AS {col}"
    raise CurateError(f"{where(label, column=col)}: expected text ids; the column is {sql_type}.")


def _register_store_tables(con, store) -> None:
    """Tables ``store_clips`` and ``store_candidates``: what the store knows (empty without a store)."""
    if store is None:
        _duck.run(con, "no_store")  # not con.register(): registering makes duckdb import pandas (0.3 s)
        return
    from sqlalchemy import text

    with store.engine.connect() as conn:
        clip_rows = [dict(r) for r in conn.execute(text(STORE_CLIPS)).mappings()]
        cand_rows = [dict(r) for r in conn.execute(text(STORE_CANDIDATES)).mappings()]
    for r in cand_rows:  # SQLAlchemy may hand back the enum member instead of its name
        r["candidate_status"] = getattr(r["candidate_status"], "value", r["candidate_status"])
    for r in clip_rows:  # SQLite answers 0/1 for booleans in a text() query
        r["is_gold"] = None if r["is_gold"] is None else bool(r["is_gold"])
    con.register("store_clips", pa.Table.from_pylist(clip_rows, schema=_STORE_CLIPS_SCHEMA))
    con.register("store_candidates", pa.Table.from_pylist(cand_rows, schema=_STORE_CANDIDATES_SCHEMA))


# The id rule of storage/ids.py, as bound regular expressions for check_values.sql and locate_bad_id.sql.
ID_PARAMS = {"id_re": ids.SQL_ID_RE, "candidate_id_re": ids.SQL_CANDIDATE_ID_RE}


def _check_input(con, label: str) -> None:
    """Raise on the first problem: empty cells, blank ids, scores not integers 1-5 (NaN included), a candidate
    under two clips (or methods, or videos), duplicate ratings. Every check reads the values, never a file's
    statistics (see _duck.SETTINGS)."""
    found = _duck.rows(con, "check_values", ID_PARAMS)[0]
    if found["nulls"]:
        bad = _duck.rows(con, "locate_null")[0]
        raise CurateError(f"{where(label, bad['_row'], bad['col'])}: empty value; every rating needs one.")
    if found["bad_ids"]:
        bad = _duck.rows(con, "locate_bad_id", ID_PARAMS)[0]
        place = where(label, bad["_row"], bad["col"])
        if not bad["value"].strip():
            raise CurateError(f"{place}: empty value; every rating needs one.")
        value = repr(bad["value"]) if len(bad["value"]) <= 60 else repr(bad["value"][:57]) + "..."
        raise CurateError(f"{place}: {value} is not a valid id ({ids.RULE}).")
    if found["bad_scores"]:
        b = _duck.rows(con, "locate_bad_score")[0]
        raise CurateError(f"{where(label, b['_row'], b['col'])}: {b['value']} is not an integer 1-5.")
    # The exact GROUP BY only when the cheap hash count cannot rule a clash out (see check_keys_distinct.sql).
    clash = [] if _duck.rows(con, "check_keys_distinct")[0]["all_distinct"] else _duck.rows(con, "check_keys")
    if clash:
        cand = clash[0]["candidate_id"]
        first, second = _duck.rows(con, "locate_key_clash", {"candidate_id": cand})
        raise CurateError(_key_clash_message(label, cand, first, second))
    dup = _duck.rows(con, "check_duplicates")
    if dup:
        d = dup[0]
        raise CurateError(
            f"{where(label, d['second_row'], 'annotator_id')}: duplicate rating of {d['candidate_id']!r} by "
            f"{d['annotator_id']!r} (also row {d['first_row']})."
        )


def _key_clash_message(label: str, cand: str, first: dict, second: dict) -> str:
    """One candidate, two (clip, method, video) keys: name the later row and the first field that differs."""
    if (first["clip_id"], first["method"]) != (second["clip_id"], second["method"]):
        return (
            f"{where(label, second['first_row'], 'clip_id')}: candidate {cand!r} is listed under clip "
            f"{second['clip_id']!r} (method {second['method']!r}) here and under clip {first['clip_id']!r} "
            f"(method {first['method']!r}) at row {first['first_row']}."
        )
    here, there = (repr(v) if v is not None else "no video" for v in (second["video"], first["video"]))
    return (
        f"{where(label, second['first_row'], 'video')}: candidate {cand!r} has video {here} here and {there} "
        f"at row {first['first_row']}; every rating of a candidate must name the same video."
    )


def _null_media_notes(table: pa.Table) -> list[str]:
    notes = []
    for col in ("winner_video", "loser_video", "image", "audio"):
        n = table.column(col).null_count
        if n:
            notes.append(f"{n} of {table.num_rows} pairs have no {col}.")
    return notes
