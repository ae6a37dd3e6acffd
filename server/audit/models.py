"""The audit log: who changed what, when and from where."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=128)
    detail: str = Field(default="", max_length=2000)
    ip: str = Field(default="", max_length=64)
