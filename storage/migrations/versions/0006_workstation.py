"""annotation workstation: drafts, skipped clips, replaced ratings, escalated clips

Revision ID: 0006_workstation
Revises: 0001_initial

A branch on 0001_initial like the other feature revisions (it only references
foundation tables); ``upgrade heads`` applies it beside them.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_workstation"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clip_drafts",
        sa.Column("assignment_pk", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["assignment_pk"], ["assignments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("assignment_pk"),
    )
    op.create_table(
        "clip_skips",
        sa.Column("assignment_pk", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["assignment_pk"], ["assignments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("assignment_pk"),
    )
    op.create_table(
        "rating_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_pk", sa.Integer(), nullable=False),
        sa.Column("alignment", sa.Integer(), nullable=False),
        sa.Column("fidelity", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("broken", sa.Boolean(), nullable=False),
        sa.Column("seconds_watched", sa.Float(), nullable=True),
        sa.Column("rated_at", _TS, nullable=False),
        sa.Column("replaced_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["rating_pk"], ["ratings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("rating_revision_rating_pk_ix", "rating_revisions", ["rating_pk"])
    op.create_table(
        "clip_targets",
        sa.Column("clip_pk", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["clip_pk"], ["clips.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("clip_pk"),
    )


def downgrade() -> None:
    op.drop_table("clip_targets")
    op.drop_index("rating_revision_rating_pk_ix", table_name="rating_revisions")
    op.drop_table("rating_revisions")
    op.drop_table("clip_skips")
    op.drop_table("clip_drafts")
