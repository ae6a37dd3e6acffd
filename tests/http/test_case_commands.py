"""Applying commands to cases: one event per command, the projection folded with it, the
state machine's and the data's refusals in Chinese, deadlines from the calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from starlette.applications import Starlette

from server.auth.access import Forbidden
from server.auth.models import User
from server.calendar.queries import load_calendar
from server.calendar.rules import LOCAL_TZ
from server.cases.actions import do_apply
from server.cases.events import events_of, verify_cases
from server.cases.machine import Command, TransitionRefused
from server.cases.models import CaseRecord
from server.db import Database
from server.forms import ValidationFailed
from server.policy.actions import do_set_policy
from tests.conftest import signed_in
from tests.factories import Personas, make_item
from tests.http.test_case_log import claim, open_case

MONDAY = dt.datetime(2026, 11, 16, 9, 30, tzinfo=LOCAL_TZ)


async def apply(
    app: Starlette,
    actor: User,
    case: CaseRecord,
    command: Command,
    body: dict[str, Any] | None = None,
    at: dt.datetime = MONDAY,
) -> CaseRecord:
    db: Database = app.state.db
    async with db.session() as session:
        fresh = await session.get(CaseRecord, case.id)
        assert fresh is not None
        await do_apply(
            session=session,
            cipher=app.state.cipher,
            settings=app.state.settings,
            actor=actor,
            case=fresh,
            command=command,
            body=body,
            at=at,
        )
        return fresh


async def test_a_promised_case_from_acceptance_to_rating(
    app: Starlette, personas: Personas
) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "accept")
    # Promised 8 working days from Monday 16 November 2026: day 1 is Tuesday the 17th.
    assert case.state == "accepted" and case.accepted_at == MONDAY
    assert case.due_at == dt.datetime(2026, 11, 26, 23, 59, 59, tzinfo=LOCAL_TZ)
    case = await apply(app, clerk, case, "start_review")
    case = await apply(app, clerk, case, "decide", {"outcome": "approve"})
    assert case.state == "decided" and case.completed_at is not None
    case = await apply(app, clerk, case, "deliver", {"method": "post", "ems_number": "EA123"})
    case = await apply(app, clerk, case, "rate", {"score": 5})
    assert case.state == "rated"
    async with app.state.db.session() as session:
        events = await events_of(session, case.id)
        assert await verify_cases(session, app.state.cipher) == (1, [])
    assert [e.kind for e in events] == [
        "submit",
        "accept",
        "start_review",
        "decide",
        "deliver",
        "rate",
    ]
    assert case.last_seq == 6 and case.last_hash == events[-1].hash


async def test_refusals_say_why_and_write_nothing(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    with pytest.raises(TransitionRefused) as wrong_state:
        await apply(app, clerk, case, "deliver", {"method": "window"})
    assert "不能" in wrong_state.value.message
    with pytest.raises(ValidationFailed) as no_reasons:
        await apply(app, clerk, case, "refuse", {"reasons": " "})
    assert "必须写明理由" in no_reasons.value.errors["reasons"]
    with pytest.raises(Forbidden):
        await apply(app, personas.by_role["supervisor"], case, "accept")
    async with app.state.db.session() as session:
        assert len(await events_of(session, case.id)) == 1


async def test_one_time_notice_stops_and_supplement_resumes(
    app: Starlette, personas: Personas
) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "notify_missing", {"missing": ["户口簿", "申请书"]})
    assert case.state == "awaiting_materials" and case.paused_from == "submitted"
    assert case.accepted_at is None  # the clock has not started
    case = await apply(app, clerk, case, "supplement", {"received": ["户口簿", "申请书"]})
    assert case.state == "submitted" and case.paused_from is None
    case = await apply(app, clerk, case, "accept")
    assert case.state == "accepted" and case.due_at is not None


async def test_gaps_block_the_decision_until_closed(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    with pytest.raises(ValidationFailed) as late:
        await apply(
            app, clerk, case, "accept_with_gaps", {"gaps": ["申请书"], "commit_by": "2026-11-01"}
        )
    assert "不能早于今天" in late.value.errors["commit_by"]
    with pytest.raises(ValidationFailed) as key_material:
        await apply(
            app,
            clerk,
            case,
            "accept_with_gaps",
            {"gaps": ["居民身份证"], "commit_by": "2026-11-20"},
        )
    assert key_material.value.errors["gaps"] == (
        "居民身份证不允许容缺受理。本事项可容缺的材料：申请书"
    )
    case = await apply(
        app, clerk, case, "accept_with_gaps", {"gaps": ["申请书"], "commit_by": "2026-11-20"}
    )
    assert case.open_gaps == 1
    case = await apply(app, clerk, case, "start_review")
    with pytest.raises(TransitionRefused) as blocked:
        await apply(app, clerk, case, "decide", {"outcome": "approve"})
    assert "容缺材料未补齐" in blocked.value.message
    case = await apply(app, clerk, case, "close_gap", {"material": "申请书"})
    case = await apply(app, clerk, case, "decide", {"outcome": "deny", "reasons": "不符合条件"})
    assert case.state == "decided" and case.open_gaps == 0


async def test_a_joint_case_waits_for_every_department(app: Starlette, personas: Personas) -> None:
    joint = await make_item(
        app,
        basic_code="990100101000",
        name="农村宅基地和村民建房审批",
        handling_kind="joint",
        lead_department="农业农村办",
        co_departments="自然资源所\n村镇建设办",
    )
    personas.item = joint
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "accept")
    assert case.kind == "joint" and case.open_tasks == 2
    with pytest.raises(TransitionRefused) as waiting:
        await apply(app, clerk, case, "decide", {"outcome": "approve"})
    assert "联办任务未完成" in waiting.value.message
    case = await apply(app, clerk, case, "task_done", {"department": "自然资源所"})
    case = await apply(app, clerk, case, "task_done", {"department": "村镇建设办"})
    case = await apply(app, clerk, case, "decide", {"outcome": "approve"})
    assert case.state == "decided"


async def test_a_relayed_case_hands_ownership_to_the_county(
    app: Starlette, personas: Personas
) -> None:
    relayed = await make_item(
        app,
        basic_code="990700101000",
        name="最低生活保障审核确认",
        handling_kind="relayed",
        decision_body="示范县民政局",
    )
    personas.item = relayed
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    for command in ("accept", "start_review", "mark_ready", "relay"):
        case = await apply(app, clerk, case, command)
    assert case.state == "relayed" and case.owner == "county"
    with pytest.raises(TransitionRefused):  # the township no longer owns it
        await apply(app, clerk, case, "county_decide", {"outcome": "approve"})


async def test_an_extension_moves_the_due_date(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "accept")
    case = await apply(app, clerk, case, "start_review")
    with pytest.raises(ValidationFailed):
        await apply(app, clerk, case, "extend", {"reason": "", "days": 5})
    case = await apply(app, clerk, case, "extend", {"reason": "需现场核查", "days": 5})
    # 26 November (Thursday) + 5 working days = 3 December.
    assert case.due_at == dt.datetime(2026, 12, 3, 23, 59, 59, tzinfo=LOCAL_TZ)


async def test_a_relayed_case_shows_its_relay_deadline_until_it_goes_up(
    app: Starlette, personas: Personas
) -> None:
    relayed = await make_item(
        app,
        basic_code="990700101000",
        name="最低生活保障审核确认",
        handling_kind="relayed",
        decision_body="示范县民政局",
    )
    personas.item = relayed
    await claim(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas)
    case = await apply(app, clerk, case, "accept")
    assert case.accepted_at is not None and case.due_at is not None
    async with app.state.db.session() as session:
        calendar = await load_calendar(session)
    # The county's default share, 50 % of the running time, rounded up to whole working days.
    allowed = calendar.working_days_between(case.accepted_at, case.due_at)
    expected = calendar.due(case.accepted_at, -(-allowed // 2), "working_days").moment
    async with signed_in(app, clerk.username) as client:
        steps: tuple[Command | None, ...] = (None, "start_review", "mark_ready")
        for command in steps:
            if command is not None:
                case = await apply(app, clerk, case, command)
            page = (await client.get(f"/cases/{case.id}")).text
            assert "上报期限" in page and f"{expected:%Y-%m-%d} 前上报县级" in page
        case = await apply(app, clerk, case, "relay")
        assert "上报期限" not in (await client.get(f"/cases/{case.id}")).text

        # A county that gives its townships 30 % moves the deadline forward.
        async with app.state.db.session() as session:
            await do_set_policy(
                session=session,
                actor=None,
                values={
                    "promise_rule": "max_share",
                    "promise_percent": "40",
                    "warning_percent": "80",
                    "relay_percent": "30",
                },
            )
        other = await open_case(app, clerk, personas)
        other = await apply(app, clerk, other, "accept")
        sooner = calendar.due(other.accepted_at or MONDAY, -(-allowed * 30 // 100), "working_days")
        page = (await client.get(f"/cases/{other.id}")).text
        assert f"{sooner.moment:%Y-%m-%d} 前上报县级" in page
