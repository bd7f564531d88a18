"""Active allocation: the background fit of the annotator model writes these; the hand-out only reads them.

``clip_priority``: per clip of the current round, the confidence in its best-vs-worst pair, the expected rise
from one more rating, the clip's watch time and the resulting priority (rise per second of an average
annotator). ``annotator_pace``: per annotator, seconds per clip as ``overhead_s + pace * watch_s``, and the model's reliability and bias.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base

_TS = DateTime(timezone=True)


class ClipPriority(Base):
    __tablename__ = "clip_priority"

    clip_pk: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), primary_key=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)  # null: fewer than two candidates
    gain: Mapped[float] = mapped_column(Float)
    watch_s: Mapped[float] = mapped_column(Float)
    priority: Mapped[float] = mapped_column(Float)
    settled: Mapped[bool] = mapped_column(Boolean)
    n_at_fit: Mapped[int] = mapped_column(Integer)  # ratings (done assignments) the fit saw
    fitted_at: Mapped[datetime] = mapped_column(_TS)

    # The hand-out walks open clips by priority: a range scan over unsettled rows in priority order.
    __table_args__ = (Index("clip_priority_pick_ix", "settled", "priority", "clip_pk"),)


class AnnotatorPace(Base):
    __tablename__ = "annotator_pace"

    annotator_pk: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"), primary_key=True)
    overhead_s: Mapped[float] = mapped_column(Float)
    pace: Mapped[float] = mapped_column(Float)
    # From the same fit, for `curate stats`: share of score variance that is quality (0..1), mean bias (points).
    reliability: Mapped[float | None] = mapped_column(Float, nullable=True)
    bias: Mapped[float | None] = mapped_column(Float, nullable=True)
