"""Annotation workstation tables: unsubmitted drafts, skipped clips and replaced ratings.

Kept in their own module (and Alembic revision ``0006_workstation``) beside the app's
other bookkeeping:
- ``ClipDraft``: what an annotator has entered on a leased clip so far (scores, comments,
  broken flags, watched fractions, focus) as one JSON document, so a reload or a sign-in on
  another device restores it. Deleted by the submit that turns it into ratings.
- ``ClipSkip``: why a clip was skipped. The assignment itself becomes ``released``; the
  UNIQUE(clip, annotator) row is what keeps the clip from coming back to that annotator.
- ``RatingRevision``: a rating as it was before its annotator edited the clip, so an edit
  never destroys data while pairs and stats see only the current ``ratings`` rows.
- ``ClipTarget``: raters a clip asks for beyond k because its k ratings disagree (adaptive overlap).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base, utcnow

__all__ = ["ClipDraft", "ClipSkip", "ClipTarget", "RatingRevision"]

_TS = DateTime(timezone=True)


class ClipDraft(Base):
    """The work in progress on one assignment (at most one row per assignment)."""

    __tablename__ = "clip_drafts"

    assignment_pk: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON, sanitised by annotate_app.drafts before it is stored
    updated_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)

    def __repr__(self) -> str:
        return f"ClipDraft(assignment_pk={self.assignment_pk})"


class ClipSkip(Base):
    """An assignment the annotator passed over, with the optional reason they gave."""

    __tablename__ = "clip_skips"

    assignment_pk: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)


class RatingRevision(Base):
    """A superseded rating: the values a later edit by the same annotator replaced."""

    __tablename__ = "rating_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_pk: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"))
    alignment: Mapped[int] = mapped_column(Integer)
    fidelity: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    broken: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds_watched: Mapped[float | None] = mapped_column(Float, nullable=True)
    rated_at: Mapped[datetime] = mapped_column(_TS)  # when the replaced values were given
    replaced_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)

    __table_args__ = (Index("rating_revision_rating_pk_ix", "rating_pk"),)


class ClipTarget(Base):
    """An escalated clip: it stays open until ``n_done`` reaches ``target`` (> k); no row = k."""

    __tablename__ = "clip_targets"

    clip_pk: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), primary_key=True)
    target: Mapped[int] = mapped_column(Integer)
