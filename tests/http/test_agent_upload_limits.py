"""What agents' unsent photos may take on the township: a quota per agent on the uploads no case
has linked (refused in Chinese; a repeated declaration always answers; declarations at the same
instant cannot pass it together), and the job loop's clean-up of uploads no case took within 30
days of their last step (declared, declared again, a chunk), which drops a file's chunks only
when nothing else needs them (another upload, a case's scan, a sync event waiting for the file),
as withdrawing an upload does at once. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select
from starlette.applications import Starlette

from server.agent.upload_limits import UNSENT_QUOTA_BYTES, unsent_bytes
from server.agent.upload_links import do_link_uploads
from server.agent.uploads import CHUNK_BYTES, MAX_UPLOAD_BYTES
from server.attachments.access import scans_of_case
from server.attachments.models import Attachment, AttachmentChunk, AttachmentUpload
from server.attachments.store import read_attachment
from server.auth.models import Role
from server.notify.jobs import run_once
from server.relay.holds import EVIDENCE_CONTEXT
from server.relay.models import SyncQuarantine
from sync.chain import canonical
from tests.conftest import signed_in
from tests.factories import (
    VILLAGE,
    Personas,
    make_persona_case,
    make_persona_scan,
    make_user,
)
from tests.http.test_agent_uploads import agent_case, declaration, put_chunk, token
from tests.scan_files import tiny_jpeg

FULL = "还没发送的照片太多了"


def photo(name: str) -> bytes:
    """A one-chunk JPEG of its own."""
    return tiny_jpeg(name.encode()) + os.urandom(CHUNK_BYTES // 2)


def blank(**over: Any) -> dict[str, Any]:
    """A declaration of a full-size photo never sent."""
    return declaration(b"", **{"sha256": secrets.token_hex(32), "size": MAX_UPLOAD_BYTES, **over})


async def test_an_agent_s_unsent_photos_are_bounded_and_a_repeat_still_answers(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)

        async def post(body: dict[str, Any]) -> httpx.Response:
            return await client.post("/api/agent/uploads", json=body, headers=csrf)

        first = blank()
        uploads = [(await post(first)).json()["id"]]
        for _ in range(UNSENT_QUOTA_BYTES // MAX_UPLOAD_BYTES - 1):
            declared = await post(blank())
            assert declared.status_code == 200, declared.text
            uploads.append(declared.json()["id"])

        over = await post(blank(size=1000))
        assert over.status_code == 422
        message = over.json()["errors"]["size"]
        assert FULL in message and "上限 200 MB" in message and "发送到乡镇" in message
        assert "删除" in message and over.json()["detail"] == message

        # The phone lost the answer and asks again: the same upload, not a new one.
        again = await post(first)
        assert again.status_code == 200 and again.json()["id"] == uploads[0]

        # A photo withdrawn, or linked to its case, leaves room.
        withdrawn = await client.delete(f"/api/agent/uploads/{uploads[0]}", headers=csrf)
        assert withdrawn.status_code == 204
        assert (await post(blank())).status_code == 200
        assert FULL in (await post(blank())).json()["errors"]["size"]
        async with app.state.db.session() as session:
            linked = await session.get(AttachmentUpload, uploads[1])
            assert linked is not None
            linked.case_id = case_id
            session.add(linked)
            await session.commit()
        assert (await post(blank())).status_code == 200

    other = await make_user(
        app, role=Role.VILLAGE_AGENT, username="p.agent-two", org_unit_code=VILLAGE
    )
    async with signed_in(app, other.username) as client:  # the quota is each agent's own
        declared = await client.post(
            "/api/agent/uploads", json=blank(), headers=await token(client)
        )
        assert declared.status_code == 200, declared.text


async def _send(client: httpx.AsyncClient, csrf: dict[str, str], data: bytes, draft: str) -> str:
    """Declare and fill one photo of a draft; the upload's id."""
    declared = await client.post(
        "/api/agent/uploads", json=declaration(data, draft_id=draft), headers=csrf
    )
    assert declared.status_code == 200, declared.text
    answer = declared.json()
    for idx in answer["missing"]:
        assert (await put_chunk(client, csrf, answer["id"], idx, data)).status_code == 200
    return str(answer["id"])


