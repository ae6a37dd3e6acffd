"""Deadlines of accepted cases: paused time and the warning levels (黄牌预警, 红牌超期).

A pure module (no database, no I/O): the fold (`actions._fold`) uses it to move the due moment
when a stopped clock runs again, the lists use it to show and filter the warning level.

Rules:

- The clock runs from acceptance (`accepted_at`) to the due moment (`due_at`), which the
  calendar computed at acceptance and extensions (延期) moved on.
- A suspension for a special procedure (中止, 《行政许可法》第四十五条: hearings, tests, expert
  review are not counted in the limit) and a one-time notice during review (补齐补正) stop the
  clock. The fold records when it stopped (`paused_at`); when it runs again, the working days
  in between (counted like every period: the day the pause began is not counted, the day it
  ends is) are added to `paused_days` and the due moment moves on by as many working days.
  A stop before acceptance (the one-time notice at intake) does not touch the deadline: the
  clock has not started yet.
- Red (红牌超期): the clock's "now" is past the due moment and the case is not closed. While
  the clock is stopped its "now" is the moment it stopped, so a pause never turns a case red.
- Yellow (黄牌预警): the share of the running time spent, working days from acceptance to the
  clock's "now" minus the paused days, over the running time allowed, working days from
  acceptance to the due moment minus the paused days, has reached the county's
  `warning_percent` (default 80 %). Limits shorter than one working day (immediate cases,
  working hours) are shared by elapsed wall time instead.
- None before acceptance and after the decision, refusal or withdrawal.
- The relay deadline (上报期限) of a relayed case is a point on its one clock: the township
  has the county's `relay_percent` (default 50 %) of the running time, rounded up to whole
  working days, to make its first review and relay; the rest is the county's. Paused days are
  the township's own (the clock stood still), so they move the relay deadline on as well.
  《莆田市…实施细则》六(二)6 only says relayed cases are relayed "在规定时限内，按照承诺件的业务
  流程"; the share is the county's to set, like the warning threshold.

Decision where the brief is silent: the denominator takes the paused days out because the due
moment was moved by them, so a pause neither brings the warning forward nor puts it off.
A working-hours due moment moved by a pause lands at the end of a working day (`WorkCalendar.due`
in working days), a little later than the exact hour; such limits are hours long and are not
suspended in practice.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Literal, Protocol

from server.calendar.rules import WorkCalendar
from server.cases.machine import CLOSED

Level = Literal["none", "yellow", "red"]
LEVELS: tuple[Level, ...] = ("none", "yellow", "red")
LEVEL_NAMES: dict[str, str] = {"none": "正常", "yellow": "黄牌预警", "red": "红牌超期"}
_TICK = dt.timedelta(seconds=1)


class ClockFacts(Protocol):
    """What the warning level needs of a case (a `CaseRecord` has all of it)."""

    state: str
    accepted_at: dt.datetime | None
    due_at: dt.datetime | None
    completed_at: dt.datetime | None
    paused_at: dt.datetime | None
    paused_days: int


def paused_working_days(calendar: WorkCalendar, paused_at: dt.datetime, now: dt.datetime) -> int:
    """Working days the clock stood still: after the pause's local date, through now's."""
    return calendar.working_days_between(paused_at, now)


def moved_due(calendar: WorkCalendar, due_at: dt.datetime, days: int) -> dt.datetime:
    """The due moment put off by `days` working days (unchanged for 0)."""
    if days <= 0:
        return due_at
    return calendar.due(due_at, days, "working_days").moment


def relay_due(
    *,
    accepted_at: dt.datetime,
    due_at: dt.datetime,
    paused_days: int,
    relay_percent: int,
    calendar: WorkCalendar,
) -> dt.datetime:
    """The moment a relayed case must have gone up to the county (see the module's rules)."""
    allowed = calendar.working_days_between(accepted_at, due_at) - paused_days
    if allowed <= 0:  # a limit in hours: no room to share, the due moment is the deadline
        return due_at
    share = -(-allowed * relay_percent // 100)  # ceiling
    return calendar.due(accepted_at, share + paused_days, "working_days").moment


def share_spent(
    *,
    accepted_at: dt.datetime,
    due_at: dt.datetime,
    paused_days: int,
    clock_now: dt.datetime,
    calendar: WorkCalendar,
) -> Fraction:
    """The share (0 to 1 and beyond) of the running time allowed that has been spent, exact."""
    allowed = calendar.working_days_between(accepted_at, due_at) - paused_days
    if allowed <= 0:
        total = due_at - accepted_at
        if total < _TICK:
            return Fraction(1)
        return Fraction(max(dt.timedelta(0), clock_now - accepted_at) // _TICK, total // _TICK)
    spent = calendar.working_days_between(accepted_at, clock_now) - paused_days
    return Fraction(max(0, spent), allowed)


def warning_level(
    *,
    state: str,
    accepted_at: dt.datetime | None,
    due_at: dt.datetime | None,
    completed_at: dt.datetime | None = None,
    paused_at: dt.datetime | None = None,
    paused_days: int = 0,
    now: dt.datetime,
    calendar: WorkCalendar,
    warning_percent: int,
) -> Level:
    """The case's warning level at `now` (see the module's rules)."""
    if accepted_at is None or due_at is None or completed_at is not None or state in CLOSED:
        return "none"
    clock_now = min(now, paused_at) if paused_at is not None else now
    if clock_now > due_at:
        return "red"
    share = share_spent(
        accepted_at=accepted_at,
        due_at=due_at,
        paused_days=paused_days,
        clock_now=clock_now,
        calendar=calendar,
    )
    return "yellow" if share * 100 >= warning_percent else "none"


def level_of(
    case: ClockFacts, *, now: dt.datetime, calendar: WorkCalendar, warning_percent: int
) -> Level:
    """`warning_level` for a case record."""
    return warning_level(
        state=case.state,
        accepted_at=case.accepted_at,
        due_at=case.due_at,
        completed_at=case.completed_at,
        paused_at=case.paused_at,
        paused_days=case.paused_days,
        now=now,
        calendar=calendar,
        warning_percent=warning_percent,
    )


def days_left(calendar: WorkCalendar, now: dt.datetime, moment: dt.datetime) -> int:
    """Working days from now to the moment, as a limit is counted: 0 means the last day is
    today; negative once it has passed (at least -1)."""
    if moment >= now:
        return calendar.working_days_between(now, moment)
    return -max(1, calendar.working_days_between(moment, now))


RELAY_PENDING = frozenset({"accepted", "in_review", "ready_to_relay"})


def relay_deadline(
    case: ClockFacts, *, kind: str, owner: str, calendar: WorkCalendar, relay_percent: int
) -> dt.datetime | None:
    """A relayed case's relay deadline while the township still holds it, else None."""
    if kind != "relayed" or owner != "township" or case.accepted_at is None or case.due_at is None:
        return None
    waiting = case.state in RELAY_PENDING or (
        case.state in ("awaiting_materials", "suspended") and case.paused_at is not None
    )
    if not waiting:
        return None
    return relay_due(
        accepted_at=case.accepted_at,
        due_at=case.due_at,
        paused_days=case.paused_days,
        relay_percent=relay_percent,
        calendar=calendar,
    )
