"""sync: hybrid-logical-clock stamps on events and the log, reference data applied from the parent

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hlc", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("sync_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hlc", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_index(batch_op.f("ix_sync_log_hlc"), ["hlc"])
    op.create_table(
        "sync_reference",
        sa.Column("peer", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("peer", "kind", name=op.f("pk_sync_reference")),
    )


def downgrade() -> None:
    op.drop_table("sync_reference")
    with op.batch_alter_table("sync_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_log_hlc"))
        batch_op.drop_column("hlc")
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_column("hlc")
