"""Reading user manifests (CSV, JSONL or Parquet, one clear error per problem) and what every importer shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from storage.errors import CurateError
from storage.limits import DEFAULT_LIMITS

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path, required: list[str], optional: list[str] = (), max_rows: int | None = None
               ) -> pd.DataFrame:
    """Read a manifest into a DataFrame of the required and optional columns.

    Rows keep their file order; ``df.attrs["row_numbers"]`` is not needed because row
    ``i`` of the frame is row ``i + 1`` of the file (header excluded).

    Raises:
        CurateError: missing/unreadable file, unknown format, empty or header-only file, more rows than
            ``max_rows`` (default ``limits.max_manifest_rows``: counted before loading), or a missing required
            column, each naming the file.
    """
    import pandas as pd  # here, not at import: generator workers share this module without pandas

    path = Path(path)
    if not path.is_file():
        raise CurateError(f"{path}: file not found.")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CurateError(f"{path}: unknown format {path.suffix!r}; use .csv, .jsonl or .parquet.")
    check_row_count(path, fmt, DEFAULT_LIMITS.max_manifest_rows if max_rows is None else max_rows)
    try:
        if fmt == "csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        elif fmt == "jsonl":
            df = pd.read_json(path, lines=True, dtype=False)
        else:
            df = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise CurateError(f"{path}: the file is empty.") from None
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise CurateError(f"{path}: cannot be read as {fmt}: {e}") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise CurateError(
            f"{path}: missing required column(s) {missing}; found {list(df.columns)}. Required: {required}."
        )
    if len(df) == 0:
        raise CurateError(f"{path}: no rows (only a header).")
    for c in optional:
        if c not in df.columns:
            df[c] = None
    return df


def _count_rows(path: Path, fmt: str) -> int:
    """Rows of the file without loading it: Parquet's footer, or the lines of a text file (an upper bound)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def check_row_count(path: Path, fmt: str, max_rows: int) -> None:
    """Refuse a manifest with more than ``max_rows`` rows before any of it is loaded into memory."""
    try:
        n = _count_rows(path, fmt)
    except (OSError, ValueError):
        return  # unreadable: the reader below says why, naming the file
    if fmt == "csv":
        n -= 1  # the header line
    if n > max_rows:
        raise CurateError(f"{path}: {n} rows, more than limits.max_manifest_rows = {max_rows} (curate.toml "
                          "[limits]); split the manifest.")


def cell(value) -> str | None:
    """A manifest cell as a stripped string, or None when empty/missing."""
    if value is None:
        return None
    import pandas as pd

    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    s = str(value).strip()
    return s or None


@dataclass
class ImportReport:
    """What an import did: rows added, left as they were, and changed; ``warnings``: one line each, for the user."""

    added: int = 0
    unchanged: int = 0
    updated: int = 0
    warnings: list[str] = field(default_factory=list)


def default_candidate_id(clip_id: str, method: str) -> str:
    """The id a candidate gets when its file gives none: one per (clip, method)."""
    return f"{clip_id}:{method}"
