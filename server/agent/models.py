"""Village agents' phones (devices), the one-time codes that enrol them, cases received from them.

A device is one browser on one phone, enrolled for one village agent: it made its own P-256
signing and receiving keys in WebCrypto (the private halves never leave it) and registered the
public halves with a code a township clerk showed. Its envelopes are accepted while it is not
revoked; a revoked device stays listed (who had it, when it was revoked) and is never accepted
again. `AgentIntake` maps the case id a phone chose to the case the township opened, so a case
sent twice is opened once.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow


class AgentDevice(SQLModel, table=True):
    __tablename__ = "agent_device"

    key_id: str = Field(primary_key=True, max_length=32)  # hex of the 16-byte key id
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=60)  # what the agent calls the phone ("红米 9A")
    signing: str = Field(max_length=128)  # base64url SEC1 points, as sync/keys.py writes them
    receiving: str = Field(max_length=128)
    enrolled_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    enrolled_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_seen_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class AgentDeviceCode(SQLModel, table=True):
    """A one-time code for enrolling a phone of one agent; only its hash is stored."""

    __tablename__ = "agent_device_code"

    code_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
    used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class AgentIntake(SQLModel, table=True):
    """A case a phone sent: the phone's case id, and the township's case once opened."""

    __tablename__ = "agent_intake"

    phone_case_id: str = Field(primary_key=True, max_length=36)
    case_id: str | None = Field(default=None, max_length=36, index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    device_key_id: str = Field(max_length=32)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
