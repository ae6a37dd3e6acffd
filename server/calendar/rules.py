"""Working days and due moments (办理期限): pure functions over a calendar, no database.

The law and the rules this module follows:

- 《中华人民共和国行政许可法》第八十二条：“本法规定的行政机关实施行政许可的期限以工作日计算，
  不含法定节假日。” A limit in working days counts only working days: Monday to Friday, minus
  the days off of the State Council's holiday notice, plus its make-up working days (调休上班)
  on Saturdays and Sundays.
- The civil-law rule on periods (《中华人民共和国民法典》第二百零一条、第二百零三条): the day
  on which a period starts is not counted, it begins on the next day (“开始的当日不计入，自下一日
  开始计算”); when its last day is a statutory holiday, the day after the holiday is its last day
  (“以法定休假日结束的次日为期间的最后一日”, here: the next working day); it ends at the end of
  its last day.

How each unit is counted, always in local time (Asia/Shanghai; the start may be any aware
datetime and is converted first):

- ``working_days``: the day of acceptance is not counted; day 1 is the first working day after
  the start's local date; the last day is the Nth working day and the period ends at 23:59:59
  local on it. An amount of 0 means the same day (an immediate case, 即办件): the last day is
  the start's local date, ending at 23:59:59.
- ``calendar_days``: the last day is the start's local date plus N days, moved forward to the
  next working day when it is not one; it ends at 23:59:59 local.
- ``working_hours``: counted only inside the office hours (``OFFICE_HOURS``) of working days,
  from the start itself; a start outside office hours begins counting at the next office
  period. The due moment is the exact instant, its last day that instant's local date.

The calendar (``WorkCalendar``) holds the overrides entered for the years somebody knows (the
package's data, or the county's own entry of the State Council's notice). A year nobody entered
is not an error: its days fall back to Monday–Friday and the result names it in
``unknown_years`` so the page can warn. Negative amounts are a programmer's error (ValueError).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

Unit = Literal["working_days", "calendar_days", "working_hours"]
UNIT_NAMES: dict[str, str] = {
    "working_days": "工作日",
    "calendar_days": "自然日",
    "working_hours": "工作小时",
}

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# The office periods of a working day (morning and afternoon), local time.
OFFICE_HOURS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(8, 30), dt.time(12, 0)),
    (dt.time(14, 30), dt.time(17, 30)),
)
END_OF_DAY = dt.time(23, 59, 59)
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Due:
    """When a limit runs out: the instant, its local date, and the years nobody has entered."""

    moment: dt.datetime
    last_day: dt.date
    unknown_years: frozenset[int]


def local_date(moment: dt.datetime) -> dt.date:
    return _local(moment).date()


def _local(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every datetime must carry a time zone")
    return moment.astimezone(LOCAL_TZ)


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=LOCAL_TZ)


def _weekdays_through(day: dt.date) -> int:
    """How many Mondays to Fridays there are from 0001-01-01 (a Monday) to `day`, inclusive."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


@dataclass(frozen=True)
class WorkCalendar:
    """The working days: Monday to Friday, corrected by the holiday notices' overrides.

    `overrides` maps a date to True (a make-up working day on a weekend) or False (a day off:
    a holiday on a weekday, or any day of a holiday); `known_years` are the years whose notice
    was entered. A year outside it is counted Monday to Friday.
    """

    overrides: Mapping[dt.date, bool]
    known_years: frozenset[int]
    _dates: tuple[dt.date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dates", tuple(sorted(self.overrides)))

    # --- single days -------------------------------------------------------------------------

    def is_workday(self, day: dt.date) -> bool:
        override = self.overrides.get(day)
        if override is not None:
            return override
        return day.weekday() < 5

    def unknown_years_between(self, a: dt.date, b: dt.date) -> frozenset[int]:
        """The years from a's to b's (either order) whose holidays nobody has entered."""
        low, high = min(a.year, b.year), max(a.year, b.year)
        return frozenset(year for year in range(low, high + 1) if year not in self.known_years)

    # --- counting ----------------------------------------------------------------------------

    def _overrides_in(self, after: dt.date, through: dt.date) -> tuple[dt.date, ...]:
        """The overridden dates d with after < d <= through, in order."""
        low = bisect.bisect_right(self._dates, after)
        high = bisect.bisect_right(self._dates, through)
        return self._dates[low:high]

    def _workdays_in(self, after: dt.date, through: dt.date) -> int:
        """Working days d with after < d <= through: arithmetic plus one step per override."""
        if through <= after:
            return 0
        count = _weekdays_through(through) - _weekdays_through(after)
        for day in self._overrides_in(after, through):
            weekday = day.weekday() < 5
            if self.overrides[day] and not weekday:
                count += 1
            elif not self.overrides[day] and weekday:
                count -= 1
        return count

    def working_days_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Working days d with start's local date < d <= end's local date (0 if end <= start)."""
        if end <= start:
            return 0
        return self._workdays_in(local_date(start), local_date(end))

    def _nth_workday_after(self, day: dt.date, amount: int) -> dt.date:
        """The `amount`th working day after `day`: whole weeks without overrides are skipped
        in one step (any 7 days in a row hold 5 weekdays), the rest walked a day at a time."""
        remaining = amount
        while remaining > 0:
            week_end = day + dt.timedelta(days=7)
            if remaining > 5 and not self._overrides_in(day, week_end):
                day, remaining = week_end, remaining - 5
                continue
            day += ONE_DAY
            if self.is_workday(day):
                remaining -= 1
        return day

    def _next_workday_from(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day += ONE_DAY
        return day

    def _working_hours_end(self, start: dt.datetime, amount: int) -> dt.datetime:
        remaining = dt.timedelta(hours=amount)
        if not remaining:
            return start
        day = start.date()
        while True:
            if self.is_workday(day):
                for opens, closes in OFFICE_HOURS:
                    begin = max(start, dt.datetime.combine(day, opens, tzinfo=LOCAL_TZ))
                    end = dt.datetime.combine(day, closes, tzinfo=LOCAL_TZ)
                    if begin >= end:
                        continue
                    if remaining <= end - begin:
                        return begin + remaining
                    remaining -= end - begin
            day += ONE_DAY

    # --- the due moment ----------------------------------------------------------------------

    def due(self, start: dt.datetime, amount: int, unit: Unit) -> Due:
        """When a limit of `amount` `unit`s, starting at `start`, runs out (see the module)."""
        if amount < 0:
            raise ValueError(f"a limit cannot be negative: {amount}")
        local = _local(start)
        first = local.date()
        if unit == "working_days":
            last = self._nth_workday_after(first, amount)
            return Due(_end_of(last), last, self.unknown_years_between(first, last))
        if unit == "calendar_days":
            last = self._next_workday_from(first + dt.timedelta(days=amount))
            return Due(_end_of(last), last, self.unknown_years_between(first, last))
        if unit == "working_hours":
            moment = self._working_hours_end(local, amount)
            return Due(moment, moment.date(), self.unknown_years_between(first, moment.date()))
        raise ValueError(f"unknown unit: {unit!r}")
