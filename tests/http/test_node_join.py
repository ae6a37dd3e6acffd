"""A township joins its county through its page, over HTTP to the county's app (in process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.nodes.codes import join_link
from server.nodes.enrolment import REFUSALS
from server.nodes.keys import rotate_node_keys
from server.nodes.models import PeerKey
from server.nodes.queries import parent_peer, peer_public_keys
from server.org.models import OrgUnit
from server.settings import load_settings
from tests.conftest import _truncate_postgres, post_form, running, signed_in
from tests.factories import Personas, make_county_admin
from tests.http.test_node_enrol_api import TOWNSHIP, new_code
from tests.relay_fixtures import extra_postgres
from tests.relay_nodes import COUNTY, node_settings, sqlite_copy

__all__ = ["extra_postgres"]  # a fixture, used by `county` below
COUNTY_URL = "http://county.test"


@pytest.fixture
async def county(
    tmp_path: Path, db_url: str, migrated_templates: dict[str, str], extra_postgres: list[str]
) -> AsyncIterator[Starlette]:
    """The county on its own database (same backend as the township's), its own data dir."""
    if db_url.startswith("sqlite"):
        url = sqlite_copy(migrated_templates["sqlite"], tmp_path / "county.db")
    else:
        url = extra_postgres[0]
        _truncate_postgres(url)
    async with running(node_settings(tmp_path / "county", COUNTY, url)) as application:
        await make_county_admin(application)
        yield application


@pytest.fixture
def township(app: Starlette, county: Starlette, personas: Personas) -> Starlette:
    """The township (the `app` fixture), reaching the county through an ASGI transport."""
    app.state.peer_transport = httpx.ASGITransport(app=county)
    return app


async def join(township: Starlette, personas: Personas, **form: str) -> httpx.Response:
    async with signed_in(township, personas.admin.username) as client:
        return await post_form(client, "/admin/nodes/join", form, "/admin/nodes")


async def test_a_township_joins_with_a_code_and_both_pin_each_other(
    township: Starlette, county: Starlette, personas: Personas
) -> None:
    code = await new_code(county)
    async with signed_in(township, personas.admin.username) as client:
        form = {"parent_url": COUNTY_URL + "/", "code": code.lower()}
        response = await post_form(client, "/admin/nodes/join", form, "/admin/nodes")
        assert response.status_code == 303, response.text
        page = await client.get("/admin/nodes")
    county_keys = county.state.node_keys.current.public()
    township_keys = township.state.node_keys.current.public()
    async with township.state.db.session() as session:
        parent = await parent_peer(session)
        assert parent is not None
        assert (parent.region_code, parent.name, parent.url) == (
            COUNTY,
            "示范县政务服务中心",
            COUNTY_URL,
        )
        assert await peer_public_keys(session, COUNTY) == [county_keys]
        unit = await session.get(OrgUnit, TOWNSHIP)
        assert unit is not None and unit.parent_code == COUNTY
    async with county.state.db.session() as session:
        assert await peer_public_keys(session, TOWNSHIP) == [township_keys]
    settings = load_settings(township.state.settings.data_dir)
    assert (settings.parent_url, settings.parent_region_code, settings.parent_name) == (
        COUNTY_URL,
        COUNTY,
        "示范县政务服务中心",
    )
    assert settings.name == "青山镇便民服务中心"  # the rest of node.toml is kept
    assert township.state.settings.parent_url == COUNTY_URL
    assert "已接入 示范县政务服务中心" in page.text
    assert county_keys.key_id.hex() in page.text
    assert "已接入 示范县政务服务中心（990102）。县级密钥编号" in page.text  # the flash


async def test_the_join_link_alone_is_enough(
    township: Starlette, county: Starlette, personas: Personas
) -> None:
    link = join_link(COUNTY_URL, await new_code(county))
    assert (await join(township, personas, parent_url=link)).status_code == 303


async def test_a_joined_township_says_so_and_keeps_the_fresh_code(
    township: Starlette, county: Starlette, personas: Personas
) -> None:
    assert (
        await join(township, personas, parent_url=COUNTY_URL, code=await new_code(county))
    ).status_code == 303
    fresh = await new_code(county)
    again = await join(township, personas, parent_url=COUNTY_URL, code=fresh)
    assert again.status_code == 422
    assert "本中心已接入 示范县政务服务中心（990102）" in again.text
    assert "重新接入" in again.text
    # The refusal came before the county was asked: the fresh code still works, for a re-join.
    rejoined = await join(township, personas, parent_url=COUNTY_URL, code=fresh, rejoin="on")
    assert rejoined.status_code == 303


async def test_a_used_code_fails_clearly_on_the_township(
    township: Starlette, county: Starlette, personas: Personas
) -> None:
    code = await new_code(county)
    assert (await join(township, personas, parent_url=COUNTY_URL, code=code)).status_code == 303
    again = await join(township, personas, parent_url=COUNTY_URL, code=code, rejoin="on")
    assert again.status_code == 422
    assert REFUSALS["used"] in again.text


async def test_a_wrong_code_is_shown_by_the_code_field(
    township: Starlette, county: Starlette, personas: Personas
) -> None:
    await new_code(county)
    response = await join(township, personas, parent_url=COUNTY_URL, code="7KQ2-M9XD-4HTB-W3RC")
    assert response.status_code == 422
    assert REFUSALS["bad_code"] in response.text
    assert 'aria-describedby="e-code"' in response.text
    async with township.state.db.session() as session:
        assert await parent_peer(session) is None


async def test_re_joining_replaces_the_pinned_county_keys(
    township: Starlette, county: Starlette, personas: Personas
) -> None:
    old = county.state.node_keys.current.public()
    assert (
        await join(township, personas, parent_url=COUNTY_URL, code=await new_code(county))
    ).status_code == 303
    new = rotate_node_keys(county.state.settings.data_dir).public()
    code = await new_code(county)
    rejoined = await join(township, personas, parent_url=COUNTY_URL, code=code, rejoin="on")
    assert rejoined.status_code == 303
    async with township.state.db.session() as session:
        assert await peer_public_keys(session, COUNTY) == [new]
        row = await session.get(PeerKey, old.key_id.hex())
        assert row is not None and row.revoked_at is not None
        assert len((await session.exec(select(PeerKey))).all()) == 2


async def test_an_unreachable_county_is_explained(app: Starlette, personas: Personas) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app.state.peer_transport = httpx.MockTransport(refuse)
    response = await join(
        app, personas, parent_url="http://127.0.0.1:9", code="7KQ2-M9XD-4HTB-W3RC"
    )
    assert response.status_code == 422
    assert "连不上县级服务器 http://127.0.0.1:9" in response.text


async def test_a_server_that_is_not_our_county_is_not_pinned(
    app: Starlette, personas: Personas
) -> None:
    def other_county(request: httpx.Request) -> httpx.Response:
        keys = app.state.node_keys.current.public().to_json()
        return httpx.Response(200, json={"region_code": "990103", "name": "别的县", "keys": keys})

    app.state.peer_transport = httpx.MockTransport(other_county)
    response = await join(app, personas, parent_url=COUNTY_URL, code="7KQ2-M9XD-4HTB-W3RC")
    assert response.status_code == 422
    assert "不是本乡镇所属的县（990102）" in response.text
    async with app.state.db.session() as session:
        assert await parent_peer(session) is None
