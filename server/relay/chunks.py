"""Attachments over the sync link, one sealed chunk an envelope (docs/sync.md, "Attachments").

Parent side (the county), same trust as the event streams (`open_from_child`: an enrolled,
unrevoked child's key, the signature first, replays refused):

- `serve_have`: which chunks of which files the parent still misses: the files the child names
  and every file its held events wait for (relay/holds.py), so a cut transfer resumes;
- `serve_chunk`: one chunk up, stored idempotently by (sha256, index); the chunk that completes
  a file has it verified and releases the events held for it;
- `serve_fetch`: one chunk down, of a file linked to a case within the child's region.

Child side (the township's round, server/relay/client.py): `send_attachments` after the events
are pushed, `fetch_attachments` after the feed is pulled. Each chunk is its own request, so a cut
loses at most the chunk in flight; the next round asks again and sends only what is missing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.access import scans_of_case
from server.attachments.models import Attachment
from server.attachments.store import (
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    SHA256_HEX,
    chunk_count,
    is_complete,
    missing_chunks,
)
from server.attachments.transfer import (
    TRANSFER_CHUNK,
    ChunkProblem,
    chunk_message,
    holding,
    receive_chunk,
    wanted_indexes,
)
from server.cases.models import CaseRecord
from server.crypto.fields import FieldCipher
from server.db import Database, utcnow
from server.nodes.keys import Keyring
from server.nodes.models import NodePeer
from server.org.codes import RegionCodeError, within
from server.relay.holds import awaited_attachments, release_held
from server.relay.service import SyncRefused, open_from_child, seal_to_peer

if TYPE_CHECKING:
    from server.relay.client import Progress, RoundReport, _Link

log = logging.getLogger("yichuang.sync")
MAX_ASKED = 500  # files one `have` may name
CHUNK_STATUS = {
    "malformed": 400,
    "bad_chunk_hash": 422,
    "bad_file_hash": 422,
    "bad_chunk": 422,
    "chunk_conflict": 409,
    "not_linked": 404,
}


class ChunkRefused(SyncRefused):
    """A chunk request refused for what it carries (the envelope itself was fine)."""

    def __init__(self, reason: str, detail: str) -> None:
        Exception.__init__(self, f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
        self.status = CHUNK_STATUS.get(reason, 400)


def _now() -> str:
    return utcnow().isoformat(timespec="milliseconds")


async def serve_have(
    session: AsyncSession, cipher: FieldCipher, keyring: Keyring, data: bytes
) -> bytes:
    received = await open_from_child(session, keyring, data, "have")
    child, asked = received.peer, received.payload.get("sha256", [])
    if not isinstance(asked, list) or len(asked) > MAX_ASKED:
        raise SyncRefused("malformed", f"sha256 must be a list of at most {MAX_ASKED}")
    if not all(isinstance(s, str) and SHA256_HEX.fullmatch(s) for s in asked):
        raise SyncRefused("malformed", "sha256 holds lower-case hex SHA-256 names only")
    await release_held(session, cipher)  # files completed by a request that was cut short
    awaited = await awaited_attachments(session, cipher, peer=child.region_code, direction="up")
    answer = {
        "type": "holding",
        "attachments": await holding(session, [*asked, *awaited]),
        "server_time": _now(),
    }
    return await seal_to_peer(session, keyring, child.region_code, answer)


async def serve_chunk(
    session: AsyncSession, cipher: FieldCipher, keyring: Keyring, data: bytes
) -> bytes:
    child, answer = await apply_chunk(session, cipher, keyring, data)
    return await seal_to_peer(session, keyring, child.region_code, answer)


async def apply_chunk(
    session: AsyncSession, cipher: FieldCipher, keyring: Keyring, data: bytes
) -> tuple[NodePeer, dict[str, Any]]:
    """Open and store a child's chunk (HTTP or bundle); returns the child and the ack payload."""
    received = await open_from_child(session, keyring, data, "chunk")
    child, payload = received.peer, received.payload
    try:
        got = await receive_chunk(session, cipher, payload)
    except ChunkProblem as problem:
        # A file that failed its hash has lost its chunks: keep that, so it can come again.
        if problem.reason == "bad_file_hash":
            await session.commit()
        else:
            await session.rollback()
        log.warning("sync chunk refused from %s: %s", child.region_code, problem)
        raise ChunkRefused(problem.reason, problem.detail) from None
    await session.commit()
    released = await release_held(session, cipher) if got.complete and got.stored else 0
    answer = {
        "type": "chunk_ack",
        "sha256": payload["sha256"],
        "index": payload["index"],
        "stored": got.stored,
        "complete": got.complete,
        "released": released,
        "server_time": _now(),
    }
    return child, answer


