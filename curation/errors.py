"""The one exception type users see: a message that names the file, row and column."""

from __future__ import annotations


class CurateError(Exception):
    """Bad input or an impossible request. The CLI prints the message and exits 1; nothing was written."""


def where(path, row: int | None = None, column: str | None = None) -> str:
    """``file.csv, row 3, column 'audio'`` (rows counted from 1, header excluded)."""
    out = str(path)
    if row is not None:
        out += f", row {row}"
    if column is not None:
        out += f", column {column!r}"
    return out
