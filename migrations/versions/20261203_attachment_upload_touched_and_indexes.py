"""attachment uploads: the last step's time (the clean-up's clock), an index on the file and one
on the unlinked uploads by agent and last step

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachment_upload", schema=None) as batch_op:
        batch_op.add_column(sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))
    # The last step known so far: the completion, else the declaration.
    op.execute("UPDATE attachment_upload SET touched_at = COALESCE(completed_at, created_at)")
    with op.batch_alter_table("attachment_upload", schema=None) as batch_op:
        batch_op.alter_column(
            "touched_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index(batch_op.f("ix_attachment_upload_sha256"), ["sha256"])
        batch_op.create_index(
            batch_op.f("ix_attachment_upload_unlinked"),
            ["user_id", "touched_at"],
            sqlite_where=sa.text("case_id IS NULL"),
            postgresql_where=sa.text("case_id IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("attachment_upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_upload_unlinked"))
        batch_op.drop_index(batch_op.f("ix_attachment_upload_sha256"))
        batch_op.drop_column("touched_at")
