"""The exceptions users see: one message that names the file, row and column.

Everything below the CLI raises these (or ``ValueError`` from a config object); the CLI
group turns each into one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations


class CurateError(Exception):
    """Bad input or an impossible request. The CLI prints the message and exits 1; nothing was written."""


class WorkspaceError(CurateError):
    """A workspace that is missing or whose config is invalid; the message says which and why."""


def where(path, row: int | None = None, column: str | None = None) -> str:
    """``file.csv, row 3, column 'audio'`` (rows counted from 1, header excluded)."""
    out = str(path)
    if row is not None:
        out += f", row {row}"
    if column is not None:
        out += f", column {column!r}"
    return out
