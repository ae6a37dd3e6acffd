"""node peers, their public keys, enrolment codes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "node_peer",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("relation", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_node_peer")),
    )
    op.create_table(
        "enrolment_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_enrolment_code_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_enrolment_code")),
    )
    with op.batch_alter_table("enrolment_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolment_code_region_code"), ["region_code"], unique=False
        )
    op.create_table(
        "peer_key",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("signing", sa.String(length=128), nullable=False),
        sa.Column("receiving", sa.String(length=128), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["node_peer.region_code"],
            name=op.f("fk_peer_key_region_code_node_peer"),
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_peer_key")),
    )
    with op.batch_alter_table("peer_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_key_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("peer_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_key_region_code"))
    op.drop_table("peer_key")
    with op.batch_alter_table("enrolment_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_code_region_code"))
    op.drop_table("enrolment_code")
    op.drop_table("node_peer")
