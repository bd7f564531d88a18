"""CSV cells a spreadsheet will not run as formulas: a cell starting with =, +, -, @ or a control character would run when an admin opens the export (CSV injection).

Every CSV the tool writes or offers goes through here: ``curate export ratings --out r.csv``
(storage/export.py) and the dashboard's table downloads (annotate_app/web/dashboard_annotators.py).
"""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value):
    """A CSV cell that a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading '.

    Lists (a flagged video's comments) are handled item by item; other values pass unchanged.
    """
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if isinstance(value, (list, tuple)):
        return [formula_safe(v) for v in value]
    return value


def formula_safe_frame(df):
    """A copy of ``df`` whose text cells are :func:`formula_safe` (numbers stay numbers)."""
    out = df.copy()
    for col in out.columns:
        if str(out[col].dtype) in ("object", "string", "str", "category"):  # names are often categorical
            out[col] = out[col].astype(object).map(formula_safe)
    return out
