"""The store and the shared basics: models, engine/migrations, Parquet I/O, the workspace, errors, media.

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
    "in_transaction": "storage._engine",
    "read_dataframes": "storage._engine",
    "CurateError": "storage.errors",
    "WorkspaceError": "storage.errors",
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
    "AXES": "storage.models",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
