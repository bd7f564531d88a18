"""Exports from the store (Parquet, or CSV with formula-safe cells), and the status counts."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sqlalchemy import bindparam, text

from storage._engine import Store
from storage.csv_safe import formula_safe_frame
from storage.errors import CurateError
from storage.parquet import write_parquet_atomic, write_text_atomic
from storage.queries import CLIPS_COMPLETE, COUNTS, RATING_PROGRESS, RATINGS_EXPORT, RATINGS_EXPORT_IN_ROUNDS

# The input contract of `curate build-pairs --ratings`.
RATINGS_CONTRACT = ["clip_id", "candidate_id", "method", "annotator_id", "alignment", "fidelity"]

RATINGS_SCHEMA = pa.schema(
    [
        ("rating_id", pa.int64()),
        ("clip_id", pa.string()),
        ("candidate_id", pa.string()),
        ("method", pa.string()),
        ("annotator_id", pa.string()),
        ("alignment", pa.int8()),
        ("fidelity", pa.int8()),
        ("video", pa.string()),
        ("candidate_status", pa.string()),
        ("is_gold", pa.bool_()),
        ("broken", pa.bool_()),
        ("comment", pa.string()),
        ("seconds_watched", pa.float64()),
        ("source", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("round", pa.int32()),
    ]
)


def ratings_frame(store: Store, rounds: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Every rating joined with its clip, candidate and annotator (natural keys); only ``rounds`` when given."""
    with store.reader() as conn:
        if rounds is None:
            df = pd.read_sql(text(RATINGS_EXPORT), conn)
        else:
            query = text(RATINGS_EXPORT_IN_ROUNDS).bindparams(bindparam("rounds", expanding=True))
            df = pd.read_sql(query, conn, params={"rounds": list(rounds)})
    for col in ("created_at", "updated_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    for col in ("is_gold", "broken"):
        df[col] = df[col].astype(bool)
    # SQLite returns the enum's stored name; PostgreSQL too. Keep the plain string.
    df["candidate_status"] = df["candidate_status"].astype(str)
    return df


EXPORT_SUFFIXES = (".parquet", ".csv")


def export_ratings(store: Store, out: str | os.PathLike, rounds: tuple[int, ...] | None = None) -> tuple[Path, int]:
    """Write every rating (of ``rounds`` when given) to ``out``, atomically; returns the path and the row count.

    The suffix chooses the format: ``.parquet`` (typed, with metadata) or ``.csv`` (text cells starting with
    ``= + - @`` tab or CR get a leading ``'``, so a spreadsheet shows them as text); any other is refused
    before the store is read.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise CurateError(f"{out}: cannot tell the format from {suffix or 'a name without a suffix'!r}; "
                          "end the name in .parquet or .csv.")
    df = ratings_frame(store, rounds)
    if suffix == ".csv":
        return write_text_atomic(out, formula_safe_frame(df).to_csv(index=False)), len(df)
    table = pa.Table.from_pandas(df, schema=RATINGS_SCHEMA, preserve_index=False)
    meta = {"kind": "ratings", "rows": len(df), "created_at": datetime.now(timezone.utc).isoformat()}
    return write_parquet_atomic(table, out, meta), len(df)


def status_counts(store: Store, overlap: int) -> dict:
    """Counts and rating progress (towards ``overlap`` ratings per ready candidate)."""
    with store.reader() as conn:
        counts = dict(conn.execute(text(COUNTS)).mappings().one())
        prog = conn.execute(text(RATING_PROGRESS), {"k": overlap}).mappings().one()
        clips_complete = conn.execute(text(CLIPS_COMPLETE), {"k": overlap}).scalar_one()
    counts = {k: int(v) for k, v in counts.items()}
    needed = int(prog["candidates"]) * overlap
    counts.update(
        overlap=overlap,
        ratings_needed=needed,
        ratings_done_toward_overlap=int(prog["done"]),
        candidates_fully_rated=int(prog["complete"]),
        clips_fully_rated=int(clips_complete),
        progress=round(int(prog["done"]) / needed, 4) if needed else 0.0,
    )
    return counts
