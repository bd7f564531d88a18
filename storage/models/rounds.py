"""Rounds of a campaign: generate -> rate -> build pairs -> train, then again with the trained model.

A round is a number and the time it was opened. The current round is the highest
number; ``curate round start`` opens the next one. Clips carry the round they were
ingested in (``clips.round``, filled by the database from ``CURRENT_ROUND_SQL``);
their candidates, assignments and ratings belong to the same round, derived through
the clip (see docs/data-model.md, "Rounds"). Kept in its own module and Alembic revision
(``0006_rounds``) so the foundation's schema stays as it is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base, Clip, utcnow

__all__ = ["Round"]


class Round(Base):
    """One round; round 1 exists in every store (revision ``0006_rounds`` creates it)."""

    __tablename__ = "rounds"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    def __repr__(self) -> str:
        return f"Round(number={self.number}, started_at={self.started_at})"


# Declared here so the ORM metadata matches revision 0006_rounds: "this round's clips" is a lookup by round.
Index("clip_round_ix", Clip.round)
