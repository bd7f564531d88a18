"""The store: SQLAlchemy models, engine/migrations, and Parquet/DuckDB I/O."""

from storage._engine import Store, make_engine, open_store, redact
from storage.models import (
    Annotator,
    AnnotatorRole,
    Assignment,
    AssignmentStatus,
    Base,
    Candidate,
    CandidateStatus,
    Clip,
    GenerationJob,
    JobStatus,
    Rating,
)

__all__ = [
    "Store",
    "open_store",
    "make_engine",
    "redact",
    "Base",
    "Clip",
    "Candidate",
    "CandidateStatus",
    "GenerationJob",
    "JobStatus",
    "Annotator",
    "AnnotatorRole",
    "Assignment",
    "AssignmentStatus",
    "Rating",
]
