"""Scans in bundles: the chunks of the files a bundle's events need, and storing them on arrival.

A USB stick cannot ask what the other side misses (`have`, relay/chunks.py), so a bundle
carries every chunk of every file the `attach` events in it name and this node holds whole, in
the wire chunks the HTTP transfer uses (`TRANSFER_CHUNK`, `chunk_message`); a chunk the other
side holds already is a repeat (stored by (sha256, index)). The county stores them with
`apply_chunk` (the body of /api/sync/chunks), the township as `fetch_attachments` does; the
chunk that completes a file releases the events held for it (relay/holds.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.models import Attachment
from server.attachments.store import chunk_count, is_complete
from server.attachments.transfer import (
    TRANSFER_CHUNK,
    ChunkProblem,
    chunk_message,
    receive_chunk,
    referenced_attachments,
)
from server.crypto.fields import FieldCipher
from server.db import Database
from server.relay.holds import release_held


async def scan_chunks(
    session: AsyncSession,
    cipher: FieldCipher,
    events: Iterable[Mapping[str, Any]],
    *,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Chunk payloads (type `chunk`) of every whole file the events need, in event order."""
    wanted: dict[str, None] = {}
    for event in events:
        kind, body = event.get("kind"), event.get("body")
        if isinstance(kind, str) and isinstance(body, Mapping):
            wanted.update(dict.fromkeys(referenced_attachments(kind, body)))
    messages = []
    for sha256 in wanted:
        attachment = await session.get(Attachment, sha256)
        if attachment is None or not await is_complete(session, sha256):
            say(f"扫描件 {sha256[:12]} 本节点也没有完整保存，未写入数据包")
            continue
        for index in range(chunk_count(attachment.size, TRANSFER_CHUNK)):
            message = await chunk_message(session, cipher, attachment, index, TRANSFER_CHUNK)
            messages.append({"type": "chunk", **message})
    return messages


async def store_scan_chunk(db: Database, cipher: FieldCipher, payload: Mapping[str, Any]) -> int:
    """One chunk from the parent's answer; returns how many held events it released."""
    async with db.session() as session:
        try:
            got = await receive_chunk(session, cipher, payload)
        except ChunkProblem:
            await session.commit()  # a file that failed its hash has lost its chunks: keep that
            raise
        await session.commit()
        return await release_held(session, cipher) if got.complete and got.stored else 0
