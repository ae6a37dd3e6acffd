"""Handing out serial numbers: one counter per township per day, safe under concurrency."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from server.cases.models import SerialCounter
from server.cases.serials import make_serial

MAX_PER_DAY = 99_999


async def do_next_serial(session: AsyncSession, township_code: str, day: dt.date) -> str:
    """The next serial of the township for the day (in the caller's transaction)."""
    for _ in range(3):
        bumped = await session.exec(
            update(SerialCounter)
            .where(col(SerialCounter.org_unit_code) == township_code, col(SerialCounter.day) == day)
            .values(last=col(SerialCounter.last) + 1)
            .returning(col(SerialCounter.last))
        )
        number = bumped.scalar_one_or_none()
        if number is None:
            try:
                async with session.begin_nested():
                    session.add(SerialCounter(org_unit_code=township_code, day=day, last=1))
                number = 1
            except IntegrityError:
                continue  # another request made the row first: bump it instead
        if number > MAX_PER_DAY:
            raise RuntimeError(f"more than {MAX_PER_DAY} cases in one day at {township_code}")
        return make_serial(township_code, day, number)
    raise RuntimeError("could not take a serial number")
