"""/admin/nodes: the county's admin makes codes and revokes; nobody else does anything there."""

from __future__ import annotations

import re

from sqlmodel import select
from starlette.applications import Starlette

from server.audit.models import AuditLog
from server.auth.models import Role
from server.nodes.codes import normalise_code
from server.nodes.models import EnrolmentCode, NodePeer, PeerKey
from server.nodes.queries import sender_keys
from sync.keys import NodeKeys
from tests.conftest import make_client, post_form, signed_in
from tests.factories import Personas, make_user
from tests.http.test_node_enrol_api import TOWNSHIP, body, enrol, new_code

CODE = re.compile(r'class="secret"[^>]*>([0-9A-Z-]{19})<')


async def test_the_county_admin_makes_a_code_shown_once(county_app: Starlette) -> None:
    async with signed_in(county_app, "county.admin") as client:
        page = await client.get("/admin/nodes")
        assert page.status_code == 200
        assert "还没有乡镇接入" in page.text
        assert county_app.state.node_keys.key_id.hex() in page.text
        response = await post_form(
            client,
            "/admin/nodes/codes",
            {"region_code": "990102101", "name": "青山镇便民服务中心"},
            page="/admin/nodes",
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        found = CODE.search(response.text)
        assert found, response.text
        code = found.group(1)
        assert "只显示这一次" in response.text and "24 小时" in response.text
        assert 'src="data:image/svg+xml' in response.text
        assert f"#join={code}" in response.text
        again = await client.get("/admin/nodes")
        assert code not in again.text
        assert "青山镇便民服务中心（990102101000），有效期至" in again.text
    async with county_app.state.db.session() as session:
        row = (await session.exec(select(EnrolmentCode))).one()
        assert row.region_code == TOWNSHIP and row.used_at is None
        assert row.code_hash != normalise_code(code)  # only the hash is kept
        audit = await session.exec(select(AuditLog).where(AuditLog.action == "node.enrol_code"))
        assert audit.one().target == TOWNSHIP


async def test_bad_code_requests_are_explained_by_field_and_keep_what_was_typed(
    county_app: Starlette,
) -> None:
    cases = {
        "990103101000": "不属于县 990102",
        "990102101201": "乡镇（街道）的区划代码应为",
        "99010210": "格式不对",
        "990102000000": "乡镇码）不能是 000",
    }
    async with signed_in(county_app, "county.admin") as client:
        for region, message in cases.items():
            response = await post_form(
                client,
                "/admin/nodes/codes",
                {"region_code": region, "name": "某乡"},
                "/admin/nodes",
            )
            assert response.status_code == 422, region
            assert message in response.text, region
            assert f'value="{region}"' in response.text and 'value="某乡"' in response.text
            assert 'aria-invalid="true" aria-describedby="e-region_code"' in response.text
        empty = await post_form(
            client, "/admin/nodes/codes", {"region_code": "", "name": ""}, "/admin/nodes"
        )
        assert empty.status_code == 422
        assert "请填写乡镇的 12 位区划代码" in empty.text
        assert "请填写乡镇便民服务中心的名称" in empty.text
    async with county_app.state.db.session() as session:
        assert (await session.exec(select(EnrolmentCode))).all() == []


async def test_only_the_county_admin_may_use_the_page(county_app: Starlette) -> None:
    for role in (Role.CLERK, Role.WINDOW_LEAD, Role.SUPERVISOR):
        await make_user(county_app, role=role, username=f"county.{role}", org_unit_code="990102")
        async with signed_in(county_app, f"county.{role}") as client:
            assert (await client.get("/admin/nodes")).status_code == 403
            form = {"region_code": TOWNSHIP, "name": "青山镇"}
            assert (await post_form(client, "/admin/nodes/codes", form)).status_code == 403
            revoke = await post_form(client, f"/admin/nodes/{TOWNSHIP}/revoke", {})
            assert revoke.status_code == 403
    async with make_client(county_app) as anonymous:
        response = await anonymous.get("/admin/nodes")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/signin?next=")
    async with county_app.state.db.session() as session:
        assert (await session.exec(select(EnrolmentCode))).all() == []


async def test_the_county_cannot_join_anyone(county_app: Starlette) -> None:
    async with signed_in(county_app, "county.admin") as client:
        form = {"parent_url": "http://127.0.0.1:9", "code": "7KQ2-M9XD-4HTB-W3RC"}
        assert (await post_form(client, "/admin/nodes/join", form)).status_code == 403


async def test_revoking_a_township_refuses_its_envelopes(county_app: Starlette) -> None:
    township = NodeKeys.generate().public()
    assert (await enrol(county_app, body(await new_code(county_app), township))).status_code == 200
    async with signed_in(county_app, "county.admin") as client:
        page = await client.get("/admin/nodes")
        assert township.key_id.hex() in page.text and "吊销" in page.text
        response = await post_form(client, f"/admin/nodes/{TOWNSHIP}/revoke", {}, "/admin/nodes")
        assert response.status_code == 303
        after = await client.get("/admin/nodes")
        assert "已吊销" in after.text
        assert f"/admin/nodes/{TOWNSHIP}/revoke" not in after.text
        missing = await post_form(client, "/admin/nodes/990102109000/revoke", {}, "/admin/nodes")
        assert missing.status_code == 404
    async with county_app.state.db.session() as session:
        assert await sender_keys(session, township.key_id) is None
        peer = await session.get(NodePeer, TOWNSHIP)
        key = await session.get(PeerKey, township.key_id.hex())
        assert peer is not None and peer.revoked_at is not None
        assert key is not None and key.revoked_at is not None
        audit = await session.exec(select(AuditLog).where(AuditLog.action == "node.revoke"))
        assert audit.one().target == TOWNSHIP


async def test_the_township_admin_sees_the_join_form(app: Starlette, personas: Personas) -> None:
    async with signed_in(app, personas.admin.username) as client:
        page = await client.get("/admin/nodes")
        assert page.status_code == 200
        assert "用接入码接入" in page.text and 'name="parent_url"' in page.text
        assert app.state.node_keys.key_id.hex() in page.text
        empty = await post_form(client, "/admin/nodes/join", {}, "/admin/nodes")
        assert empty.status_code == 422
        assert "县级服务器的网址" in empty.text and "请填写县级给出的接入码" in empty.text
        typed = {"parent_url": "zwfw.example", "code": "7KQ2-M9XD"}
        bad = await post_form(client, "/admin/nodes/join", typed, "/admin/nodes")
        assert bad.status_code == 422
        assert 'value="zwfw.example"' in bad.text and 'value="7KQ2-M9XD"' in bad.text
        assert "16 位字母和数字" in bad.text
        refused = await post_form(client, "/admin/nodes/codes", {"region_code": TOWNSHIP})
        assert refused.status_code == 403


async def test_township_staff_other_than_the_admin_are_refused(
    app: Starlette, personas: Personas
) -> None:
    for role in (Role.CLERK, Role.WINDOW_LEAD, Role.SUPERVISOR, Role.VILLAGE_AGENT):
        async with signed_in(app, personas.by_role[role].username) as client:
            assert (await client.get("/admin/nodes")).status_code == 403
            form = {"parent_url": "http://127.0.0.1:9", "code": "7KQ2-M9XD-4HTB-W3RC"}
            assert (await post_form(client, "/admin/nodes/join", form)).status_code == 403
