"""The case lists (/cases): who sees what in each scope, the filters, the search by serial,
ID number (by its keyed hash) and name, the paging and the htmx fragment."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy import update
from starlette.applications import Starlette

from server.auth.models import User
from server.calendar.queries import load_calendar
from server.calendar.rules import LOCAL_TZ
from server.cases.actions import Intake
from server.cases.identity import resident_id_check_char
from server.cases.models import CaseRecord
from server.cases.serials import compact_serial
from server.catalog.actions import Authorisation, do_set_claims, do_set_window_items
from server.catalog.models import CatalogItem
from server.db import utcnow
from tests.conftest import signed_in
from tests.factories import OTHER_TOWNSHIP, Personas, make_item, make_user, open_intake
from tests.http.test_case_commands import apply

ROW = re.compile(r'data-label="流水号"><a href="/cases/[^"]+">([0-9-]+)</a>')


def resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


ID_WANG = resident_id("11010519800101002")
ID_LI = resident_id("11010519900202003")
ID_NOBODY = resident_id("11010519700303004")


async def setup(app: Starlette, personas: Personas) -> tuple[CatalogItem, CatalogItem]:
    """Two claimed items; the clerk's and the lead's window may take only the first."""
    assert personas.item is not None and personas.item.id is not None
    other = await make_item(
        app,
        basic_code="992000102000",
        name="临时救助申请",
        handling_kind="immediate",
        promised_limit=0,
    )
    assert other.id is not None and personas.window is not None
    async with app.state.db.session() as session:
        await do_set_claims(
            session=session, actor=personas.admin, item_ids={personas.item.id, other.id}
        )
        await do_set_window_items(
            session=session,
            actor=personas.admin,
            window=personas.window,
            grants=[Authorisation(personas.item.id, True, False, True)],
        )
    return personas.item, other


async def open_at(
    app: Starlette,
    actor: User,
    item: CatalogItem,
    *,
    name: str = "王秀兰",
    id_number: str = ID_WANG,
    at: dt.datetime | None = None,
) -> CaseRecord:
    assert item.id is not None
    intake = Intake(
        item_id=item.id,
        channel="village_agent" if actor.role == "village_agent" else "window",
        applicant_name=name,
        applicant_id_type="resident_id",
        applicant_id=id_number,
    )
    return await open_intake(app, actor, intake, at=at)


async def serials(client: httpx.AsyncClient, query: str = "") -> list[str]:
    response = await client.get(f"/cases{query}")
    assert response.status_code == 200, response.text
    return ROW.findall(response.text)


async def test_each_scope_shows_its_cases(app: Starlette, personas: Personas) -> None:
    promised, immediate = await setup(app, personas)
    by_clerk = await open_at(app, personas.township_officer, promised)
    by_admin = await open_at(app, personas.admin, promised)
    by_agent = await open_at(app, personas.village_clerk, promised)
    not_windows = await open_at(app, personas.admin, immediate)
    everything = {c.serial for c in (by_clerk, by_admin, by_agent, not_windows)}
    async with signed_in(app, "p.clerk") as clerk:
        assert await serials(clerk) == [by_clerk.serial]  # 首问: "mine" by default
        assert await serials(clerk, "?scope=mine") == [by_clerk.serial]
        window = set(await serials(clerk, "?scope=window"))
        assert window == {by_clerk.serial, by_admin.serial, by_agent.serial}
        assert set(await serials(clerk, "?scope=centre")) == everything
    async with signed_in(app, "p.window-lead") as lead:  # post B of the same window
        assert await serials(lead) == []
        assert set(await serials(lead, "?scope=window")) == window
    async with signed_in(app, "p.supervisor") as supervisor:  # the centre, read-only
        page = await supervisor.get("/cases")
        assert set(ROW.findall(page.text)) == everything and "/cases/new" not in page.text
    async with signed_in(app, "p.village-agent") as agent:
        for scope in ("", "?scope=mine", "?scope=window", "?scope=centre"):
            assert await serials(agent, scope) == [by_agent.serial]
    await make_user(app, username="baishui.c", org_unit_code=OTHER_TOWNSHIP)
    async with signed_in(app, "baishui.c") as stranger:
        for scope in ("?scope=mine", "?scope=window", "?scope=centre"):
            assert await serials(stranger, scope) == []
        assert await serials(stranger, f"?scope=centre&q={by_clerk.serial}") == []


async def test_filters_by_state_kind_item_and_date(app: Starlette, personas: Personas) -> None:
    promised, immediate = await setup(app, personas)
    clerk = personas.township_officer
    early = await open_at(app, clerk, promised, at=dt.datetime(2026, 11, 2, 10, tzinfo=LOCAL_TZ))
    late = await open_at(app, clerk, promised, at=dt.datetime(2026, 11, 10, 10, tzinfo=LOCAL_TZ))
    quick = await open_at(app, clerk, immediate, at=dt.datetime(2026, 11, 10, 11, tzinfo=LOCAL_TZ))
    await apply(app, clerk, late, "accept", at=dt.datetime(2026, 11, 10, 12, tzinfo=LOCAL_TZ))
    async with signed_in(app, "p.clerk") as client:
        assert await serials(client, "?state=accepted") == [late.serial]
        assert set(await serials(client, "?state=submitted")) == {early.serial, quick.serial}
        assert await serials(client, "?kind=immediate") == [quick.serial]
        assert await serials(client, f"?item={immediate.id}") == [quick.serial]
        assert set(await serials(client, "?from=2026-11-05")) == {late.serial, quick.serial}
        assert await serials(client, "?to=2026-11-05") == [early.serial]
        assert await serials(client, "?from=2026-11-02&to=2026-11-02") == [early.serial]
        assert await serials(client, "?kind=immediate&state=accepted") == []
        # Unknown values are ignored rather than refused.
        assert len(await serials(client, "?state=nonsense&kind=x&from=2026-13-01")) == 3
        # By due date, the accepted case first; by received time, the newest first.
        assert (await serials(client))[0] == late.serial
        assert await serials(client, "?sort=received") == [quick.serial, late.serial, early.serial]


async def test_filters_by_warning_level(app: Starlette, personas: Personas) -> None:
    promised, _ = await setup(app, personas)
    clerk = personas.township_officer
    now = utcnow()
    async with app.state.db.session() as session:
        calendar = await load_calendar(session)
    # Accepted 7 working days ago: 7 of the 8 promised days spent, not yet overdue.
    seven_ago = now - dt.timedelta(days=1)
    while calendar.working_days_between(seven_ago, now) < 7:
        seven_ago -= dt.timedelta(days=1)
    overdue = await open_at(app, clerk, promised, name="超期")
    yellow = await open_at(app, clerk, promised, name="预警")
    fresh = await open_at(app, clerk, promised, name="正常")
    await apply(app, clerk, overdue, "accept", at=now - dt.timedelta(days=60))
    await apply(app, clerk, yellow, "accept", at=seven_ago)
    await apply(app, clerk, fresh, "accept", at=now)
    async with signed_in(app, "p.clerk") as client:
        assert await serials(client, "?level=red") == [overdue.serial]
        assert await serials(client, "?level=yellow") == [yellow.serial]
        page = (await client.get("/cases")).text
        # The level is said in words, not only by colour.
        assert "红牌超期" in page and "黄牌预警" in page and "正常" in page
        assert 'class="tag level-red"' in page
        # Overdue first: sorted by due date.
        assert await serials(client) == [overdue.serial, yellow.serial, fresh.serial]
        # A suspended case keeps the share it had spent (its clock stands still).
        await apply(app, clerk, yellow, "start_review", at=now)
        await apply(app, clerk, yellow, "suspend", {"reason": "需要现场核查"}, at=now)
        assert await serials(client, "?level=yellow&state=suspended") == [yellow.serial]
        assert await serials(client, "?level=red&state=suspended") == []


async def test_search_by_serial_id_number_and_name(app: Starlette, personas: Personas) -> None:
    promised, _ = await setup(app, personas)
    clerk = personas.township_officer
    wang = await open_at(app, clerk, promised, name="王秀兰", id_number=ID_WANG)
    li = await open_at(app, clerk, promised, name="李建国", id_number=ID_LI)
    async with signed_in(app, "p.clerk") as client:
        assert await serials(client, f"?q={wang.serial}") == [wang.serial]
        assert await serials(client, f"?q={compact_serial(li.serial)}") == [li.serial]
        assert await serials(client, f"?q=+{li.serial.replace('-', ' ')}+") == [li.serial]
        assert await serials(client, "?q=秀兰") == [wang.serial]
        assert await serials(client, "?q=李") == [li.serial]
        assert await serials(client, "?q=%25") == []  # a wildcard is a character
        # A mistyped serial (one digit changed) finds nothing rather than another case.
        wrong = wang.serial[:-1] + str((int(wang.serial[-1]) + 1) % 10)
        assert await serials(client, f"?q={wrong}") == []
        # The ID number by its keyed hash: the encrypted column is never read, so even
        # garbage there does not change the answer.
        async with app.state.db.session() as session:
            await session.exec(update(CaseRecord).values(applicant_id_enc="garbage"))
            await session.commit()
        assert await serials(client, f"?q={ID_LI}") == [li.serial]
        assert await serials(client, f"?q={ID_LI.lower()}") == [li.serial]  # x or X, spaces
        assert await serials(client, f"?q={ID_WANG[:6]}+{ID_WANG[6:]}") == [wang.serial]
        assert await serials(client, f"?q={ID_NOBODY}") == []
        results = await client.get(f"/cases?q={ID_LI}", headers={"HX-Request": "true"})
        assert li.serial in results.text and ID_LI not in results.text  # never shown


async def test_paging_by_twenty(app: Starlette, personas: Personas) -> None:
    promised, _ = await setup(app, personas)
    opened = [
        await open_at(app, personas.township_officer, promised, name=f"申请人{n}")
        for n in range(25)
    ]
    async with signed_in(app, "p.clerk") as client:
        first = await client.get("/cases")
        assert "共 25 件" in first.text and "第 1 页，共 2 页" in first.text
        one = ROW.findall(first.text)
        two = await serials(client, "?page=2")
        assert len(one) == 20 and len(two) == 5
        assert set(one) | set(two) == {case.serial for case in opened}
        assert 'href="/cases?scope=mine&page=2"' in first.text
        assert await serials(client, "?page=99") == two  # past the end: the last page
        assert len(await serials(client, "?page=2&q=申请人1")) == 11  # one page: the first


async def test_the_htmx_fragment_is_the_results_block(app: Starlette, personas: Personas) -> None:
    promised, _ = await setup(app, personas)
    case = await open_at(app, personas.township_officer, promised)
    async with signed_in(app, "p.clerk") as client:
        full = await client.get("/cases")
        assert "<html" in full.text and 'id="cases-results"' in full.text
        assert 'href="/cases"' in full.text  # the 办件 link in the menu
        fragment = await client.get("/cases?q=王", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert fragment.text.lstrip().startswith('<div id="cases-results">')
        assert case.serial in fragment.text
        assert fragment.headers["Vary"] == "HX-Request"
