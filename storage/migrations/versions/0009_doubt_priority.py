"""doubt priority: clip_priority and annotator_pace, what the active hand-out reads

Revision ID: 0009_doubt_priority
Revises: 0008_broken_face

Written by the background fit of the annotator model (annotate_app.doubt.priority), read by the hand-out
(annotate_app.assign with annotation.allocation = "active"). Both tables are derived data: dropping them
loses nothing the next fit does not rewrite.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_doubt_priority"
down_revision = "0008_broken_face"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clip_priority",
        sa.Column("clip_pk", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("gain", sa.Float(), nullable=False),
        sa.Column("watch_s", sa.Float(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("n_at_fit", sa.Integer(), nullable=False),
        sa.Column("fitted_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["clip_pk"], ["clips.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("clip_pk"),
    )
    op.create_index("clip_priority_pick_ix", "clip_priority", ["settled", "priority", "clip_pk"])
    op.create_table(
        "annotator_pace",
        sa.Column("annotator_pk", sa.Integer(), nullable=False),
        sa.Column("overhead_s", sa.Float(), nullable=False),
        sa.Column("pace", sa.Float(), nullable=False),
        sa.Column("reliability", sa.Float(), nullable=True),
        sa.Column("bias", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["annotator_pk"], ["annotators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("annotator_pk"),
    )


def downgrade() -> None:
    op.drop_table("annotator_pace")
    op.drop_index("clip_priority_pick_ix", table_name="clip_priority")
    op.drop_table("clip_priority")
