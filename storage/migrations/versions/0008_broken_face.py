"""broken_reports (a video reported broken without scores) and candidates.face_box (the mouth zoom's face)

Revision ID: 0008_broken_face
Revises: 0007_merge

A candidate the annotator marks broken, or whose video the browser could not load, needs no scores;
``ratings`` keeps its two required scores, so such a report is a row of ``broken_reports`` instead,
and flags the candidate exactly like a broken rating. ``face_box`` is the face the detector found once
at import ("x0 y0 x1 y1" as fractions of the frame; NULL: none found or not looked for yet).
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_broken_face"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broken_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("candidate_pk", sa.Integer(), sa.ForeignKey("candidates.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("annotator_pk", sa.Integer(), sa.ForeignKey("annotators.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("seconds_watched", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("candidate_pk", "annotator_pk", name="broken_report_candidate_pk_annotator_pk_uq"),
    )
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("face_box", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("candidates", "face_box")
    op.drop_table("broken_reports")
