"""The one id rule for clip, candidate, method and annotator ids.

An id is 1-100 characters from ``A-Z a-z 0-9 . _ - : @ +``, starting with a letter or a
digit. A candidate id may be up to 201 characters, so the default ``<clip_id>:<method>``
of two valid ids always fits. Why so narrow: ids end up in file names, URLs, CSV cells,
page headings and PostgreSQL ``varchar`` columns; this set is safe in all of them
(no path separators, no whitespace or control characters, no bidi overrides, no
Markdown or HTML syntax), and a SQLite workspace stays movable to PostgreSQL.

Cells must be text or whole numbers (a Parquet int column); JSON lists, objects,
booleans and floats are refused rather than stored as ``"[1, 2]"`` or ``"True"``.
"""

from __future__ import annotations

import numbers
import re

from storage.errors import CurateError

ID_MAX = 100
CANDIDATE_ID_MAX = 2 * ID_MAX + 1
_FIRST, _REST = "[A-Za-z0-9]", r"[A-Za-z0-9._:@+\-]"
_ID_RE = re.compile(f"{_FIRST}{_REST}*")
RULE = f"1-{ID_MAX} characters from A-Z a-z 0-9 . _ - : @ +, starting with a letter or digit"
KINDS = ("clip_id", "candidate_id", "method", "annotator")
# The same rule for a SQL engine's regexp_full_match (RE2), length included: build-pairs checks --ratings files in DuckDB.
SQL_ID_RE = f"{_FIRST}{_REST}{{0,{ID_MAX - 1}}}"
SQL_CANDIDATE_ID_RE = f"{_FIRST}{_REST}{{0,{CANDIDATE_ID_MAX - 1}}}"


def _text(value) -> str | None:
    """The cell as text: strings and whole numbers only (None when empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value).__name__ != "bool_":
        return str(int(value))
    try:  # pandas/numpy missing values (NaN, NA, NaT) count as empty
        import pandas as pd

        if pd.isna(value) is True:
            return None
    except (TypeError, ValueError, ImportError):
        pass
    raise TypeError(type(value).__name__)


def _short(value) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def check_id(value, what: str, kind: str = "clip_id") -> str:
    """``value`` as a valid id, else CurateError naming ``what`` (file, row, column).

    ``kind`` is one of :data:`KINDS`; only ``candidate_id`` allows the longer length.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}. Got {kind!r}.")
    try:
        text = _text(value)
    except TypeError as e:
        raise CurateError(f"{what}: an id must be text, not {e} ({_short(value)}).") from None
    if text is None:
        raise CurateError(f"{what}: empty {kind}.")
    limit = CANDIDATE_ID_MAX if kind == "candidate_id" else ID_MAX
    if len(text) > limit:
        raise CurateError(f"{what}: {kind} is {len(text)} characters long; at most {limit} ({RULE}).")
    if not _ID_RE.fullmatch(text):
        raise CurateError(f"{what}: {kind} {_short(text)} is not a valid id ({RULE}).")
    return text


def optional_id(value, what: str, kind: str = "clip_id") -> str | None:
    """Like :func:`check_id`, but an empty cell is None."""
    try:
        if _text(value) is None:
            return None
    except TypeError:
        pass
    return check_id(value, what, kind)


_BAD_CHARS = re.compile(r"[^A-Za-z0-9._:@+\-]+")


def to_id(text: str, fallback: str) -> str:
    """A valid id made from foreign text (a Label Studio e-mail): bad characters become ``_``.

    Used where the text comes from another system, not a user's file: refusing a whole
    pull for one odd user name helps nobody. ``fallback`` (itself valid) is used when
    nothing usable is left.
    """
    out = _BAD_CHARS.sub("_", (text or "").strip()).strip("._:@+-")[:ID_MAX]
    return out if out and _ID_RE.fullmatch(out) else check_id(fallback, "fallback id", "annotator")
