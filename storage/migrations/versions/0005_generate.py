"""generation jobs: claim token, heartbeat, host/pid of the claiming worker, seed

Revision ID: 0005_generate
Revises: 0001_initial

A job left ``running`` by a killed run is recognised as abandoned when its
worker's pid is gone on the same host, or when its heartbeat is older than the
runner's stale timeout (any host). The claim token makes "mark done" a
compare-and-set: only the worker that holds the claim may finish the job.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_generate"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("seed", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_jobs", schema=None) as batch_op:
        batch_op.drop_column("seed")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("claim_token")
