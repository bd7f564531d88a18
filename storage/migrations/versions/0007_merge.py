"""merge: the seven branches that grew off 0001_initial become one line

Revision ID: 0007_merge
Revises: 0002_gold, 0004_labelstudio, 0005_generate, 0006_clip_video, 0006_rounds, 0006_sessions, 0006_workstation

Until here each feature added its revision on top of ``0001_initial`` and ``upgrade heads`` applied them all.
Existing stores hold those revision ids, so they stay; from this revision on the chain is linear: each new
revision names the previous one as ``down_revision`` and takes the next unused number
(``tests/storage/test_migrations.py`` fails on a second head).
"""

revision = "0007_merge"
down_revision = (
    "0002_gold",
    "0004_labelstudio",
    "0005_generate",
    "0006_clip_video",
    "0006_rounds",
    "0006_sessions",
    "0006_workstation",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point: no schema change


def downgrade() -> None:
    pass
