"""village agents' devices, their one-time enrolment codes, cases received from phones

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_device",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("signing", sa.String(length=128), nullable=False),
        sa.Column("receiving", sa.String(length=128), nullable=False),
        sa.Column("enrolled_by_id", sa.Integer(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_agent_device_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["enrolled_by_id"],
            ["user_account.id"],
            name=op.f("fk_agent_device_enrolled_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_agent_device")),
    )
    with op.batch_alter_table("agent_device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_device_user_id"), ["user_id"], unique=False)
    op.create_table(
        "agent_device_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_agent_device_code_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_agent_device_code_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_agent_device_code")),
    )
    with op.batch_alter_table("agent_device_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_device_code_user_id"), ["user_id"], unique=False)
    op.create_table(
        "agent_intake",
        sa.Column("phone_case_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("device_key_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_agent_intake_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("phone_case_id", name=op.f("pk_agent_intake")),
    )
    with op.batch_alter_table("agent_intake", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_intake_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agent_intake_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_intake", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_intake_case_id"))
        batch_op.drop_index(batch_op.f("ix_agent_intake_user_id"))
    op.drop_table("agent_intake")
    with op.batch_alter_table("agent_device_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_device_code_user_id"))
    op.drop_table("agent_device_code")
    with op.batch_alter_table("agent_device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_device_user_id"))
    op.drop_table("agent_device")
