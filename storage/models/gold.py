"""Gold answers: the expected score ranges of a candidate whose quality is known in advance.

A gold clip (``Clip.is_gold``) is mixed into annotators' work like any other clip;
its candidates with a ``GoldAnswer`` row check the annotators: a rating passes
when both scores fall inside the expected ranges. Kept in its own module (and
its own Alembic revision, ``0002_gold``) so the foundation's schema stays as it is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.core import Base, Candidate, utcnow

__all__ = ["GoldAnswer"]


class GoldAnswer(Base):
    """Expected ranges (inclusive, 1..5) of both axes for one gold candidate."""

    __tablename__ = "gold_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # CASCADE: an answer means nothing without its candidate.
    candidate_pk: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    alignment_min: Mapped[int] = mapped_column(Integer)
    alignment_max: Mapped[int] = mapped_column(Integer)
    fidelity_min: Mapped[int] = mapped_column(Integer)
    fidelity_max: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    candidate: Mapped[Candidate] = relationship()

    __table_args__ = (
        UniqueConstraint("candidate_pk", name="gold_answer_candidate_pk_uq"),
        CheckConstraint("alignment_min BETWEEN 1 AND 5 AND alignment_max BETWEEN alignment_min AND 5",
                        name="gold_answer_alignment_range"),
        CheckConstraint("fidelity_min BETWEEN 1 AND 5 AND fidelity_max BETWEEN fidelity_min AND 5",
                        name="gold_answer_fidelity_range"),
    )

    def __repr__(self) -> str:
        return (f"GoldAnswer(candidate_pk={self.candidate_pk}, alignment={self.alignment_min}-{self.alignment_max}, "
                f"fidelity={self.fidelity_min}-{self.fidelity_max})")
