"""A photo upload and the clean-up of abandoned ones at the same moment: a chunk for a file the
clean-up just dropped is the 404 that makes the phone start again, the list leaves out what it
just removed, a sync that links an upload the clean-up just removed answers normally (the phone
declares the photo again and sends the case once more), and on PostgreSQL a clean-up that meets
the last chunk waits for it instead of deadlocking. The other side runs for real at the named
moment: right after a given statement of the request, before the request goes on. Runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.util import await_only
from starlette.applications import Starlette

from server.agent.models import AgentIntake
from server.agent.upload_limits import STALE_AFTER, do_remove_stale_uploads
from server.agent.uploads import CHUNK_BYTES
from server.attachments.access import scans_of_case
from server.attachments.models import AttachmentUpload
from server.attachments.store import is_complete
from server.db import utcnow
from tests.conftest import make_client, signed_in
from tests.factories import Personas, make_persona_case, make_persona_scan
from tests.http.test_agent_devices import _answer, _case, _claim, _enrolled, _sync
from tests.http.test_agent_uploads import declaration, put_chunk, token
from tests.scan_files import tiny_jpeg

LATER = STALE_AFTER + dt.timedelta(days=1)


@contextmanager
def meanwhile(
    app: Starlette, after: Callable[[str], bool], action: Callable[[], Awaitable[object]]
) -> Iterator[list[object]]:
    """Run `action` once, right after the first statement `after` picks has run (its rows are
    read already) and before its caller goes on; what it returned is appended to the list."""
    done: list[object] = []

    def hook(*args: Any) -> None:
        statement = args[2]
        if done or not after(statement):
            return
        done.append(None)  # the action's own statements must not start it again
        done[0] = await_only(action())

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "after_cursor_execute", hook)
    try:
        yield done
    finally:
        event.remove(engine, "after_cursor_execute", hook)
    assert done, "the statement never ran"


def reads(table: str, *, locking: bool = False) -> Callable[[str], bool]:
    """Picks a SELECT from `table` (with FOR UPDATE, if `locking`)."""

    def pick(statement: str) -> bool:
        words = statement.split()
        return (
            words[:1] == ["SELECT"]
            and "FROM" in words
            and words[words.index("FROM") + 1] == table
            and (not locking or "FOR UPDATE" in statement)
        )

    return pick


async def clean_up(app: Starlette, *, later: dt.timedelta = LATER) -> int:
    """The job's clean-up, as if it ran `later` from now (by default: every upload is stale)."""
    async with app.state.db.session() as session:
        return await do_remove_stale_uploads(session, app.state.cipher, now=utcnow() + later)


async def test_a_chunk_for_a_file_the_clean_up_just_dropped_is_a_404(
    app: Starlette, personas: Personas
) -> None:
    photo = tiny_jpeg(b"dropped") + bytes(CHUNK_BYTES)  # two chunks
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)
        declared = await client.post("/api/agent/uploads", json=declaration(photo), headers=csrf)
        upload_id = declared.json()["id"]
        # The request has found the upload and its file; then the clean-up drops both.
        with meanwhile(app, reads("attachment"), lambda: clean_up(app)) as removed:
            sent = await put_chunk(client, csrf, upload_id, 0, photo)
        assert removed == [1]
        assert sent.status_code == 404 and "可能已被清理" in sent.json()["detail"]
        # The phone declares it again and sends it whole.
        again = await client.post("/api/agent/uploads", json=declaration(photo), headers=csrf)
        assert again.json()["id"] != upload_id and again.json()["missing"] == [0, 1]
        for idx in (0, 1):
            assert (
                await put_chunk(client, csrf, again.json()["id"], idx, photo)
            ).status_code == 200


async def test_the_list_leaves_out_an_upload_the_clean_up_just_removed(
    app: Starlette, personas: Personas
) -> None:
    photo = tiny_jpeg(b"listed")
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)
        declared = await client.post("/api/agent/uploads", json=declaration(photo), headers=csrf)
        assert declared.status_code == 200, declared.text
        # The list has read the agent's uploads; the clean-up removes the one with its file.
        with meanwhile(app, reads("attachment_upload"), lambda: clean_up(app)) as removed:
            listed = await client.get("/api/agent/uploads")
        assert removed == [1]
        assert listed.status_code == 200 and listed.json()["uploads"] == []
        assert listed.json()["csrf_token"]