async def _age(app: Starlette, upload_id: str, declared: int, touched: int) -> None:
    """Move an upload's declaration back by so many days, and its last step (completion)."""
    async with app.state.db.session() as session:
        row = await session.get(AttachmentUpload, upload_id)
        assert row is not None
        row.created_at -= dt.timedelta(days=declared)
        row.touched_at -= dt.timedelta(days=touched)
        if row.completed_at is not None:  # None: the file was here whole when declared
            row.completed_at -= dt.timedelta(days=touched)
        session.add(row)
        await session.commit()


async def _chunks(app: Starlette, data: bytes) -> tuple[bool, int]:
    """Whether the file is declared here, and how many of its chunks are stored."""
    sha256 = declaration(data)["sha256"]
    async with app.state.db.session() as session:
        declared = await session.get(Attachment, sha256) is not None
        query = select(func.count()).where(col(AttachmentChunk.sha256) == sha256)
        return declared, int((await session.exec(query)).one())


async def test_the_job_removes_old_unlinked_uploads_and_only_the_chunks_nothing_needs(
    app: Starlette, personas: Personas, caplog: pytest.LogCaptureFixture
) -> None:
    agent = personas.village_clerk
    gone, recent, late, linked, scanned, held = (
        photo(name) for name in ("gone", "recent", "late", "linked", "scanned", "held")
    )
    await make_persona_case(app, personas)
    await make_persona_scan(app, personas, scanned)  # the window's scan of the same photo
    case = await agent_case(app, personas)
    async with signed_in(app, agent.username) as client:
        csrf = await token(client)
        ids = {
            "gone": await _send(client, csrf, gone, "draft-gone-0001"),
            "recent": await _send(client, csrf, recent, "draft-recent-01"),
            "recent_old": await _send(client, csrf, recent, "draft-recent-02"),
            "late": await _send(client, csrf, late, "draft-late-0001"),
            "linked": await _send(client, csrf, linked, "draft-linked-01"),
            "scanned": await _send(client, csrf, scanned, "draft-scanned-1"),
            "held": await _send(client, csrf, held, "draft-held-0001"),
        }
    async with app.state.db.session() as session:
        events = await do_link_uploads(
            session=session,
            cipher=app.state.cipher,
            settings=app.state.settings,
            actor=agent,
            case=case,
            draft_id="draft-linked-01",
        )
        assert len(events) == 1
        # An event from the county names the same file; it waits for the file (relay/holds.py).
        event = {"id": "e1", "case": "c1", "kind": "attach", "body": declaration(held)}
        hold = SyncQuarantine(
            peer="990102",
            direction="down",
            case_id="c1",
            event_id="e1",
            reason="awaiting_attachment",
            message="材料仍在传输中",
            evidence=app.state.cipher.encrypt(canonical(event).decode(), context=EVIDENCE_CONTEXT),
        )
        session.add(hold)
        await session.commit()
    for name in ("gone", "recent_old", "linked", "scanned", "held"):
        await _age(app, ids[name], declared=31, touched=31)
    await _age(app, ids["late"], declared=40, touched=1)  # finished going up yesterday

    with caplog.at_level(logging.INFO, logger="yichuang.agent"):
        report = await run_once(app.state.db, app.state.cipher, app.state.settings)
    assert report.stale_uploads == 4
    assert "removed 4 agent uploads no case took within 30 days (1 files with them)" in caplog.text

    async with app.state.db.session() as session:
        rows = (await session.exec(select(AttachmentUpload.id))).all()
        assert set(rows) == {ids["recent"], ids["late"], ids["linked"]}
        # The window's scan of the same bytes and the linked photo still open whole.
        cipher = app.state.cipher
        assert personas.case_id is not None
        [scan] = await scans_of_case(session, cipher, personas.case_id)
        assert await read_attachment(session, cipher, scan.sha256) == scanned
        [photo_scan] = await scans_of_case(session, cipher, case.id)
        assert await read_attachment(session, cipher, photo_scan.sha256) == linked
    assert await _chunks(app, gone) == (False, 0)
    for kept in (recent, late, linked, scanned, held):
        assert await _chunks(app, kept) == (True, 1)

    again = await run_once(app.state.db, app.state.cipher, app.state.settings)
    assert again.stale_uploads == 0


