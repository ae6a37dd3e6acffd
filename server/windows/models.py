"""Windows (窗口): the counters of a centre, each with an A post and a B post (AB岗)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow


class Window(SQLModel, table=True):
    __tablename__ = "service_window"
    __table_args__ = (UniqueConstraint("org_unit_code", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    org_unit_code: str = Field(foreign_key="org_unit.code", max_length=12, index=True)
    number: int
    name: str = Field(max_length=50)
    is_general: bool = False  # 综合受理窗口: accepts any item (一窗受理)
    post_a_id: int | None = Field(default=None, foreign_key="user_account.id")
    post_b_id: int | None = Field(default=None, foreign_key="user_account.id")
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
