"""Reading the working-day calendar: the whole calendar for due dates, years for the pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.calendar.models import CalendarDay, CalendarYear
from server.calendar.rules import WorkCalendar


@dataclass(frozen=True)
class YearSummary:
    year: int
    source: str
    note: str
    days_off: int
    makeup_days: int
    updated_at: dt.datetime


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """Every override and every known year: a few hundred rows, read in two queries."""
    days = (await session.exec(select(col(CalendarDay.day), col(CalendarDay.workday)))).all()
    years = (await session.exec(select(CalendarYear.year))).all()
    return WorkCalendar(
        overrides={day: workday for day, workday in days}, known_years=frozenset(years)
    )


async def year_summaries(session: AsyncSession) -> list[YearSummary]:
    """The known years, newest first, with how many days off and make-up days each has."""
    years = (await session.exec(select(CalendarYear).order_by(col(CalendarYear.year).desc()))).all()
    counts: dict[int, list[int]] = {row.year: [0, 0] for row in years}
    for day, workday in (
        await session.exec(select(col(CalendarDay.day), col(CalendarDay.workday)))
    ).all():
        if day.year in counts:
            counts[day.year][1 if workday else 0] += 1
    return [
        YearSummary(
            year=row.year,
            source=row.source,
            note=row.note,
            days_off=counts[row.year][0],
            makeup_days=counts[row.year][1],
            updated_at=row.updated_at,
        )
        for row in years
    ]


async def days_of_year(session: AsyncSession, year: int) -> list[CalendarDay]:
    query = (
        select(CalendarDay)
        .where(
            col(CalendarDay.day) >= dt.date(year, 1, 1),
            col(CalendarDay.day) <= dt.date(year, 12, 31),
        )
        .order_by(col(CalendarDay.day))
    )
    return list((await session.exec(query)).all())
