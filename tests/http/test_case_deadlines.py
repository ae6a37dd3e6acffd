"""Deadlines through the real actions: suspensions and one-time notices in review stop the
clock and move the due date, across National Day too; the warning levels and the county's
warning setting."""

from __future__ import annotations

import datetime as dt

from starlette.applications import Starlette

from server.calendar.actions import do_seed_calendar
from server.calendar.queries import load_calendar
from server.calendar.rules import LOCAL_TZ
from server.cases.deadlines import level_of
from server.cases.models import CaseRecord
from server.policy.actions import do_set_policy
from server.policy.queries import load_policy
from tests.factories import Personas
from tests.http.test_case_commands import apply
from tests.http.test_case_log import claim, open_case


def at(day: str, clock: str = "10:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=LOCAL_TZ)


def end_of(day: str) -> dt.datetime:
    return at(day, "23:59:59")


async def level_at(app: Starlette, case: CaseRecord, now: dt.datetime) -> str:
    async with app.state.db.session() as session:
        calendar = await load_calendar(session)
        policy = await load_policy(session)
    return level_of(case, now=now, calendar=calendar, warning_percent=policy.warning_percent)


async def test_a_suspension_moves_the_due_date_by_the_days_paused(
    app: Starlette, personas: Personas
) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "accept", at=at("2026-11-16", "09:30"))
    assert case.due_at == end_of("2026-11-26")  # promised: 8 working days
    case = await apply(app, clerk, case, "start_review", at=at("2026-11-16", "11:00"))
    case = await apply(app, clerk, case, "suspend", {"reason": "需要听证"}, at=at("2026-11-17"))
    assert case.paused_at == at("2026-11-17") and case.due_at == end_of("2026-11-26")
    assert await level_at(app, case, at("2026-12-31")) == "none"  # the clock stands still
    # Stood still on 18, 19 and 20 November: three working days.
    case = await apply(app, clerk, case, "resume", at=at("2026-11-20", "16:00"))
    assert case.state == "in_review" and case.paused_at is None
    assert case.paused_days == 3
    assert case.due_at == end_of("2026-12-01")  # 26 November + 3 working days


async def test_a_one_time_notice_in_review_across_national_day(
    app: Starlette, personas: Personas
) -> None:
    async with app.state.db.session() as session:
        await do_seed_calendar(session=session)
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    # Wednesday 23 September; 25 September and 1-7 October are off, Saturday 10 October works.
    case = await apply(app, clerk, case, "accept", at=at("2026-09-23"))
    assert case.due_at == end_of("2026-10-12")
    case = await apply(app, clerk, case, "start_review", at=at("2026-09-23", "11:00"))
    case = await apply(
        app, clerk, case, "notify_missing", {"missing": ["户口簿"]}, at=at("2026-09-28")
    )
    assert case.paused_at == at("2026-09-28")
    case = await apply(
        app, clerk, case, "supplement", {"received": ["户口簿"]}, at=at("2026-10-08")
    )
    # 29 and 30 September and 8 October stood still; the holiday is not counted twice.
    assert case.paused_days == 3 and case.paused_at is None
    assert case.due_at == end_of("2026-10-15")


async def test_a_notice_at_intake_does_not_touch_the_deadline(
    app: Starlette, personas: Personas
) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(
        app, clerk, case, "notify_missing", {"missing": ["户口簿"]}, at=at("2026-11-16")
    )
    assert case.paused_at is None
    case = await apply(
        app, clerk, case, "supplement", {"received": ["户口簿"]}, at=at("2026-11-19")
    )
    case = await apply(app, clerk, case, "accept", at=at("2026-11-19"))
    assert case.paused_days == 0 and case.due_at == end_of("2026-12-01")


async def test_yellow_at_80_percent_then_red(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "accept", at=at("2026-11-16", "09:30"))
    # 8 working days to 26 November; 80 % is 6.4 days, so yellow from the 7th (25 November).
    assert await level_at(app, case, at("2026-11-16", "17:00")) == "none"
    assert await level_at(app, case, at("2026-11-24")) == "none"  # 6 of 8
    assert await level_at(app, case, at("2026-11-25")) == "yellow"  # 7 of 8
    assert await level_at(app, case, end_of("2026-11-26")) == "yellow"
    assert await level_at(app, case, at("2026-11-27", "00:00")) == "red"
    case = await apply(app, clerk, case, "start_review", at=at("2026-11-27"))
    case = await apply(app, clerk, case, "decide", {"outcome": "approve"}, at=at("2026-11-27"))
    assert await level_at(app, case, at("2026-11-30")) == "none"  # decided, late or not


async def test_the_county_warning_percent_moves_the_yellow_point(
    app: Starlette, personas: Personas
) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "accept", at=at("2026-11-16", "09:30"))
    assert await level_at(app, case, at("2026-11-24")) == "none"
    async with app.state.db.session() as session:
        await do_set_policy(
            session=session,
            actor=None,
            values={
                "promise_rule": "max_share",
                "promise_percent": "40",
                "warning_percent": "70",
                "relay_percent": "50",
            },
        )
    assert await level_at(app, case, at("2026-11-24")) == "yellow"  # 6 of 8 = 75 % >= 70 %
    assert await level_at(app, case, at("2026-11-23")) == "none"  # 5 of 8 = 62.5 %
