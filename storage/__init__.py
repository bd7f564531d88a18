"""The store: SQLAlchemy models, engine/migrations, and Parquet/DuckDB I/O.

Names load on first use, so ``import storage.parquet`` (build-pairs on a ratings file)
does not pay for SQLAlchemy.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Store": "storage._engine",
    "open_store": "storage._engine",
    "make_engine": "storage._engine",
    "redact": "storage._engine",
    "Base": "storage.models",
    "Clip": "storage.models",
    "Candidate": "storage.models",
    "CandidateStatus": "storage.models",
    "GenerationJob": "storage.models",
    "JobStatus": "storage.models",
    "Annotator": "storage.models",
    "AnnotatorRole": "storage.models",
    "Assignment": "storage.models",
    "AssignmentStatus": "storage.models",
    "Rating": "storage.models",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
