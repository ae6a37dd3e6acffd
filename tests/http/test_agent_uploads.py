"""Photos from the agent's phone through /api/agent/uploads: declared, sent in chunks, resumed
after a cut from the server's own answer, verified whole, stored encrypted, linked to the case
made from the draft; and every refusal in Chinese (wrong hash, too large, wrong type, another
agent's upload, staff, nobody signed in, no CSRF token); an enrolled phone by its signature
alone, and a forged or revoked one refused. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import httpx
from starlette.applications import Starlette

from server.agent.device_auth import signed_message
from server.agent.models import AgentDevice
from server.agent.upload_links import do_link_uploads
from server.agent.uploads import CHUNK_BYTES, MAX_UPLOAD_BYTES
from server.attachments.access import scans_of_case
from server.attachments.store import read_attachment
from server.auth.models import Role
from server.cases.actions import Intake
from server.cases.models import CaseRecord
from server.catalog.actions import do_set_claims
from server.db import utcnow
from sync.keys import NodeKeys
from tests.conftest import make_client, signed_in
from tests.factories import VILLAGE, Personas, make_user, open_intake
from tests.scan_files import tiny_jpeg, tiny_png

DRAFT = "0123456789abcdef0123456789abcdef"
MATERIAL = "居民身份证"
PHOTO = tiny_jpeg(b"photo") + os.urandom(2 * CHUNK_BYTES + 1000)  # three chunks, the last short


def declaration(data: bytes, **over: Any) -> dict[str, Any]:
    return {
        "draft_id": DRAFT,
        "material": MATERIAL,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "media_type": "image/jpeg",
        **over,
    }


async def token(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.get("/api/agent/uploads")
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


async def put_chunk(
    client: httpx.AsyncClient, csrf: dict[str, str], upload_id: str, idx: int, data: bytes
) -> httpx.Response:
    part = data[idx * CHUNK_BYTES : (idx + 1) * CHUNK_BYTES]
    headers = {**csrf, "Content-Type": "application/octet-stream"}
    return await client.put(
        f"/api/agent/uploads/{upload_id}/chunks/{idx}", content=part, headers=headers
    )


async def agent_case(app: Starlette, personas: Personas) -> CaseRecord:
    """A case the persona agent opens for the persona item (which the centre must claim)."""
    assert personas.item is not None and personas.item.id is not None
    intake = Intake(
        item_id=personas.item.id,
        channel="village_agent",
        applicant_name="王秀兰",
        applicant_id_type="resident_id",
        applicant_id="11010519491231002X",
    )
    return await open_intake(app, personas.village_clerk, intake)


async def test_a_photo_goes_up_in_chunks_resumes_and_is_linked_to_the_case(
    app: Starlette, personas: Personas
) -> None:
    agent = personas.village_clerk
    async with signed_in(app, agent.username) as client:
        csrf = await token(client)
        first = await client.post("/api/agent/uploads", json=declaration(PHOTO), headers=csrf)
        assert first.status_code == 200, first.text
        upload = first.json()
        assert (upload["chunk_size"], upload["chunk_count"]) == (CHUNK_BYTES, 3)
        assert upload["missing"] == [0, 1, 2] and not upload["complete"]
        for idx in (0, 1):
            assert (await put_chunk(client, csrf, upload["id"], idx, PHOTO)).status_code == 200
        # The link drops here; the phone asks again (declaring again is the same upload).
        again = await client.post("/api/agent/uploads", json=declaration(PHOTO), headers=csrf)
        assert (again.json()["id"], again.json()["missing"]) == (upload["id"], [2])
        shown = await client.get(f"/api/agent/uploads/{upload['id']}")
        assert shown.json()["missing"] == [2]
        assert (await put_chunk(client, csrf, upload["id"], 1, PHOTO)).json()["missing"] == [2]
        done = await put_chunk(client, csrf, upload["id"], 2, PHOTO)
        assert done.status_code == 200 and done.json()["complete"] is True
        listed = (await client.get(f"/api/agent/uploads?draft_id={DRAFT}")).json()["uploads"]
        assert [u["id"] for u in listed] == [upload["id"]] and listed[0]["complete"]
        assert listed[0]["linked"] is False  # no case from this draft yet

    assert personas.item is not None and personas.item.id is not None
    async with app.state.db.session() as session:
        assert await read_attachment(session, app.state.cipher, upload["sha256"]) == PHOTO
        await do_set_claims(session=session, actor=personas.admin, item_ids={personas.item.id})
    case = await agent_case(app, personas)
    link = {"cipher": app.state.cipher, "settings": app.state.settings, "actor": agent}
    async with app.state.db.session() as session:
        events = await do_link_uploads(session=session, case=case, draft_id=DRAFT, **link)
        assert len(events) == 1
        assert await do_link_uploads(session=session, case=case, draft_id=DRAFT, **link) == []
        scans = await scans_of_case(session, app.state.cipher, case.id)
    assert [(s.material, s.sha256, s.size) for s in scans] == [
        (MATERIAL, upload["sha256"], len(PHOTO))
    ]
    async with signed_in(app, agent.username) as client:  # with its case now: kept
        late = await client.delete(
            f"/api/agent/uploads/{upload['id']}", headers=await token(client)
        )
        assert late.status_code == 409 and "不能再从手机上撤回" in late.json()["detail"]
        # Declared again (the phone checks before and after sending): with its case.
        again = (await client.get(f"/api/agent/uploads/{upload['id']}")).json()
        assert (again["complete"], again["linked"]) == (True, True)


async def test_refusals_are_in_chinese_and_lose_nothing_else(
    app: Starlette, personas: Personas
) -> None:
    other = await make_user(
        app, role=Role.VILLAGE_AGENT, username="p.agent-two", org_unit_code=VILLAGE
    )
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)

        async def post(body: dict[str, Any]) -> httpx.Response:
            return await client.post("/api/agent/uploads", json=body, headers=csrf)

        too_large = await post(declaration(PHOTO, size=MAX_UPLOAD_BYTES + 1))
        assert (
            too_large.status_code == 422 and "不能超过 4 MB" in too_large.json()["errors"]["size"]
        )
        odd = await post(declaration(PHOTO, media_type="text/plain", sha256="ABC", draft_id="x"))
        assert odd.status_code == 422
        assert set(odd.json()["errors"]) == {"media_type", "sha256", "draft_id"}

        # Declared as one file, sent as another: refused at the end, every chunk dropped.
        liar = await post(declaration(PHOTO, sha256=hashlib.sha256(b"other").hexdigest()))
        upload_id = liar.json()["id"]
        for idx in (0, 1):
            await put_chunk(client, csrf, upload_id, idx, PHOTO)
        wrong = await put_chunk(client, csrf, upload_id, 2, PHOTO)
        assert wrong.status_code == 422 and "SHA-256 不符" in wrong.json()["errors"]["sha256"]
        assert (await client.get(f"/api/agent/uploads/{upload_id}")).json()["missing"] == [0, 1, 2]

        # A PNG declared as a JPEG: refused by its first bytes.
        png = tiny_png(b"x", width=64, height=64)
        typed = await post(declaration(png))
        refused = await put_chunk(client, csrf, typed.json()["id"], 0, png)
        assert refused.status_code == 422 and "按文件内容判断" in refused.json()["errors"]["file"]
        short = await put_chunk(client, csrf, liar.json()["id"], 0, PHOTO[:100])
        assert short.status_code == 422 and "长度" in short.json()["errors"]["chunk"]

        mine = (await post(declaration(PHOTO))).json()["id"]
        no_token = await client.put(f"/api/agent/uploads/{mine}/chunks/0", content=PHOTO[:10])
        assert no_token.status_code == 403

    async with signed_in(app, other.username) as client:
        csrf = await token(client)
        assert (await client.get(f"/api/agent/uploads/{mine}")).status_code == 404
        theirs = await put_chunk(client, csrf, mine, 0, PHOTO)
        assert theirs.status_code == 404 and "没有找到这次上传" in theirs.json()["detail"]
        assert (await client.get("/api/agent/uploads")).json()["uploads"] == []
        gone = await client.delete(f"/api/agent/uploads/{mine}", headers=csrf)
        assert gone.status_code == 404

    async with signed_in(app, personas.village_clerk.username) as client:
        # Removed on the phone before the case went: forgotten (and so never attached).
        withdrawn = await client.delete(f"/api/agent/uploads/{mine}", headers=await token(client))
        assert withdrawn.status_code == 204
        assert (await client.get(f"/api/agent/uploads/{mine}")).status_code == 404

    async with signed_in(app, personas.township_officer.username) as client:
        staff = await client.get("/api/agent/uploads")
        assert (
            staff.status_code == 403 and staff.json()["detail"] == "只有村代办员可以从手机上传照片"
        )
    async with make_client(app) as client:
        assert (await client.get(f"/api/agent/uploads/{mine}")).status_code == 401


def device_headers(keys: NodeKeys, method: str, url: str, body: bytes = b"") -> dict[str, str]:
    path, _, query = url.partition("?")
    signature = keys.sign(signed_message(method, path.encode(), query.encode(), body))
    text = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return {"Authorization": f"YC-Device {keys.key_id.hex()}:{text}"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def enrolled(app: Starlette, user_id: int) -> NodeKeys:
    """A phone enrolled for the user (its device row, as enrolment leaves it); its keys."""
    keys = NodeKeys.generate()
    public = keys.public()
    async with app.state.db.session() as session:
        session.add(
            AgentDevice(
                key_id=public.key_id.hex(),
                user_id=user_id,
                name="测试手机",
                signing=b64url(public.signing),
                receiving=b64url(public.receiving),
            )
        )
        await session.commit()
    return keys


async def revoke(app: Starlette, keys: NodeKeys) -> None:
    async with app.state.db.session() as session:
        row = await session.get(AgentDevice, keys.key_id.hex())
        assert row is not None
        row.revoked_at = utcnow()
        session.add(row)
        await session.commit()


async def test_an_enrolled_phone_uploads_by_its_signature_without_a_session(
    app: Starlette, personas: Personas
) -> None:
    keys = await enrolled(app, personas.village_clerk.uid)
    body = json.dumps(declaration(PHOTO)).encode()
    async with make_client(app) as client:  # no cookie, no CSRF token
        declared = await client.post(
            "/api/agent/uploads",
            content=body,
            headers={
                "Content-Type": "application/json",
                **device_headers(keys, "POST", "/api/agent/uploads", body),
            },
        )
        assert declared.status_code == 200, declared.text
        upload_id = declared.json()["id"]
        for idx in range(3):
            url = f"/api/agent/uploads/{upload_id}/chunks/{idx}"
            part = PHOTO[idx * CHUNK_BYTES : (idx + 1) * CHUNK_BYTES]
            sent = await client.put(
                url, content=part, headers=device_headers(keys, "PUT", url, part)
            )
            assert sent.status_code == 200, sent.text
        listing = f"/api/agent/uploads?draft_id={DRAFT}"
        answer = await client.get(listing, headers=device_headers(keys, "GET", listing))
        assert [u["complete"] for u in answer.json()["uploads"]] == [True]
        assert answer.json()["csrf_token"] == ""

        # Signed for another request (here: another chunk), or by a revoked phone: refused.
        url = f"/api/agent/uploads/{upload_id}/chunks/0"
        forged = await client.put(
            url, content=PHOTO[:CHUNK_BYTES], headers=device_headers(keys, "PUT", url, b"x")
        )
        assert forged.status_code == 401 and "本机的签名无效" in forged.json()["detail"]
        garbled = await client.get(listing, headers={"Authorization": "YC-Device zz:!!"})
        assert garbled.status_code == 401
        await revoke(app, keys)
        revoked = await client.get(listing, headers=device_headers(keys, "GET", listing))
        assert revoked.status_code == 401
