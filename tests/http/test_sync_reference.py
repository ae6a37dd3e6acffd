"""The down feed's reference data and clock stamps between real in-process nodes: catalogue
versions and the working-day calendar published at the county reach the township (applied
idempotently), and events carry hybrid-logical-clock stamps that order a case's events across
nodes even when a township's clock is slow.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import col, select

from server.calendar.actions import do_replace_year
from server.calendar.queries import load_calendar
from server.cases.events import events_of
from server.cases.models import CaseEvent
from server.catalog.actions import do_create_item, do_set_item_status, do_update_item
from server.catalog.models import CatalogItem, CatalogItemVersion
from server.catalog.queries import item_by_code
from server.relay import clock
from server.relay.clock import causal_order, parse_stamp
from server.relay.models import SyncLog
from server.relay.reference import apply_reference, reference_for, reference_request
from sync.hlc import HybridClock, system_ms
from tests.factories import item_draft
from tests.relay_fixtures import extra_postgres, linked
from tests.relay_nodes import COUNTY, TOWNSHIP_A, Node, command, open_case, sync

__all__ = ["extra_postgres", "linked"]
YEAR = 2031  # a year no package knows: counted Monday to Friday until the county enters it


async def _item(node: Node, code: str) -> tuple[CatalogItem, str]:
    async with node.app.state.db.session() as session:
        view = await item_by_code(session, code)
        return view.item, view.version.name


async def test_catalogue_and_calendar_follow_the_county(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    code = county.item.implementation_code
    async with county.app.state.db.session() as session:
        item = await session.get(CatalogItem, county.item.id)
        assert item is not None
        await do_update_item(
            session=session,
            settings=county.settings,
            actor=None,
            item=item,
            draft=item_draft(name="测试事项（2031 版）"),
            change_note="依据新规修订",
        )
        fresh = await do_create_item(
            session=session,
            settings=county.settings,
            actor=None,
            draft=item_draft(basic_code="992000103000", name="新增事项"),
        )
        assert county.admin is not None
        await do_set_item_status(
            session=session,
            settings=county.settings,
            actor=county.admin,
            item=(await session.get(CatalogItem, county.relayed_item.id)) or item,
            active=False,
        )
        await do_replace_year(
            session=session,
            actor=county.admin,
            settings=county.settings,
            year=YEAR,
            text=f"# 依据：测试通知\n{YEAR}-01-01 休 元旦\n{YEAR}-01-04 班 元旦调休上班\n",
        )
    async with a.app.state.db.session() as session:
        before = await load_calendar(session)
    assert before.is_workday(dt.date(YEAR, 1, 1)) and not before.is_workday(dt.date(YEAR, 1, 4))

    await sync(a, county)

    item, name = await _item(a, code)
    assert (item.current_version, name) == (2, "测试事项（2031 版）")
    assert (await _item(a, fresh.implementation_code))[1] == "新增事项"
    relayed, _name = await _item(a, county.relayed_item.implementation_code)
    assert relayed.status == "retired"
    async with a.app.state.db.session() as session:
        after = await load_calendar(session)
        versions = (await session.exec(select(CatalogItemVersion))).all()
    assert not after.is_workday(dt.date(YEAR, 1, 1)) and after.is_workday(dt.date(YEAR, 1, 4))
    assert YEAR in after.known_years
    # The township's deadlines count the county's days: 1 Jan off, Saturday 4 Jan worked.
    start = dt.datetime(YEAR - 1, 12, 31, 2, tzinfo=dt.UTC)
    assert after.due(start, 2, "working_days") != before.due(start, 2, "working_days")

    # A repeat is a no-op: the same answer applied again, and the next round carries nothing.
    async with county.app.state.db.session() as session:
        everything = await reference_for(session, {})
    async with a.app.state.db.session() as session:
        again = await apply_reference(session, COUNTY, everything.payload)
        assert (again.versions, again.items, again.years) == (0, 0, 0)
        assert len((await session.exec(select(CatalogItemVersion))).all()) == len(versions)
        asked = await reference_request(session, COUNTY)
    async with county.app.state.db.session() as session:
        assert (await reference_for(session, asked)).payload == {}


async def test_clock_stamps_survive_the_round_trip_and_order_a_slow_township(
    linked: dict[str, Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    two_hours = 2 * 3600 * 1000
    slow = HybridClock(node=TOWNSHIP_A, wall=lambda: system_ms() - two_hours, max_drift_ms=None)
    monkeypatch.setitem(clock._CLOCKS, TOWNSHIP_A, slow)  # the township's clock is 2 h slow
    case = await open_case(a, relayed=True)
    for name in ("accept", "start_review", "mark_ready", "relay"):
        await command(a, case.id, name)
    await sync(a, county)
    await command(county, case.id, "county_decide", {"outcome": "approve"})
    await sync(a, county)
    await command(a, case.id, "deliver", {"method": "window"})
    await sync(a, county)
    for node in (a, county):
        async with node.app.state.db.session() as session:
            events = await events_of(session, case.id)
            logged = dict((await session.exec(select(SyncLog.event_id, SyncLog.hlc))).all())
        assert all(event.hlc for event in events)
        # Clock order within the case agrees with the chain, across both nodes' events...
        assert [e.seq for e in causal_order(events)] == [e.seq for e in events]
        # ...and each row this node logged for a received event comes after the event's stamp.
        for event in events:
            mine, theirs = parse_stamp(logged[event.id]), parse_stamp(event.hlc)
            assert mine is not None and theirs is not None and mine >= theirs
    relayed, decided, delivered = (parse_stamp(e.hlc) for e in events[-3:])
    assert relayed is not None and decided is not None and delivered is not None
    assert [e.node for e in events[-3:]] == [TOWNSHIP_A, COUNTY, TOWNSHIP_A]
    # The township's own stamps ran two hours behind the county's...
    assert decided.wall - relayed.wall > two_hours - 60_000
    # ...yet its delivery, made after it received the decision, is stamped after it.
    assert delivered > decided
    # The same stamps on both nodes: they travel with the events.
    async with a.app.state.db.session() as session:
        there = dict(
            (
                await session.exec(
                    select(CaseEvent.id, CaseEvent.hlc).where(col(CaseEvent.case_id) == case.id)
                )
            ).all()
        )
    assert there == {event.id: event.hlc for event in events}
