"""Local rules a county sets for itself (县级设置), as key/value rows."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow


class PolicySetting(SQLModel, table=True):
    __tablename__ = "policy_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=500)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
