"""The core tables: clips, candidates, generation jobs, annotators, assignments, ratings.

The invariants live in the database, not only here: ratings are 1..5 (CHECK),
one rating per (candidate, annotator) (UNIQUE), and every reference is a
foreign key. Natural keys (``clip_id``, ``candidate_id``, annotator ``name``)
are what users see in files; integer ``id`` columns are internal.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import (
    Enum as SAEnum,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Annotator",
    "AnnotatorRole",
    "Assignment",
    "AssignmentStatus",
    "Base",
    "Candidate",
    "CandidateStatus",
    "Clip",
    "GenerationJob",
    "JobStatus",
    "Rating",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class CandidateStatus(str, enum.Enum):
    pending = "pending"  # registered, not yet normalised
    ready = "ready"  # normalised and probed: may be rated
    failed = "failed"  # broken output; failure_reason says why; never rated
    flagged = "flagged"  # annotators marked it broken; excluded from pairs


class JobStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class AnnotatorRole(str, enum.Enum):
    annotator = "annotator"
    admin = "admin"


class AssignmentStatus(str, enum.Enum):
    leased = "leased"  # handed out; returns to the pool when the lease expires
    done = "done"
    released = "released"  # given back (abandoned or expired)


_TS = DateTime(timezone=True)

# The round a new clip joins: the latest one opened (table `rounds`, storage/models/rounds.py).
# A SQL default, so every insert (ORM or bulk) reads it in its own transaction.
CURRENT_ROUND_SQL = "(SELECT COALESCE(MAX(number), 1) FROM rounds)"


class Clip(Base):
    """One input: a reference image and the driving audio (plus optional prompt and skeleton)."""

    __tablename__ = "clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[str] = mapped_column(String(200), unique=True)
    image_path: Mapped[str] = mapped_column(Text)
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_width: Mapped[int] = mapped_column(Integer)
    image_height: Mapped[int] = mapped_column(Integer)
    audio_path: Mapped[str] = mapped_column(Text)
    audio_sha256: Mapped[str] = mapped_column(String(64))
    audio_duration: Mapped[float] = mapped_column(Float)
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    skeleton_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    skeleton_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Ground-truth recording for full-reference metrics (revision 0006_clip_video).
    video_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    video_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)
    # Revision 0006_rounds; the clip's candidates and ratings belong to the same round.
    round: Mapped[int] = mapped_column(Integer, default=text(CURRENT_ROUND_SQL), server_default="1")

    candidates: Mapped[list[Candidate]] = relationship(back_populates="clip")

    __table_args__ = (CheckConstraint("audio_duration > 0", name="clip_audio_duration_positive"),)

    def __repr__(self) -> str:
        return f"Clip(clip_id={self.clip_id!r}, audio_duration={self.audio_duration:.2f})"


class Candidate(Base):
    """One generated (or imported) video for a clip, by one method."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(300), unique=True)
    clip_pk: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(100))
    video_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    raw_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    fps: Mapped[float | None] = mapped_column(Float, nullable=True)
    frame_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    has_audio: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[CandidateStatus] = mapped_column(
        SAEnum(CandidateStatus, name="candidate_status_enum"), default=CandidateStatus.pending
    )
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(50), default="import")
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)
    # The face the detector found once at import, "x0 y0 x1 y1" as fractions of the frame (revision
    # 0008_broken_face); the player's mouth zoom frames the lips from it. NULL: none found.
    face_box: Mapped[str | None] = mapped_column(String(64), nullable=True)

    clip: Mapped[Clip] = relationship(back_populates="candidates")

    def report_broken(self, broken: bool) -> None:
        """The one rule for a rating's "broken" answer (the app's submit and ``curate import ratings``): one
        report flags a ``ready`` candidate; a later "not broken" never clears the flag; ``failed`` and
        ``pending`` stay as they are."""
        if broken and self.status == CandidateStatus.ready:
            self.status = CandidateStatus.flagged

    __table_args__ = (
        UniqueConstraint("clip_pk", "method", name="candidate_clip_pk_method_uq"),
        Index("candidate_status_ix", "status"),
    )

    def __repr__(self) -> str:
        return f"Candidate(candidate_id={self.candidate_id!r}, method={self.method!r}, status={self.status.value})"


class GenerationJob(Base):
    """One (clip, method) generation request; the batch runner's unit of work."""

    __tablename__ = "generation_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_pk: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(100))
    status: Mapped[JobStatus] = mapped_column(SAEnum(JobStatus, name="job_status_enum"), default=JobStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    log_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    candidate_pk: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    # Claim of the worker running the job (revision 0005_generate; see generators/_jobs.py).
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        UniqueConstraint("clip_pk", "method", name="generation_job_clip_pk_method_uq"),
        Index("generation_job_status_ix", "status"),
    )

    def __repr__(self) -> str:
        return f"GenerationJob(id={self.id}, method={self.method!r}, status={self.status.value})"


class Annotator(Base):
    """A person who rates: app users, Label Studio users and names from imported ratings."""

    __tablename__ = "annotators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[AnnotatorRole] = mapped_column(
        SAEnum(AnnotatorRole, name="annotator_role_enum"), default=AnnotatorRole.annotator
    )
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    token_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    source: Mapped[str] = mapped_column(String(50), default="app")
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)

    def __repr__(self) -> str:
        return f"Annotator(name={self.name!r}, role={self.role.value})"


class Assignment(Base):
    """A clip leased to an annotator; at most one per (clip, annotator)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_pk: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="RESTRICT"))
    annotator_pk: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"))
    status: Mapped[AssignmentStatus] = mapped_column(
        SAEnum(AssignmentStatus, name="assignment_status_enum"), default=AssignmentStatus.leased
    )
    order_seed: Mapped[int] = mapped_column(Integer, default=0)
    leased_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)

    __table_args__ = (
        UniqueConstraint("clip_pk", "annotator_pk", name="assignment_clip_pk_annotator_pk_uq"),
        Index("assignment_status_ix", "status", "lease_expires_at"),
    )

    def __repr__(self) -> str:
        return f"Assignment(clip_pk={self.clip_pk}, annotator_pk={self.annotator_pk}, status={self.status.value})"


# The two Likert axes of a rating (Hallo4 sec. 3.2), in the order annotators see them; every
# module that loops over the axes takes this one tuple.
AXES = ("alignment", "fidelity")


class Rating(Base):
    """Two 5-point Likert scores for one candidate by one annotator."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_pk: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="RESTRICT"))
    annotator_pk: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"))
    alignment: Mapped[int] = mapped_column(Integer)
    fidelity: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    broken: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds_watched: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(50), default="app")
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(_TS, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("candidate_pk", "annotator_pk", name="rating_candidate_pk_annotator_pk_uq"),
        CheckConstraint("alignment BETWEEN 1 AND 5", name="rating_alignment_range"),
        CheckConstraint("fidelity BETWEEN 1 AND 5", name="rating_fidelity_range"),
        Index("rating_annotator_pk_ix", "annotator_pk"),
    )

    def __repr__(self) -> str:
        return f"Rating(candidate_pk={self.candidate_pk}, annotator_pk={self.annotator_pk}, a={self.alignment}, f={self.fidelity})"
