"""gold answers: expected score ranges per gold candidate

Revision ID: 0002_gold
Revises: 0001_initial
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_gold"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gold_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_pk", sa.Integer(), nullable=False),
        sa.Column("alignment_min", sa.Integer(), nullable=False),
        sa.Column("alignment_max", sa.Integer(), nullable=False),
        sa.Column("fidelity_min", sa.Integer(), nullable=False),
        sa.Column("fidelity_max", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "alignment_min BETWEEN 1 AND 5 AND alignment_max BETWEEN alignment_min AND 5",
            name="gold_answer_alignment_range",
        ),
        sa.CheckConstraint(
            "fidelity_min BETWEEN 1 AND 5 AND fidelity_max BETWEEN fidelity_min AND 5",
            name="gold_answer_fidelity_range",
        ),
        sa.ForeignKeyConstraint(["candidate_pk"], ["candidates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("candidate_pk", name="gold_answer_candidate_pk_uq"),
    )


def downgrade() -> None:
    op.drop_table("gold_answers")
