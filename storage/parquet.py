"""Parquet I/O: atomic writes (through storage.atomic) with file-level metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from storage.atomic import atomic_write, atomic_write_text

METADATA_KEY = b"portrait_curate"


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``table`` to ``path`` so that readers see either nothing or the whole file.

    ``metadata`` is stored as JSON under the schema key ``portrait_curate``; pandas'
    own schema metadata is kept, so the file loads unchanged with pandas, pyarrow,
    DuckDB and Hugging Face ``datasets``.
    """
    if metadata is not None:
        meta = dict(table.schema.metadata or {})
        meta[METADATA_KEY] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file (e.g. a dataset card) atomically."""
    return atomic_write_text(path, text)


def read_parquet_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``portrait_curate`` metadata of a Parquet file written by :func:`write_parquet_atomic`."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(METADATA_KEY)
    return json.loads(raw) if raw else {}
