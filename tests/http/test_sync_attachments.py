"""Scans travel with their case (real envelopes, real endpoints through an ASGI transport, both
databases): a case's scan goes up in sealed 32 KiB chunks and opens at the county byte for byte;
a transfer cut after some chunks leaves the county's events held ("材料仍在传输中") and the
next round sends only the missing chunks, then the held events apply in order; a chunk whose
bytes do not match its hash is refused; a scan attached at the county comes down the same way.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from server.attachments.actions import do_attach_scan
from server.attachments.models import Attachment, AttachmentChunk
from server.attachments.store import read_attachment
from server.attachments.transfer import TRANSFER_CHUNK
from server.cases.models import CaseRecord
from server.relay.client import SyncFailed, sync_round
from server.relay.models import SyncQuarantine
from server.relay.wire import encode
from tests.conftest import signed_in
from tests.http.test_sync_ingest import post, sealed
from tests.relay_fixtures import extra_postgres, linked
from tests.relay_nodes import COUNTY, TOWNSHIP_A, TOWNSHIP_B, Node, command, open_case, sync
from tests.scan_files import tiny_png

__all__ = ["extra_postgres", "linked"]

NOTICE = "材料仍在传输中"
SCAN_BYTES = 100_000  # four wire chunks of 32 KiB


def scan() -> bytes:
    """A PNG of about 100 KB that does not compress (a photo would not either)."""
    return tiny_png(os.urandom(SCAN_BYTES - 100))


async def attach(node: Node, case_id: str, data: bytes) -> str:
    async with node.app.state.db.session() as session:
        case = await session.get(CaseRecord, case_id)
        assert case is not None
        done = await do_attach_scan(
            session=session,
            cipher=node.app.state.cipher,
            settings=node.settings,
            actor=node.clerk,
            case=case,
            material="居民身份证",
            file_name="身份证.png",
            data=data,
        )
    return done.sha256


async def case_state(node: Node, case_id: str) -> str:
    async with node.app.state.db.session() as session:
        case = await session.get(CaseRecord, case_id)
        return case.state if case else ""


async def stored_chunks(node: Node, sha256: str) -> int:
    async with node.app.state.db.session() as session:
        query = select(AttachmentChunk.idx).where(col(AttachmentChunk.sha256) == sha256)
        return len((await session.exec(query)).all())


async def open_holds(node: Node) -> list[str]:
    async with node.app.state.db.session() as session:
        query = select(SyncQuarantine.reason).where(col(SyncQuarantine.resolved_at).is_(None))
        return list((await session.exec(query)).all())


class Cut(httpx.AsyncBaseTransport):
    """The county over a link that drops after `allowed` chunk uploads; counts what went."""

    def __init__(self, county: Node, allowed: int | None = None) -> None:
        self.inner = httpx.ASGITransport(app=county.app, raise_app_exceptions=False)
        self.allowed, self.chunks = allowed, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/sync/chunks":
            if self.allowed is not None and self.chunks >= self.allowed:
                raise httpx.ReadError("the line dropped")
            self.chunks += 1
        return await self.inner.handle_async_request(request)


async def sync_over(township: Node, transport: Cut) -> None:
    async with httpx.AsyncClient(transport=transport, base_url="http://county.test") as http:
        await sync_round(
            township.app.state.db, township.app.state.cipher, township.settings, http=http
        )


async def test_a_scan_goes_up_with_its_case_and_opens_at_the_county(
    linked: dict[str, Node],
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case = await open_case(a, relayed=True)
    await command(a, case.id, "accept")
    data = scan()
    sha256 = await attach(a, case.id, data)
    report = await sync(a, county)
    assert report.sent_chunks == -(-len(data) // TRANSFER_CHUNK) == 4
    assert await open_holds(county) == []
    async with county.app.state.db.session() as session:
        assert await read_attachment(session, county.app.state.cipher, sha256) == data
        stored = await session.get(Attachment, sha256)
        assert stored is not None and stored.chunk_size == TRANSFER_CHUNK
    async with signed_in(county.app, f"admin.{COUNTY}") as http:
        page = await http.get(f"/cases/{case.id}")
        assert page.status_code == 200 and "身份证.png" in page.text and NOTICE not in page.text
        opened = await http.get(f"/cases/{case.id}/attachments/{sha256}")
        assert opened.status_code == 200 and opened.content == data
    again = await sync(a, county)
    assert (again.sent_events, again.sent_chunks) == (0, 0)


async def test_a_cut_transfer_resumes_and_held_events_apply_once_complete(
    linked: dict[str, Node],
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case = await open_case(a, relayed=True)
    await command(a, case.id, "accept")
    sha256 = await attach(a, case.id, scan())
    await command(a, case.id, "start_review")
    cut = Cut(county, allowed=1)
    with pytest.raises(SyncFailed):
        await sync_over(a, cut)
    # The events went first: the county holds the attach event and the one after it.
    assert cut.chunks == 1 and await stored_chunks(county, sha256) == 1
    assert sorted(await open_holds(county)) == ["after_held", "awaiting_attachment"]
    assert await case_state(county, case.id) == "accepted"
    async with signed_in(county.app, f"admin.{COUNTY}") as http:
        page = await http.get(f"/cases/{case.id}")
        assert NOTICE in page.text
        hidden = await http.get(f"/cases/{case.id}/attachments/{sha256}")
        assert hidden.status_code == 404
    resumed = Cut(county)
    await sync_over(a, resumed)
    assert resumed.chunks == 3  # only the missing ones
    assert await stored_chunks(county, sha256) == 4
    assert await open_holds(county) == []
    assert await case_state(county, case.id) == "in_review"
    async with signed_in(county.app, f"admin.{COUNTY}") as http:
        page = await http.get(f"/cases/{case.id}")
        assert NOTICE not in page.text and "身份证.png" in page.text


def chunk_payload(data: bytes, *, sha256: str, chunk_hash: str) -> dict[str, Any]:
    return {
        "type": "chunk",
        "from": TOWNSHIP_A,
        "sha256": sha256,
        "size": len(data),
        "media_type": "image/png",
        "chunk_size": TRANSFER_CHUNK,
        "index": 0,
        "chunk_sha256": chunk_hash,
        "data": base64.b64encode(data).decode(),
        "sent_at": "2026-12-02T08:00:00.000+00:00",
    }


def sealed_from(node: Node, county: Node, payload: dict[str, Any]) -> bytes:
    return sealed(node, county, encode(payload))


async def test_a_chunk_with_a_wrong_hash_is_refused(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    data = tiny_png(b"one chunk")
    sha256 = hashlib.sha256(data).hexdigest()
    changed = data[:-1] + b"\x00"
    bad_chunk = chunk_payload(changed, sha256=sha256, chunk_hash=sha256)
    refused = await post(county, "/api/sync/chunks", sealed_from(a, county, bad_chunk))
    assert (refused.status_code, refused.json()["reason"]) == (422, "bad_chunk_hash")
    # Bytes that match their chunk hash but not the file's name: refused when the file is whole.
    wrong_file = chunk_payload(
        changed, sha256=sha256, chunk_hash=hashlib.sha256(changed).hexdigest()
    )
    refused = await post(county, "/api/sync/chunks", sealed_from(a, county, wrong_file))
    assert (refused.status_code, refused.json()["reason"]) == (422, "bad_file_hash")
    assert await stored_chunks(county, sha256) == 0
    good = chunk_payload(data, sha256=sha256, chunk_hash=sha256)
    assert (await post(county, "/api/sync/chunks", sealed_from(a, county, good))).status_code == 200
    assert await stored_chunks(county, sha256) == 1


async def test_a_scan_attached_at_the_county_comes_down(linked: dict[str, Node]) -> None:
    county, a, b = linked[COUNTY], linked[TOWNSHIP_A], linked[TOWNSHIP_B]
    case = await open_case(a, relayed=True)
    for name in ("accept", "start_review", "mark_ready", "relay"):
        await command(a, case.id, name)
    await sync(a, county)
    data = scan()
    sha256 = await attach(county, case.id, data)
    report = await sync(a, county)
    assert report.received_chunks == 4 and report.received_events == 1
    assert await open_holds(a) == []
    async with a.app.state.db.session() as session:
        assert await read_attachment(session, a.app.state.cipher, sha256) == data
    # Another township may not fetch it: the case is not within its region.
    fetch = {
        "type": "fetch",
        "from": TOWNSHIP_B,
        "case": case.id,
        "sha256": sha256,
        "index": 0,
        "chunk_size": TRANSFER_CHUNK,
        "sent_at": "2026-12-02T08:00:00.000+00:00",
    }
    refused = await post(county, "/api/sync/chunks/fetch", sealed_from(b, county, fetch))
    assert (refused.status_code, refused.json()["reason"]) == (404, "not_linked")
