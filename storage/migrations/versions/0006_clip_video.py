"""clips: optional ground-truth video (video_path, video_sha256) for full-reference metrics

Revision ID: 0006_clip_video
Revises: 0001_initial

Evaluation sets such as HDTF and CelebV-HQ come with the real recording of each
clip; `curate eval` compares candidates against it (PSNR, SSIM, LPIPS, FID, FVD).
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_clip_video"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("video_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): batch mode would rebuild `clips`, and
    # DROP TABLE clips fails while candidates reference it (foreign keys are on).
    op.drop_column("clips", "video_sha256")
    op.drop_column("clips", "video_path")