async def test_a_sync_linking_an_upload_the_clean_up_just_removed_answers_normally(
    app: Starlette, personas: Personas
) -> None:
    await _claim(app, personas)
    phone = await _enrolled(app, personas)
    draft = "fedcba9876543210fedcba9876543210"
    photo = tiny_jpeg(b"removed while linking")
    # The window has scanned the same bytes into another case: the upload goes, its file stays.
    await make_persona_case(app, personas)
    await make_persona_scan(app, personas, photo)
    case = {**_case(personas, "0193a0c0-0000-7000-8000-000000000006"), "draft": draft}
    async with signed_in(app, personas.village_clerk.username) as agent:
        csrf = await token(agent)

        async def upload() -> dict[str, Any]:
            declared = await agent.post(
                "/api/agent/uploads", json=declaration(photo, draft_id=draft), headers=csrf
            )
            assert declared.status_code == 200, declared.text
            answer: dict[str, Any] = declared.json()
            for idx in answer["missing"]:
                assert (await put_chunk(agent, csrf, answer["id"], idx, photo)).status_code == 200
            return answer

        first = await upload()
        async with make_client(app) as client:
            # The sync has read the draft's uploads; the clean-up removes this one meanwhile.
            with meanwhile(app, reads("attachment_upload"), lambda: clean_up(app)) as removed:
                sent = _answer(app, phone, await _sync(client, app, phone, [case]))
            assert removed == [1]
            assert sent["results"][0]["status"] == "stored"
            async with app.state.db.session() as session:
                intake = await session.get(AgentIntake, case["id"])
                assert intake is not None and intake.case_id is not None
                assert await scans_of_case(session, app.state.cipher, intake.case_id) == []
            # After sending, the phone declares the photo again: not linked, so it sends the
            # case once more, which links it.
            again = await upload()
            assert again["id"] != first["id"] and again["linked"] is False
            assert again["complete"] is True
            repeated = _answer(app, phone, await _sync(client, app, phone, [case]))
            assert repeated["results"][0]["status"] == "repeated"
    async with app.state.db.session() as session:
        [scan] = await scans_of_case(session, app.state.cipher, intake.case_id)
    assert scan.sha256 == first["sha256"]


async def _waiting_on_a_lock(app: Starlette) -> None:
    """Return once some connection to this database waits for a row lock (PostgreSQL)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(200):
        async with app.state.db.engine.connect() as connection:
            if (await connection.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the clean-up never waited for the file's lock")


async def test_the_clean_up_waits_for_the_last_chunk_instead_of_deadlocking(
    app: Starlette, personas: Personas
) -> None:
    if app.state.db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite has one writer, taken at the first write")
    photo = tiny_jpeg(b"last chunk") + bytes(CHUNK_BYTES)  # two chunks
    async with signed_in(app, personas.village_clerk.username) as client:
        csrf = await token(client)
        declared = await client.post("/api/agent/uploads", json=declaration(photo), headers=csrf)
        upload_id = declared.json()["id"]
        assert (await put_chunk(client, csrf, upload_id, 0, photo)).status_code == 200
        async with app.state.db.session() as session:  # the first chunk went a month ago
            row = await session.get(AttachmentUpload, upload_id)
            assert row is not None
            row.created_at -= LATER
            row.touched_at -= LATER
            session.add(row)
            await session.commit()
        running: list[asyncio.Task[int]] = []

        async def clean_up_waiting() -> None:
            # Stale by its clock when the clean-up starts, while the last chunk holds the file.
            running.append(asyncio.create_task(clean_up(app, later=dt.timedelta(0))))
            await _waiting_on_a_lock(app)

        with meanwhile(app, reads("attachment", locking=True), clean_up_waiting):
            last = await put_chunk(client, csrf, upload_id, 1, photo)
        assert last.status_code == 200, last.text
        assert last.json()["complete"] is True
        # The chunk touched the upload: not stale any more, kept with its file.
        assert await asyncio.wait_for(running[0], timeout=30) == 0
    async with app.state.db.session() as session:
        kept = await session.get(AttachmentUpload, upload_id)
        assert kept is not None and kept.completed_at is not None
        assert await is_complete(session, kept.sha256)
