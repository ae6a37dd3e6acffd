"""The working-day calendar (工作日历): the days the holiday notices change, and which years
somebody has entered. A year with a `calendar_year` row is "known"; any other year is counted
Monday to Friday (see rules.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date
from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow

SOURCE_PACKAGE = "package"  # seeded from the chinesecalendar package (国家安排)
SOURCE_COUNTY = "county"  # entered by the county centre from the State Council's notice
SOURCE_NAMES = {SOURCE_PACKAGE: "国家安排", SOURCE_COUNTY: "县级录入"}


class CalendarDay(SQLModel, table=True):
    """A day the notice changes: a day off (on a weekday, or any day of a holiday) or a
    make-up working day on a weekend."""

    __tablename__ = "calendar_day"

    day: dt.date = Field(primary_key=True, sa_type=Date)
    workday: bool  # True: make-up working day (调休上班); False: day off
    name: str = Field(max_length=50)  # 春节, 国庆节, 春节调休上班
    source: str = Field(max_length=16)


class CalendarYear(SQLModel, table=True):
    """A year whose holiday notice has been entered."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(max_length=16)
    note: str = Field(default="", max_length=200)  # e.g. 国办发明电〔2025〕7号
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