async def serve_fetch(
    session: AsyncSession, cipher: FieldCipher, keyring: Keyring, data: bytes
) -> bytes:
    received = await open_from_child(session, keyring, data, "fetch")
    child, payload = received.peer, received.payload
    case_id, sha256 = payload.get("case"), payload.get("sha256")
    index, chunk_size = payload.get("index"), payload.get("chunk_size")
    if not (
        isinstance(case_id, str)
        and isinstance(sha256, str)
        and isinstance(index, int)
        and isinstance(chunk_size, int)
        and MIN_CHUNK_BYTES <= chunk_size <= MAX_CHUNK_BYTES
        and index >= 0
    ):
        raise SyncRefused("malformed", "case, sha256, index and chunk_size are required")
    case = await session.get(CaseRecord, case_id)
    try:
        mine = case is not None and within(case.org_unit_code, child.region_code)
    except RegionCodeError:
        mine = False
    linked = mine and any(s.sha256 == sha256 for s in await scans_of_case(session, cipher, case_id))
    attachment = await session.get(Attachment, sha256)
    if not linked or attachment is None or not await is_complete(session, sha256):
        raise ChunkRefused("not_linked", "没有找到这个扫描件，或它不属于贵单位的办件")
    if index >= chunk_count(attachment.size, chunk_size):
        raise SyncRefused("malformed", f"chunk {index} is past the end")
    message = await chunk_message(session, cipher, attachment, index, chunk_size)
    answer = {"type": "chunk", **message, "server_time": _now()}
    return await seal_to_peer(session, keyring, child.region_code, answer)


# --- the child's side -------------------------------------------------------------------------


async def send_attachments(
    db: Database, cipher: FieldCipher, link: _Link, report: RoundReport, say: Progress
) -> None:
    """Send every chunk the parent still misses of the files it waits for."""
    from server.relay.client import SyncFailed

    payload = {"type": "have", "from": link.me, "sha256": [], "sent_at": _now()}
    answer, sent, got = await link.exchange("/api/sync/chunks/have", payload, "holding")
    report.sent_bytes += sent
    report.received_bytes += got
    entries = answer.get("attachments")
    if not isinstance(entries, list):
        raise SyncFailed("上级节点答复的扫描件清单格式不正确")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("complete"):
            continue
        sha256 = str(entry.get("sha256", ""))
        async with db.session() as session:
            attachment = await session.get(Attachment, sha256)
            whole = attachment is not None and await is_complete(session, sha256)
        if attachment is None or not whole:
            say(f"扫描件 {sha256[:12]} 本节点也没有完整保存，无法上传")
            continue
        chunk_size, wanted = wanted_indexes(entry, attachment.size)
        if not MIN_CHUNK_BYTES <= chunk_size <= MAX_CHUNK_BYTES:
            raise SyncFailed("上级节点答复的分块大小不正确")
        for index in wanted:
            async with db.session() as session:
                message = await chunk_message(session, cipher, attachment, index, chunk_size)
            chunk = {"type": "chunk", "from": link.me, **message, "sent_at": _now()}
            ack, sent, got = await link.exchange("/api/sync/chunks", chunk, "chunk_ack")
            report.sent_chunks += 1
            report.sent_bytes += sent
            report.received_bytes += got
            if ack.get("complete"):
                say(f"扫描件 {sha256[:12]} 已全部上传（{attachment.size} 字节）")
        if wanted:
            say(f"上传扫描件 {sha256[:12]} 的 {len(wanted)} 块")


async def fetch_attachments(
    db: Database, cipher: FieldCipher, link: _Link, report: RoundReport, say: Progress
) -> None:
    """Fetch, chunk by chunk, the files that events held here wait for; then release them."""
    from server.relay.client import SyncFailed

    region = link.parent.region_code
    async with db.session() as session:
        await release_held(session, cipher)  # files completed by a round that was cut short
        awaited = await awaited_attachments(session, cipher, peer=region, direction="down")
    for sha256, case_id in awaited.items():
        while True:
            async with db.session() as session:
                declared = await session.get(Attachment, sha256)
                chunk_size = declared.chunk_size if declared else TRANSFER_CHUNK
                missing = await missing_chunks(session, sha256) if declared else [0]
            if not missing:
                break
            payload = {
                "type": "fetch",
                "from": link.me,
                "case": case_id,
                "sha256": sha256,
                "index": missing[0],
                "chunk_size": chunk_size,
                "sent_at": _now(),
            }
            answer, sent, got = await link.exchange("/api/sync/chunks/fetch", payload, "chunk")
            report.received_chunks += 1
            report.sent_bytes += sent
            report.received_bytes += got
            if answer.get("sha256") != sha256 or answer.get("index") != missing[0]:
                raise SyncFailed("上级节点下发的扫描件块与请求不符")
            async with db.session() as session:
                try:
                    done = await receive_chunk(session, cipher, answer)
                except ChunkProblem as problem:
                    if problem.reason == "bad_file_hash":
                        await session.commit()
                    raise SyncFailed(f"上级节点下发的扫描件无法保存：{problem.detail}") from None
                await session.commit()
                if done.complete:
                    released = await release_held(session, cipher)
                    report.received_events += released
                    say(f"扫描件 {sha256[:12]} 已全部下载，{released} 个事件随之生效")
                    break
