"""SQLAlchemy 2 models: the store's schema, one module per group of tables.

Importing ``storage.models`` imports every table module, so ``Base.metadata`` always holds the
whole schema (Alembic's ``env.py`` and the autogenerate check in tests/storage/test_migrations.py rely
on it). A new table module is added to the imports below; nothing registers a table by a
side-effect import elsewhere.

- ``core``: clips, candidates, generation jobs, annotators, assignments, ratings (and ``Base``).
- ``annotation``: per-clip progress counters and app sign-in sessions.
- ``drafts``: unsubmitted drafts, skips, replaced ratings, adaptive clip targets.
- ``gold``: gold answers for calibration candidates.
- ``labelstudio``: Label Studio projects and the tasks pushed to them.
- ``rounds``: the rounds of a campaign.
- ``doubt``: the active hand-out's clip priorities and annotator paces (written by the background fit).
"""

from __future__ import annotations

from storage.models.annotation import AppSession, BrokenReport, ClipProgress
from storage.models.core import (
    AXES,
    CURRENT_ROUND_SQL,
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
    utcnow,
)
from storage.models.doubt import AnnotatorPace, ClipPriority
from storage.models.drafts import ClipDraft, ClipSkip, ClipTarget, RatingRevision
from storage.models.gold import GoldAnswer
from storage.models.labelstudio import (
    TASKS_PER_CANDIDATE,
    TASKS_PER_CLIP,
    LabelStudioProject,
    LabelStudioTask,
)
from storage.models.rounds import Round

__all__ = [
    "AXES",
    "CURRENT_ROUND_SQL",
    "TASKS_PER_CANDIDATE",
    "TASKS_PER_CLIP",
    "Annotator",
    "AnnotatorPace",
    "AnnotatorRole",
    "AppSession",
    "Assignment",
    "AssignmentStatus",
    "Base",
    "BrokenReport",
    "Candidate",
    "CandidateStatus",
    "Clip",
    "ClipDraft",
    "ClipPriority",
    "ClipProgress",
    "ClipSkip",
    "ClipTarget",
    "GenerationJob",
    "GoldAnswer",
    "JobStatus",
    "LabelStudioProject",
    "LabelStudioTask",
    "Rating",
    "RatingRevision",
    "Round",
    "utcnow",
]
