"""GET /api/catalog: the catalogue and the working-day calendar for phones, with its ETag."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

import httpx
from starlette.applications import Starlette

from server.calendar.models import CalendarDay, CalendarYear
from server.catalog.actions import do_update_item
from server.catalog.models import CatalogItem
from server.catalog.queries import item_view
from server.catalog.rules import MaterialDraft
from tests.conftest import make_client, signed_in
from tests.factories import Personas, item_draft, make_item

FIRST_ITEM = {
    "code": item_draft().implementation_code,
    "basic_code": "992000101000",
    "name": "测试事项",
    "type": "20",
    "kind": "promised",
    "dept": "民政办",
    "statutory": [20, "working_days"],
    "promised": [8, "working_days"],
    "fee": False,
    "materials": [
        {"name": "居民身份证", "originals": 1, "copies": 1, "required": True, "gap": False},
        {"name": "申请书", "originals": 1, "copies": 0, "required": True, "gap": True},
    ],
}


async def add_calendar(app: Starlette, year: int, days: dict[dt.date, bool]) -> None:
    async with app.state.db.session() as session:
        session.add(CalendarYear(year=year, source="county", note="测试"))
        for day, workday in days.items():
            session.add(CalendarDay(day=day, workday=workday, name="测试", source="county"))
        await session.commit()


def expected_version(body: dict[str, Any]) -> str:
    """The documented rule, written out again: SHA-256 of the canonical JSON, 16 hex digits."""
    content = {key: body[key] for key in ("items", "calendar", "known_years")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


async def fetch(client: httpx.AsyncClient, etag: str | None = None) -> httpx.Response:
    return await client.get("/api/catalog", headers={"If-None-Match": etag} if etag else {})


async def test_the_catalogue_holds_items_materials_and_the_calendar(app: Starlette) -> None:
    item = await make_item(app)
    await add_calendar(app, 2026, {dt.date(2026, 10, 10): True, dt.date(2026, 10, 1): False})
    async with make_client(app) as client:  # nobody signed in
        response = await fetch(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["items"] == [{"id": item.id, **FIRST_ITEM}]
    assert body["calendar"] == [["2026-10-01", False], ["2026-10-10", True]]
    assert body["known_years"] == [2026]
    assert re.fullmatch(r"[0-9a-f]{16}", body["version"])
    assert body["version"] == expected_version(body)
    generated = dt.datetime.fromisoformat(body["generated_at"])
    assert abs(generated - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert response.headers["etag"] == f'"{body["version"]}"'
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-type"] == "application/json"


async def test_the_version_is_stable_and_ignores_the_time(app: Starlette) -> None:
    await make_item(app)
    async with make_client(app) as client:
        first = (await fetch(client)).json()
        second = (await fetch(client)).json()
    assert first["version"] == second["version"]
    assert first["generated_at"] != second["generated_at"]


async def test_if_none_match_gives_a_bodyless_304(app: Starlette) -> None:
    await make_item(app)
    async with make_client(app) as client:
        etag = (await fetch(client)).headers["etag"]
        for header in (etag, f"W/{etag}", f'"0000000000000000", {etag}', f'W/"x", W/{etag}', "*"):
            response = await fetch(client, header)
            assert response.status_code == 304, header
            assert response.content == b""
            assert response.headers["etag"] == etag
            assert response.headers["cache-control"] == "no-cache"
            assert "content-type" not in response.headers
        for header in ('"0000000000000000"', etag.strip('"'), f'{etag[:-2]}"'):
            assert (await fetch(client, header)).status_code == 200, header


async def test_an_edit_changes_the_version_and_the_etag(app: Starlette) -> None:
    first = await make_item(app)
    async with make_client(app) as client:
        before = await fetch(client)
        etag = before.headers["etag"]

        await make_item(app, basic_code="992000102000", name="另一个事项")
        added = await fetch(client, etag)
        assert added.status_code == 200
        assert added.headers["etag"] != etag
        assert [item["name"] for item in added.json()["items"]] == ["测试事项", "另一个事项"]
        assert added.json()["version"] != before.json()["version"]

        # A new version of an item (one material more) changes it again.
        async with app.state.db.session() as session:
            view = await item_view(session, first.id or 0)
            draft = view.draft()
            draft.materials.append(MaterialDraft(name="户口簿", copies=1))
            await do_update_item(
                session=session,
                settings=app.state.settings,
                actor=None,
                item=view.item,
                draft=draft,
            )
        edited = await fetch(client, added.headers["etag"])
        assert edited.status_code == 200
        assert edited.json()["items"][0]["materials"][-1] == {
            "name": "户口簿",
            "originals": 0,
            "copies": 1,
            "required": True,
            "gap": False,
        }
        assert edited.headers["etag"] not in {etag, added.headers["etag"]}

        # So does the calendar.
        await add_calendar(app, 2027, {dt.date(2027, 1, 1): False})
        holiday = await fetch(client, edited.headers["etag"])
        assert holiday.status_code == 200
        assert holiday.json()["calendar"] == [["2027-01-01", False]]
        assert holiday.json()["known_years"] == [2027]
        # And nothing else has changed since: the newest tag is answered with a 304.
        assert (await fetch(client, holiday.headers["etag"])).status_code == 304


async def test_retired_items_are_left_out(app: Starlette) -> None:
    await make_item(app)
    other = await make_item(app, basic_code="992000102000", name="另一个事项")
    async with make_client(app) as client:
        both = await fetch(client)
        async with app.state.db.session() as session:
            row = await session.get(CatalogItem, other.id)
            assert row is not None
            row.status = "retired"
            session.add(row)
            await session.commit()
        one = await fetch(client, both.headers["etag"])
    assert one.status_code == 200
    assert [item["name"] for item in one.json()["items"]] == ["测试事项"]


async def test_signed_in_or_not_the_same_catalogue(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        anonymous = await fetch(client)
    async with signed_in(app, "p.village-agent") as client:
        agent = await fetch(client)
    assert anonymous.status_code == agent.status_code == 200
    assert anonymous.headers["etag"] == agent.headers["etag"]
    assert "set-cookie" not in anonymous.headers


async def test_a_large_catalogue_is_sent_compressed(app: Starlette) -> None:
    for number in range(1, 11):
        await make_item(app, basic_code=f"99200010{number:02d}00", name=f"事项{number}")
    async with make_client(app) as client:
        response = await client.get("/api/catalog", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["items"]) == 10
    assert response.headers["etag"] == f'"{response.json()["version"]}"'


async def test_the_openapi_schema_documents_every_key(app: Starlette) -> None:
    async with make_client(app) as client:
        schema = (await client.get("/api/schema")).json()
    operation = schema["paths"]["/catalog"]["get"]
    assert operation["summary"] == "事项目录"
    assert set(operation["responses"]) == {"200", "304"}
    models = schema["components"]["schemas"]
    expected = {
        "Catalogue": {"version", "generated_at", "items", "calendar", "known_years"},
        "CatalogueItem": {
            "id",
            "code",
            "basic_code",
            "name",
            "type",
            "kind",
            "dept",
            "statutory",
            "promised",
            "fee",
            "materials",
        },
        "CatalogueMaterial": {"name", "originals", "copies", "required", "gap"},
    }
    for name, keys in expected.items():
        properties = models[name]["properties"]
        assert set(properties) == keys, name
        undocumented = [key for key, spec in properties.items() if not spec.get("description")]
        assert not undocumented, f"{name}: {undocumented}"
    assert "promised=承诺件" in models["CatalogueItem"]["properties"]["kind"]["description"]