async def test_a_withdrawn_photo_takes_its_chunks_unless_something_else_needs_them(
    app: Starlette, personas: Personas
) -> None:
    alone, shared, scanned = (photo(name) for name in ("alone", "shared", "scanned"))
    await make_persona_case(app, personas)
    await make_persona_scan(app, personas, scanned)
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)

        async def withdraw(upload_id: str) -> None:
            gone = await client.delete(f"/api/agent/uploads/{upload_id}", headers=csrf)
            assert gone.status_code == 204, gone.text

        await withdraw(await _send(client, csrf, alone, "draft-alone-001"))
        assert await _chunks(app, alone) == (False, 0)

        # The loop a stolen phone could run (declare the quota, send, withdraw) leaves nothing.
        declared = [
            (await client.post("/api/agent/uploads", json=blank(), headers=csrf)).json()
            for _ in range(3)
        ]
        for upload in declared:
            await withdraw(upload["id"])
        async with app.state.db.session() as session:
            names = [upload["sha256"] for upload in declared]
            query = select(func.count()).where(col(Attachment.sha256).in_(names))
            assert (await session.exec(query)).one() == 0

        # The same photo for two drafts: the file stays while the other upload names it.
        first = await _send(client, csrf, shared, "draft-shared-01")
        second = await _send(client, csrf, shared, "draft-shared-02")
        await withdraw(first)
        assert await _chunks(app, shared) == (True, 1)
        await withdraw(second)
        assert await _chunks(app, shared) == (False, 0)

        # The window scanned the same bytes into a case: its file stays whole.
        await withdraw(await _send(client, csrf, scanned, "draft-scanned-1"))
    assert await _chunks(app, scanned) == (True, 1)
    async with app.state.db.session() as session:
        assert personas.case_id is not None
        [scan] = await scans_of_case(session, app.state.cipher, personas.case_id)
        assert await read_attachment(session, app.state.cipher, scan.sha256) == scanned


async def test_declarations_at_the_same_instant_do_not_pass_the_quota_together(
    app: Starlette, personas: Personas
) -> None:
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)

        async def post() -> httpx.Response:
            return await client.post("/api/agent/uploads", json=blank(), headers=csrf)

        for _ in range(UNSENT_QUOTA_BYTES // MAX_UPLOAD_BYTES - 1):
            assert (await post()).status_code == 200
        answers = await asyncio.gather(*(post() for _ in range(5)))  # room for one more
    assert sorted(answer.status_code for answer in answers) == [200, 422, 422, 422, 422]
    assert all(FULL in a.json()["errors"]["size"] for a in answers if a.status_code == 422)
    async with app.state.db.session() as session:
        assert await unsent_bytes(session, personas.village_clerk) == UNSENT_QUOTA_BYTES


async def test_declaring_again_or_sending_a_chunk_restarts_the_30_days(
    app: Starlette, personas: Personas
) -> None:
    redeclared, idle = photo("redeclared"), photo("idle")
    partial = tiny_jpeg(b"partial") + os.urandom(2 * CHUNK_BYTES)  # three chunks
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)
        ids = {
            "redeclared": await _send(client, csrf, redeclared, "draft-again-001"),
            "idle": await _send(client, csrf, idle, "draft-idle-0001"),
        }
        started = await client.post(
            "/api/agent/uploads",
            json=declaration(partial, draft_id="draft-part-0001"),
            headers=csrf,
        )
        ids["partial"] = started.json()["id"]
        assert (await put_chunk(client, csrf, ids["partial"], 0, partial)).status_code == 200
        for upload_id in ids.values():
            await _age(app, upload_id, declared=31, touched=31)

        # The phone checks the draft's photos around sending its case; the cut upload goes on.
        again = await client.post(
            "/api/agent/uploads",
            json=declaration(redeclared, draft_id="draft-again-001"),
            headers=csrf,
        )
        assert again.json()["id"] == ids["redeclared"]
        assert (await put_chunk(client, csrf, ids["partial"], 1, partial)).status_code == 200

    report = await run_once(app.state.db, app.state.cipher, app.state.settings)
    assert report.stale_uploads == 1
    async with app.state.db.session() as session:
        rows = set((await session.exec(select(AttachmentUpload.id))).all())
    assert rows == {ids["redeclared"], ids["partial"]}
    assert await _chunks(app, redeclared) == (True, 1)
    assert await _chunks(app, partial) == (True, 2)
    assert await _chunks(app, idle) == (False, 0)
