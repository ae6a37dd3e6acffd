"""Org units: the county, its townships and their villages."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow


class OrgUnit(SQLModel, table=True):
    __tablename__ = "org_unit"

    code: str = Field(primary_key=True, max_length=12)
    name: str = Field(max_length=100)
    level: str = Field(max_length=16)  # county | township | village
    parent_code: str | None = Field(
        default=None, foreign_key="org_unit.code", max_length=12, index=True
    )
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
