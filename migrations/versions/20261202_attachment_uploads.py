"""attachment uploads: who declared a file from the phone, for which draft and material

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment_upload",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.String(length=64), nullable=False),
        sa.Column("material", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_attachment_upload_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["attachment.sha256"], name=op.f("fk_attachment_upload_sha256_attachment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_upload")),
        sa.UniqueConstraint(
            "user_id",
            "draft_id",
            "material",
            "sha256",
            name=op.f("uq_attachment_upload_user_id_draft_id_material_sha256"),
        ),
    )
    with op.batch_alter_table("attachment_upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_upload_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("attachment_upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_upload_user_id"))
    op.drop_table("attachment_upload")
