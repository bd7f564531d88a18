"""Label Studio bridge: projects pushed and the blind task/slot -> candidate mapping

Revision ID: 0004_labelstudio
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_labelstudio"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labelstudio_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server", sa.String(length=500), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("per", sa.String(length=20), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("document_root", sa.Text(), nullable=False),
        sa.Column("media_subdir", sa.Text(), nullable=False),
        sa.Column("media_url_prefix", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("server", "project_id", name="labelstudio_project_server_project_id_uq"),
        sa.UniqueConstraint("server", "title", name="labelstudio_project_server_title_uq"),
    )
    op.create_table(
        "labelstudio_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_pk", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("clip_pk", sa.Integer(), nullable=False),
        sa.Column("candidate_pk", sa.Integer(), nullable=False),
        sa.Column("media_name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_pk"], ["labelstudio_projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["clip_pk"], ["clips.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["candidate_pk"], ["candidates.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_pk", "item", "slot", name="labelstudio_task_project_item_slot_uq"),
        sa.UniqueConstraint("project_pk", "candidate_pk", name="labelstudio_task_project_candidate_uq"),
    )
    with op.batch_alter_table("labelstudio_tasks", schema=None) as batch_op:
        batch_op.create_index("labelstudio_task_project_task_id_ix", ["project_pk", "task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("labelstudio_tasks", schema=None) as batch_op:
        batch_op.drop_index("labelstudio_task_project_task_id_ix")
    op.drop_table("labelstudio_tasks")
    op.drop_table("labelstudio_projects")
