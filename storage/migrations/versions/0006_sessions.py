"""app sessions: an unguessable handle per session; earlier (sequential-id) sessions end

Revision ID: 0006_sessions
Revises: 0003_annotate

A session used to be addressed by its integer id (``?session=<id>.<secret>``), so
handles were guessable and sign-out trusted the id alone. From here a session is
found by a random ``handle`` and its secret is checked on every operation. Sessions
opened before this revision have no handle: they are deleted (their users sign in again).
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_sessions"
down_revision = "0003_annotate"  # the revision that made app_sessions
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM app_sessions")
    with op.batch_alter_table("app_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handle", sa.String(length=64), nullable=True))
        batch_op.create_index("app_session_handle_ix", ["handle"], unique=True)
    op.create_index("app_session_annotator_ix", "app_sessions", ["annotator_pk"])


def downgrade() -> None:
    op.drop_index("app_session_annotator_ix", table_name="app_sessions")
    with op.batch_alter_table("app_sessions", schema=None) as batch_op:
        batch_op.drop_index("app_session_handle_ix")
        batch_op.drop_column("handle")
