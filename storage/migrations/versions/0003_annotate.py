"""annotation app: clip_progress counter, app sessions, hand-out indexes

Revision ID: 0003_annotate
Revises: 0001_initial
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_annotate"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clip_progress",
        sa.Column("clip_pk", sa.Integer(), nullable=False),
        sa.Column("n_done", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["clip_pk"], ["clips.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("clip_pk"),
    )
    op.create_index("clip_progress_n_done_ix", "clip_progress", ["n_done", "clip_pk"])
    op.create_table(
        "app_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotator_pk", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["annotator_pk"], ["annotators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("assignment_annotator_pk_status_ix", "assignments", ["annotator_pk", "status"])
    op.create_index("clip_is_gold_ix", "clips", ["is_gold"])
    # Stores that already hold assignments start with correct counters.
    op.execute(
        "INSERT INTO clip_progress (clip_pk, n_done) "
        "SELECT c.id, (SELECT COUNT(*) FROM assignments a WHERE a.clip_pk = c.id AND a.status = 'done') "
        "FROM clips c"
    )


def downgrade() -> None:
    op.drop_index("clip_is_gold_ix", table_name="clips")
    op.drop_index("assignment_annotator_pk_status_ix", table_name="assignments")
    op.drop_table("app_sessions")
    op.drop_index("clip_progress_n_done_ix", table_name="clip_progress")
    op.drop_table("clip_progress")
