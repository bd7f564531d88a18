"""Annotation-app bookkeeping: how many finished ratings each clip has, plus hand-out indexes.

``ClipProgress`` is a counter next to ``clips`` so that handing out the next clip is an
index range scan over *open* clips (``n_done < k``) instead of an aggregate over every
assignment: at 100k clips the aggregate alone costs more than the 50 ms budget. It is
kept in its own module (and Alembic revision ``0003_annotate``) so the foundation's
schema stays as it is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Assignment, Base, Clip, utcnow

__all__ = ["AppSession", "BrokenReport", "ClipProgress"]


class ClipProgress(Base):
    """Finished (``done``) assignments of one clip; rows are added lazily by the hand-out code."""

    __tablename__ = "clip_progress"

    clip_pk: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), primary_key=True)
    n_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # raw-SQL inserts rely on it

    __table_args__ = (Index("clip_progress_n_done_ix", "n_done", "clip_pk"),)

    def __repr__(self) -> str:
        return f"ClipProgress(clip_pk={self.clip_pk}, n_done={self.n_done})"


class AppSession(Base):
    """A signed-in browser session, so a reload does not sign a password user out.

    The browser holds ``<handle>.<secret>`` in the URL (``?session=``): ``handle`` is random
    (revision ``0006_sessions``; the integer id is never shown), and only a hash of the
    secret is stored. Deleted on sign-out, on ``annotators reset`` and ``disable``;
    useless after ``expires_at``.
    """

    __tablename__ = "app_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handle: Mapped[str | None] = mapped_column(String(64), nullable=True)
    annotator_pk: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("app_session_handle_ix", "handle", unique=True),
        Index("app_session_annotator_ix", "annotator_pk"),
    )

    def __repr__(self) -> str:
        return f"AppSession(id={self.id}, annotator_pk={self.annotator_pk})"


class BrokenReport(Base):
    """A candidate one annotator reported broken without scoring it (revision ``0008_broken_face``).

    Broken means no scores, and ``ratings`` requires both, so the report lives here; it flags the
    candidate through :meth:`storage.models.Candidate.report_broken`, like a broken rating, and the
    flags of ``curate stats`` and the dashboard count it.
    """

    __tablename__ = "broken_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_pk: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="RESTRICT"))
    annotator_pk: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds_watched: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("candidate_pk", "annotator_pk", name="broken_report_candidate_pk_annotator_pk_uq"),)


# Indexes on foundation tables, declared here so the ORM metadata matches revision 0003_annotate.
# "my leased clip" looks assignments up by annotator; gold clips are picked by flag.
Index("assignment_annotator_pk_status_ix", Assignment.annotator_pk, Assignment.status)
Index("clip_is_gold_ix", Clip.is_gold)
