"""The up and down streams between a county and two townships in one process (real envelopes,
real endpoints through an ASGI transport): events arrive once, feeds are scoped by the sender
key, a relayed case goes up, is decided at the county and comes back to be delivered.
"""

from __future__ import annotations

from sqlmodel import select

from server.cases.events import verify_cases
from server.cases.models import CaseRecord
from server.relay.models import SyncCursor, SyncStatus
from tests.relay_fixtures import extra_postgres, linked
from tests.relay_nodes import (
    COUNTY,
    TOWNSHIP_A,
    TOWNSHIP_B,
    Node,
    all_events,
    chain_of,
    command,
    open_case,
    sync,
)

__all__ = ["extra_postgres", "linked"]


async def _verify(node: Node) -> None:
    async with node.app.state.db.session() as session:
        _checked, broken = await verify_cases(session, node.app.state.cipher)
    assert broken == []


async def test_events_go_up_once_and_chains_hold(linked: dict[str, Node]) -> None:
    county, a, b = linked[COUNTY], linked[TOWNSHIP_A], linked[TOWNSHIP_B]
    case_a = await open_case(a)
    await command(a, case_a.id, "accept")
    case_b = await open_case(b)
    first = await sync(a, county)
    assert (first.sent_events, first.received_events) == (2, 0)
    await sync(b, county)
    again = await sync(a, county)
    assert (again.sent_events, again.received_events) == (0, 0)
    assert await chain_of(county, case_a.id) == await chain_of(a, case_a.id)
    assert await chain_of(county, case_b.id) == await chain_of(b, case_b.id)
    assert await all_events(county, TOWNSHIP_A) == await all_events(a)
    assert await all_events(county, TOWNSHIP_B) == await all_events(b)
    async with county.app.state.db.session() as session:
        stored = await session.get(CaseRecord, case_a.id)
        assert stored is not None
        assert (stored.state, stored.serial, stored.item_id) == (
            "accepted",
            case_a.serial,
            county.item.id,
        )
        assert stored.due_at == case_a.due_at or stored.due_at is not None
        cursor = await session.get(SyncCursor, (TOWNSHIP_A, "up"))
        assert cursor is not None and cursor.position >= 2
        status = await session.get(SyncStatus, TOWNSHIP_A)
        assert status is not None and status.pushed == 2 and status.clock_skew_seconds == 0
    for node in (county, a, b):
        await _verify(node)


async def test_relayed_case_decided_at_the_county_comes_back(linked: dict[str, Node]) -> None:
    county, a, b = linked[COUNTY], linked[TOWNSHIP_A], linked[TOWNSHIP_B]
    case = await open_case(a, relayed=True)
    for name in ("accept", "start_review", "mark_ready", "relay"):
        await command(a, case.id, name)
    await sync(a, county)
    async with county.app.state.db.session() as session:
        there = await session.get(CaseRecord, case.id)
        assert there is not None and (there.state, there.owner) == ("relayed", "county")
    await command(county, case.id, "county_decide", {"outcome": "approve"})
    back = await sync(a, county)
    assert back.received_events == 1
    async with a.app.state.db.session() as session:
        home = await session.get(CaseRecord, case.id)
        assert home is not None and (home.state, home.owner) == ("decided", "township")
        assert home.completed_at is not None
    await command(a, case.id, "deliver", {"method": "window"})
    await sync(a, county)
    assert await chain_of(county, case.id) == await chain_of(a, case.id)
    # Township B's feed never carries A's case, and nothing of A's reaches B.
    other = await sync(b, county)
    assert other.received_events == 0
    assert await all_events(b) == set()
    for node in (county, a, b):
        await _verify(node)
    async with a.app.state.db.session() as session:
        status = (await session.exec(select(SyncStatus))).one()
        assert status.peer == COUNTY and status.last_error == "" and status.last_success_at


async def test_county_inbox_and_decision_through_the_pages(linked: dict[str, Node]) -> None:
    from tests.conftest import post_form, signed_in

    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case = await open_case(a, relayed=True)
    for name in ("accept", "start_review", "mark_ready", "relay"):
        await command(a, case.id, name)
    plain = await open_case(a)
    await sync(a, county)
    async with signed_in(county.app, county.clerk.username) as http:
        inbox = await http.get("/relay")
        assert inbox.status_code == 200 and case.serial in inbox.text
        for odd in ("item=²", "page=²", "page=99999999999999999999", "item=99999999999999999999"):
            assert (await http.get(f"/relay?{odd}")).status_code == 200, odd  # never a 500
        assert (
            plain.serial not in inbox.text
        )  # not relayed: supervised, read-only, not in the inbox
        assert "青山镇便民服务中心" in inbox.text
        filtered = await http.get(f"/relay?township={TOWNSHIP_B}")
        assert case.serial not in filtered.text
        listed = await http.get("/cases?scope=centre")
        assert plain.serial in listed.text  # the county sees every township case it supervises
        page = await http.get(f"/cases/{case.id}")
        assert "county_decide" in page.text
        read_only = await http.get(f"/cases/{plain.id}")
        assert read_only.status_code == 200 and "/commands/" not in read_only.text
        decided = await post_form(
            http,
            f"/cases/{case.id}/commands/county_decide",
            {"outcome": "approve"},
            page=f"/cases/{case.id}",
        )
        assert decided.status_code == 303, decided.text
        health = await http.get("/admin/sync")
        assert health.status_code == 200 and "青山镇便民服务中心" in health.text
    report = await sync(a, county)
    assert report.received_events == 1
    async with signed_in(a.app, a.clerk.username) as http:
        page = await http.get(f"/cases/{case.id}")
        assert "已办结" in page.text
        health = await http.get("/admin/sync")
        assert "示范县政务服务中心" in health.text and "0 个事件" in health.text
        assert "clock-banner" not in (await http.get("/")).text
        a.app.state.clock_skew = -420
        banner = await http.get("/")
        assert "clock-banner" in banner.text and "-420" in banner.text
