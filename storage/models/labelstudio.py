"""Where our clips and candidates went in Label Studio: the blind mapping, kept in our store only.

Task data in Label Studio holds nothing but opaque tokens and media URLs whose file names
are random; which candidate (and so which method) sits behind each video slot is known
only from these rows. ``curate labelstudio pull`` uses them to turn annotations back into
ratings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base, utcnow

__all__ = ["TASKS_PER_CANDIDATE", "TASKS_PER_CLIP", "LabelStudioProject", "LabelStudioTask"]

TASKS_PER_CLIP = "clip"  # one task shows every candidate of a clip
TASKS_PER_CANDIDATE = "candidate"  # one task per candidate video

_TS = DateTime(timezone=True)


class LabelStudioProject(Base):
    """One Label Studio project this workspace pushed to, on one server."""

    __tablename__ = "labelstudio_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server: Mapped[str] = mapped_column(String(500))  # base URL without a trailing slash
    title: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[int] = mapped_column(Integer)  # Label Studio's id
    per: Mapped[str] = mapped_column(String(20))  # TASKS_PER_CLIP or TASKS_PER_CANDIDATE
    slots: Mapped[int] = mapped_column(Integer)  # videos per task (1 when per candidate)
    document_root: Mapped[str] = mapped_column(Text)  # absolute; the server's local-files root
    media_subdir: Mapped[str] = mapped_column(
        Text
    )  # posix path of the blind media links, under document_root
    media_url_prefix: Mapped[str] = mapped_column(Text)  # task URL = prefix + media_subdir/name
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)

    __table_args__ = (
        UniqueConstraint("server", "project_id", name="labelstudio_project_server_project_id_uq"),
        UniqueConstraint("server", "title", name="labelstudio_project_server_title_uq"),
    )

    def __repr__(self) -> str:
        return f"LabelStudioProject(title={self.title!r}, project_id={self.project_id}, per={self.per}, slots={self.slots})"


class LabelStudioTask(Base):
    """One video slot of one Label Studio task: which candidate it shows.

    A per-clip task has one row per slot; a per-candidate task has a single row (slot 1).
    ``task_id`` is NULL between writing the row and confirming the import, so a push that
    dies half-way is finished by the next one (matched on ``item``) instead of duplicated.
    """

    __tablename__ = "labelstudio_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_pk: Mapped[int] = mapped_column(ForeignKey("labelstudio_projects.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(64))  # opaque token, the task's `item` data field
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    slot: Mapped[int] = mapped_column(Integer)  # 1-based video slot within the task
    clip_pk: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="RESTRICT"))
    candidate_pk: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="RESTRICT"))
    media_name: Mapped[str] = mapped_column(String(100))  # random file name of the video's blind link
    created_at: Mapped[datetime] = mapped_column(_TS, default=utcnow)

    __table_args__ = (
        UniqueConstraint("project_pk", "item", "slot", name="labelstudio_task_project_item_slot_uq"),
        UniqueConstraint("project_pk", "candidate_pk", name="labelstudio_task_project_candidate_uq"),
        Index("labelstudio_task_project_task_id_ix", "project_pk", "task_id"),
    )

    def __repr__(self) -> str:
        return f"LabelStudioTask(task_id={self.task_id}, slot={self.slot}, candidate_pk={self.candidate_pk})"
