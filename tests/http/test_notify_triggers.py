"""Who is told what: each trigger, once, and only those who want it (deadlines always)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select
from starlette.applications import Starlette

from server.auth.models import Role
from server.cases.models import CaseRecord
from server.notify.actions import do_notify, do_set_preferences
from server.notify.deadlines import do_notify_deadlines
from server.notify.models import NotificationSent
from server.notify.triggers import do_notify_for_event
from tests.factories import Personas
from tests.notify_support import apply, claim_item, open_case, texts, told

DECIDE = {"outcome": "approve"}


async def _decided_by_the_window(app: Starlette, personas: Personas) -> CaseRecord:
    item = await claim_item(app, personas)
    case = await open_case(app, personas.village_clerk, item)
    clerk = personas.township_officer
    for name in ("accept", "start_review"):
        await apply(app, clerk, case.id, name)
    return await apply(app, clerk, case.id, "decide", DECIDE)


async def test_a_village_agents_case_tells_the_windows_then_the_agent(
    app: Starlette, personas: Personas
) -> None:
    item = await claim_item(app, personas)
    case = await open_case(app, personas.village_clerk, item)
    # Filed by the agent: nobody is its first responsible yet, so the general window's A and B
    # posts (the clerk and the window lead) are told; the agent is not told of their own filing.
    for user in (personas.township_officer, personas.by_role[Role.WINDOW_LEAD]):
        (note,) = await told(app, user)
        assert (note.kind, note.title, note.link) == (
            "assigned",
            "新的代办件待受理",
            f"/cases/{case.id}",
        )
        assert case.serial in note.text and "王秀兰" not in note.text
    assert await told(app, personas.village_clerk) == []
    assert await told(app, personas.admin) == []

    clerk = personas.township_officer
    for name in ("accept", "start_review"):
        await apply(app, clerk, case.id, name)
    assert len(await told(app, clerk)) == 1  # accepting tells nobody
    decided = await apply(app, clerk, case.id, "decide", DECIDE)
    (note,) = await told(app, personas.village_clerk)
    assert (note.kind, note.title) == ("result", "代办件已办结")
    (sms,) = await texts(app)
    assert (sms.case_id, sms.status, sms.template) == (decided.id, "queued", "result_ready")
    assert "13912345678" not in sms.params and decided.serial in sms.params


async def test_an_event_never_tells_twice(app: Starlette, personas: Personas) -> None:
    case = await _decided_by_the_window(app, personas)
    async with app.state.db.session() as session:
        fresh = await session.get(CaseRecord, case.id)
        assert fresh is not None
        for _ in range(2):  # the hook again for the same event, as a repeated batch would
            await do_notify_for_event(
                session,
                settings=app.state.settings,
                case=fresh,
                event_kind="decide",
                body=DECIDE,
                origin=app.state.settings.region_code,
            )
        await session.commit()
    assert len(await told(app, personas.village_clerk)) == 1
    assert len(await texts(app)) == 1


async def test_do_notify_dedupes_per_user_and_key(app: Starlette, personas: Personas) -> None:
    clerk, lead = personas.township_officer, personas.by_role[Role.WINDOW_LEAD]
    async with app.state.db.session() as session:
        first = await do_notify(
            session,
            recipients=[clerk.id, clerk.id, None],
            kind="system",
            title="停电通知",
            text="",
            link="",
            dedupe_key="k1",
        )
        again = await do_notify(
            session,
            recipients=[clerk.id, lead.id],
            kind="system",
            title="停电通知",
            text="",
            link="",
            dedupe_key="k1",
        )
        await session.commit()
    assert first == [clerk.id] and again == [lead.id]
    assert len(await told(app, clerk)) == 1 and len(await told(app, lead)) == 1


async def test_preferences_silence_a_kind_but_never_deadlines(
    app: Starlette, personas: Personas
) -> None:
    agent = personas.village_clerk
    async with app.state.db.session() as session:
        await do_set_preferences(session, user_id=agent.uid, enabled=[])  # everything off
    await _decided_by_the_window(app, personas)
    assert await told(app, agent) == []  # the result was not wanted
    assert len(await texts(app)) == 1  # the applicant is told all the same
    async with app.state.db.session() as session:
        await do_notify(
            session,
            recipients=[agent.id],
            kind="deadline",
            title="红牌超期",
            text="",
            link="",
            dedupe_key="d",
        )
        await session.commit()
    assert [n.kind for n in await told(app, agent)] == ["deadline"]


async def test_an_immediate_case_sends_no_text(app: Starlette, personas: Personas) -> None:
    from tests.factories import make_item

    item = await make_item(
        app,
        basic_code="992000103000",
        name="即办事项",
        handling_kind="immediate",
        promised_limit=0,
        statutory_limit=1,
    )
    assert item.id is not None
    from server.catalog.actions import do_set_claims

    async with app.state.db.session() as session:
        await do_set_claims(session=session, actor=personas.admin, item_ids={item.id})
    case = await open_case(app, personas.township_officer, item.id)
    await apply(app, personas.township_officer, case.id, "accept")
    await apply(app, personas.township_officer, case.id, "decide", DECIDE)
    assert await texts(app) == []


async def test_no_phone_no_text(app: Starlette, personas: Personas) -> None:
    item = await claim_item(app, personas)
    case = await open_case(app, personas.township_officer, item, phone="")
    for name in ("accept", "start_review"):
        await apply(app, personas.township_officer, case.id, name)
    await apply(app, personas.township_officer, case.id, "decide", DECIDE)
    assert await texts(app) == []


MONDAY = dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC)


async def test_deadline_warnings_once_per_level(app: Starlette, personas: Personas) -> None:
    item = await claim_item(app, personas)
    clerk, lead = personas.township_officer, personas.by_role[Role.WINDOW_LEAD]
    case = await open_case(app, clerk, item, at=MONDAY)
    case = await apply(app, clerk, case.id, "accept", at=MONDAY)
    assert case.due_at is not None  # 8 working days: Thursday 26 November
    here, role = app.state.settings.region_code, app.state.settings.role

    async def run(now: dt.datetime) -> int:
        async with app.state.db.session() as session:
            return await do_notify_deadlines(session, here=here, role=role, now=now)

    assert await run(MONDAY + dt.timedelta(days=1)) == 0
    assert await run(dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)) == 1  # yellow (7 of 8)
    assert await run(dt.datetime(2026, 11, 25, 11, tzinfo=dt.UTC)) == 0  # not every minute
    assert await run(dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)) == 1  # red
    assert await run(dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)) == 0
    for user in (clerk, lead):
        assert [(n.kind, n.title[:4]) for n in await told(app, user)] == [
            ("deadline", "黄牌预警"),
            ("deadline", "红牌超期"),
        ]
    assert await told(app, personas.admin) == []
    async with app.state.db.session() as session:
        levels = {row.level for row in (await session.exec(select(NotificationSent))).all()}
    assert levels == {"yellow", "red"}


async def test_straight_to_red_tells_red_only(app: Starlette, personas: Personas) -> None:
    item = await claim_item(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, item, at=MONDAY)
    await apply(app, clerk, case.id, "accept", at=MONDAY)
    async with app.state.db.session() as session:
        told_levels = await do_notify_deadlines(
            session,
            here=app.state.settings.region_code,
            role="township",
            now=dt.datetime(2026, 12, 10, tzinfo=dt.UTC),
        )
    assert told_levels == 1
    assert [n.title[:4] for n in await told(app, clerk)] == ["红牌超期"]
