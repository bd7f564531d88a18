"""rounds: a rounds table (round 1 created) and clips.round (existing clips become round 1)

Revision ID: 0006_rounds
Revises: 0001_initial

Candidates, assignments and ratings get their round through their clip, so only
clips carry the column. It has no foreign key: on SQLite adding one means rebuilding
``clips``, which its many referencing rows (foreign keys on) do not allow inside a
migration; every insert takes the round from the ``rounds`` table instead
(``storage.models.CURRENT_ROUND_SQL``).
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0006_rounds"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rounds = op.create_table(
        "rounds",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("number"),
    )
    op.bulk_insert(rounds, [{"number": 1, "started_at": datetime.now(timezone.utc), "note": None}])
    with op.batch_alter_table("clips", schema=None) as batch_op:
        # server_default puts every clip already in the store into round 1.
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
    op.create_index("clip_round_ix", "clips", ["round"])


def downgrade() -> None:
    op.drop_index("clip_round_ix", table_name="clips")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): batch mode would rebuild `clips`, and
    # DROP TABLE clips fails while candidates reference it (foreign keys are on).
    op.drop_column("clips", "round")
    op.drop_table("rounds")
