"""Enrolling a village agent's phone and its sealed sync with the township (both databases).

The phone's side is played by sync/ (the same envelope format the browser's WebCrypto code is
held to by the test vectors): keys made here, registered with a clerk's one-time code, cases
sealed to the township and the answer opened with the device's key.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from server.agent.devices import do_create_device_code, do_enrol_device
from server.agent.models import AgentDevice, AgentDeviceCode, AgentIntake
from server.agent.sync import CLAIM_LEASE
from server.attachments.access import scans_of_case
from server.cases.models import CaseRecord
from server.catalog.actions import do_set_claims
from server.db import utcnow
from server.nodes.codes import claim_code, code_hash
from server.nodes.keys import node_keys
from sync.envelope import open_envelope, seal
from sync.keys import NodeKeys, PublicKeys
from tests.conftest import csrf_of, make_client, signed_in
from tests.factories import Personas
from tests.http.test_agent_uploads import MATERIAL, declaration, put_chunk, token
from tests.scan_files import tiny_jpeg

CODE = re.compile(r"data-device-code>([0-9A-Z-]{19})<")


async def _code(app: Starlette, personas: Personas) -> str:
    async with app.state.db.session() as session:
        _row, _agent, code = await do_create_device_code(
            session=session,
            actor=personas.township_officer,
            agent_id=personas.village_clerk.id or 0,
        )
    return code


async def _enrolled(app: Starlette, personas: Personas) -> NodeKeys:
    """A phone of the persona agent, enrolled through the action; its keys."""
    phone = NodeKeys.generate()
    async with app.state.db.session() as session:
        await do_enrol_device(
            session=session,
            user=personas.village_clerk,
            code=await _code(app, personas),
            name="测试手机",
            keys=phone.public(),
        )
    return phone


def _case(personas: Personas, case_id: str, **applicant: str) -> dict[str, Any]:
    assert personas.item is not None
    return {
        "id": case_id,
        "item_id": personas.item.id,
        "applicant": {
            "kind": "natural",
            "name": "王秀兰",
            "id_type": "resident_id",
            "id": "11010519491231002X",
            "phone": "13912345678",
            "address": "青山镇青山村三组 12 号",
            **applicant,
        },
        "materials": [],
    }


async def _sync(
    client: httpx.AsyncClient, app: Starlette, phone: NodeKeys, cases: list[dict[str, Any]]
) -> httpx.Response:
    township = node_keys(app.state.settings).current.public()
    payload = {"type": "agent_sync", "cases": cases, "sent_at": "2026-12-02T10:00:00+00:00"}
    data = seal(json.dumps(payload).encode(), sender=phone, recipients=[township])
    return await client.post(
        "/api/agent/sync", content=data, headers={"Content-Type": "application/octet-stream"}
    )


def _answer(app: Starlette, phone: NodeKeys, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    township = node_keys(app.state.settings).current.public()
    opened = open_envelope(
        response.content,
        me=phone,
        sender_lookup=lambda key_id: township if key_id == township.key_id else None,
    )
    answer: dict[str, Any] = json.loads(opened.payload)
    return answer


async def _claim(app: Starlette, personas: Personas) -> None:
    assert personas.item is not None and personas.item.id is not None
    async with app.state.db.session() as session:
        await do_set_claims(session=session, actor=personas.admin, item_ids={personas.item.id})


async def _cases(app: Starlette) -> list[CaseRecord]:
    async with app.state.db.session() as session:
        return list((await session.exec(select(CaseRecord))).all())


async def test_a_clerk_makes_a_code_and_the_agent_enrols_a_phone(
    app: Starlette, personas: Personas
) -> None:
    agent = personas.village_clerk
    async with signed_in(app, personas.township_officer.username) as clerk:
        token = await csrf_of(clerk, "/agent/devices")
        page = await clerk.post(
            "/agent/devices/codes", data={"agent_id": str(agent.id), "csrf_token": token}
        )
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert "data:image/svg+xml" in page.text  # the QR code
        code = CODE.search(page.text)
        assert code, page.text
        assert f"/agent/enrol#code={code.group(1)}" in page.text
    phone = NodeKeys.generate()
    body = {"code": code.group(1).lower(), "name": "红米手机", "keys": phone.public().to_json()}
    async with signed_in(app, agent.username) as client:
        token = await csrf_of(client, "/agent/devices")
        headers = {"X-CSRF-Token": token}
        answer = await client.post("/api/agent/devices", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        township = node_keys(app.state.settings).current.public()
        assert PublicKeys.from_json(answer.json()["keys"]) == township
        assert answer.json()["key_id"] == phone.key_id.hex()
        again = await client.post(
            "/api/agent/devices",
            json={**body, "keys": NodeKeys.generate().public().to_json()},
            headers=headers,
        )
        assert again.status_code == 403
        assert "已经用过" in again.json()["detail"]
        mine = await client.get("/agent/devices")
        assert "红米手机" in mine.text and "在用" in mine.text


async def test_a_phone_code_is_claimed_once(app: Starlette, personas: Personas) -> None:
    hashed, first = code_hash(await _code(app, personas)), utcnow()
    async with app.state.db.session() as session:
        assert await claim_code(session=session, model=AgentDeviceCode, hashed=hashed, now=first)
        await session.commit()
        later = utcnow()
        assert not await claim_code(
            session=session, model=AgentDeviceCode, hashed=hashed, now=later
        )
    async with app.state.db.session() as session:
        row = await session.get(AgentDeviceCode, hashed)
        assert row is not None and row.used_at == first


async def test_a_code_serves_only_its_agent(app: Starlette, personas: Personas) -> None:
    code = await _code(app, personas)
    body = {"code": code, "name": "手机", "keys": NodeKeys.generate().public().to_json()}
    async with signed_in(app, personas.township_officer.username) as clerk:
        token = await csrf_of(clerk, "/agent/devices")
        refused = await clerk.post("/api/agent/devices", json=body, headers={"X-CSRF-Token": token})
        assert refused.status_code == 403  # a clerk's own phone is not an agent's
    async with signed_in(app, personas.village_clerk.username) as client:
        token = await csrf_of(client, "/agent/devices")
        wrong = {**body, "code": "0000-0000-0000-0000"}
        bad = await client.post("/api/agent/devices", json=wrong, headers={"X-CSRF-Token": token})
        assert bad.status_code == 403 and "登记码不对" in bad.json()["detail"]
        blank = await client.post(
            "/api/agent/devices", json={**body, "name": " "}, headers={"X-CSRF-Token": token}
        )
        assert blank.status_code == 422 and "手机名称" not in blank.json()["errors"].get("keys", "")
        assert "name" in blank.json()["errors"]


async def test_cases_from_the_phone_are_opened_once(app: Starlette, personas: Personas) -> None:
    await _claim(app, personas)
    phone = await _enrolled(app, personas)
    case = _case(personas, "0193a0c0-0000-7000-8000-000000000001")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        first = _answer(app, phone, await _sync(client, app, phone, [case]))
        again = _answer(app, phone, await _sync(client, app, phone, [case]))
        pull = _answer(app, phone, await _sync(client, app, phone, []))
    assert first["results"][0]["status"] == "stored"
    assert again["results"] == [{"id": case["id"], "status": "repeated"}]
    [held] = await _cases(app)
    assert held.channel == "village_agent"
    assert held.proxy_user_id == personas.village_clerk.id
    assert held.serial == first["results"][0]["serial"]
    [state] = pull["cases"]
    assert state["id"] == case["id"] and state["stage"] == "received"
    assert state["state_name"] == "已提交"
    assert len(pull["catalogue"]) == 16


async def test_a_refused_case_comes_back_in_chinese(app: Starlette, personas: Personas) -> None:
    await _claim(app, personas)
    phone = await _enrolled(app, personas)
    bad = _case(personas, "0193a0c0-0000-7000-8000-000000000002", id="110105194912310021")
    async with signed_in(app, personas.village_clerk.username) as client:
        huge = {**_case(personas, "0193a0c0-0000-7000-8000-00000000000f"), "item_id": 10**30}
        answer = _answer(app, phone, await _sync(client, app, phone, [bad, {"id": 5}, huge]))
    refused, malformed, too_big = answer["results"]
    assert too_big["status"] == "refused" and "重新点" in too_big["message"]
    assert refused["status"] == "refused"
    assert "applicant_id" in refused["errors"] and "身份证号码" in refused["message"]
    assert malformed["status"] == "refused" and "重新点" in malformed["message"]
    assert await _cases(app) == []


async def test_unknown_tampered_and_revoked_devices_are_refused(
    app: Starlette, personas: Personas
) -> None:
    await _claim(app, personas)
    phone = await _enrolled(app, personas)
    case = _case(personas, "0193a0c0-0000-7000-8000-000000000003")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        stranger = await _sync(client, app, NodeKeys.generate(), [case])
        assert stranger.status_code == 403 and stranger.json()["reason"] == "unknown_sender"
        township = node_keys(app.state.settings).current.public()
        sealed = bytearray(
            seal(b'{"type":"agent_sync","cases":[]}', sender=phone, recipients=[township])
        )
        sealed[-70] ^= 1  # a byte of the ciphertext: the signature no longer matches
        tampered = await client.post("/api/agent/sync", content=bytes(sealed))
        assert tampered.status_code == 403 and tampered.json()["reason"] == "bad_signature"
        async with signed_in(app, personas.village_clerk.username) as agent:
            token = await csrf_of(agent, "/agent/devices")
            revoked = await agent.post(
                f"/agent/devices/{phone.key_id.hex()}/revoke", data={"csrf_token": token}
            )
            assert revoked.status_code == 303
        refused = await _sync(client, app, phone, [case])
        assert refused.status_code == 403 and "吊销" in refused.json()["detail"]
    assert await _cases(app) == []
    async with app.state.db.session() as session:
        device = await session.get(AgentDevice, phone.key_id.hex())
        assert device is not None and device.revoked_at is not None


async def test_another_centres_staff_cannot_touch_the_devices(
    app: Starlette, personas: Personas
) -> None:
    phone = await _enrolled(app, personas)
    async with signed_in(app, personas.township_officer.username) as clerk:
        for chosen in ("99999999999999999999", "abc", str(personas.admin.id)):
            token = await csrf_of(clerk, "/agent/devices")
            refused = await clerk.post(
                "/agent/devices/codes", data={"agent_id": chosen, "csrf_token": token}
            )
            assert refused.status_code == 422 and "请从列表中选择" in refused.text
    async with signed_in(app, personas.by_role["supervisor"].username) as supervisor:
        assert (await supervisor.get("/agent/devices")).status_code == 403
    async with signed_in(app, personas.admin.username) as admin:
        listed = await admin.get("/agent/devices")
        assert "测试手机" in listed.text and personas.village_clerk.display_name in listed.text
    async with app.state.db.session() as session:
        query = select(AgentDevice).where(col(AgentDevice.key_id) == phone.key_id.hex())
        assert (await session.exec(query)).one().revoked_at is None


async def test_photos_uploaded_for_the_draft_are_attached_to_its_case(
    app: Starlette, personas: Personas
) -> None:
    await _claim(app, personas)
    phone = await _enrolled(app, personas)
    draft = "fedcba9876543210fedcba9876543210"
    case = {**_case(personas, "0193a0c0-0000-7000-8000-000000000004"), "draft": draft}

    async def upload(photo: bytes) -> None:
        async with signed_in(app, personas.village_clerk.username) as client:
            csrf = await token(client)
            declared = await client.post(
                "/api/agent/uploads", json={**declaration(photo), "draft_id": draft}, headers=csrf
            )
            assert declared.status_code == 200, declared.text
            done = await put_chunk(client, csrf, declared.json()["id"], 0, photo)
            assert done.json()["complete"] is True

    await upload(tiny_jpeg(b"before the case"))
    async with make_client(app) as client:
        first = _answer(app, phone, await _sync(client, app, phone, [case]))
        assert first["results"][0]["status"] == "stored"
        await upload(tiny_jpeg(b"after the case"))  # the phone sends the case again for it
        again = _answer(app, phone, await _sync(client, app, phone, [case]))
        assert again["results"][0]["status"] == "repeated"
    [held] = await _cases(app)
    async with app.state.db.session() as session:
        scans = await scans_of_case(session, app.state.cipher, held.id)
    assert len(scans) == 2 and {scan.material for scan in scans} == {MATERIAL}


async def test_a_case_another_request_is_opening_is_pending_until_its_lease_ends(
    app: Starlette, personas: Personas
) -> None:
    await _claim(app, personas)
    phone = await _enrolled(app, personas)
    case = _case(personas, "0193a0c0-0000-7000-8000-000000000005")
    claim = AgentIntake(
        phone_case_id=case["id"],
        user_id=personas.village_clerk.id or 0,
        device_key_id=phone.key_id.hex(),
    )
    async with app.state.db.session() as session:
        session.add(claim)
        await session.commit()
    async with make_client(app) as client:
        busy = _answer(app, phone, await _sync(client, app, phone, [case]))
        assert busy["results"][0]["status"] == "pending"
        assert await _cases(app) == []
        async with app.state.db.session() as session:  # the other request died long ago
            stale = await session.get(AgentIntake, case["id"])
            assert stale is not None
            stale.received_at = utcnow() - CLAIM_LEASE * 2
            session.add(stale)
            await session.commit()
        taken = _answer(app, phone, await _sync(client, app, phone, [case]))
        assert taken["results"][0]["status"] == "stored"
    assert len(await _cases(app)) == 1
