"""Attachments between nodes: how a file is cut for the wire and how a received chunk is kept.

On the wire a file travels in chunks of `TRANSFER_CHUNK` bytes (32 KiB: one sealed envelope a
chunk, small enough for a poor link to carry in a few seconds and to lose little on a cut).
The receiver declares the file with the chunk size the chunk message names and stores each
chunk as it is (server/attachments/store.py), so a wire chunk is a stored chunk and `(sha256,
index)` is the same on both sides: storing one again is a no-op. The sender's own chunks may be
larger (256 KiB at the window); it reads the byte range a wire chunk covers.

Every chunk message carries the SHA-256 of its own bytes, checked before anything is stored;
the chunk that completes the file has the whole file checked against its name (`store_chunk`),
and a mismatch drops every chunk of it. Nothing here commits or checks who sends: the sync
endpoints (server/relay/chunks.py) do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.models import Attachment
from server.attachments.store import (
    SHA256_HEX,
    AttachmentConflict,
    AttachmentCorrupt,
    AttachmentError,
    chunk_count,
    declare_attachment,
    is_complete,
    missing_chunks,
    read_chunk,
    store_chunk,
)
from server.crypto.fields import FieldCipher

TRANSFER_CHUNK = 32 * 1024
CHUNK_FIELDS = ("sha256", "size", "media_type", "chunk_size", "index", "chunk_sha256", "data")


class ChunkProblem(Exception):
    """A chunk message that is not stored: `reason` (stable code) and `detail` (Chinese)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Received:
    stored: bool  # False: this chunk was here already
    complete: bool  # the file is whole (and verified) here now


def referenced_attachments(kind: str, body: Mapping[str, Any]) -> list[str]:
    """The files an event needs before it can be applied: an `attach` event's `sha256`."""
    sha256 = body.get("sha256") if kind == "attach" else None
    return [sha256] if isinstance(sha256, str) and SHA256_HEX.fullmatch(sha256) else []


async def read_range(
    session: AsyncSession, cipher: FieldCipher, attachment: Attachment, start: int, end: int
) -> bytes:
    """Plain bytes [start, end) of a complete file, from its stored chunks (any chunk size)."""
    step = attachment.chunk_size
    parts = []
    for idx in range(start // step, (end - 1) // step + 1):
        data = await read_chunk(session, cipher, sha256=attachment.sha256, idx=idx)
        parts.append(data[max(0, start - idx * step) : max(0, end - idx * step)])
    return b"".join(parts)


async def chunk_message(
    session: AsyncSession,
    cipher: FieldCipher,
    attachment: Attachment,
    index: int,
    chunk_size: int = TRANSFER_CHUNK,
) -> dict[str, Any]:
    """Wire chunk `index` of a file as it travels (the payload's own fields left to the caller)."""
    start = index * chunk_size
    data = await read_range(
        session, cipher, attachment, start, min(attachment.size, start + chunk_size)
    )
    return {
        "sha256": attachment.sha256,
        "size": attachment.size,
        "media_type": attachment.media_type,
        "chunk_size": chunk_size,
        "index": index,
        "chunk_sha256": hashlib.sha256(data).hexdigest(),
        "data": base64.b64encode(data).decode("ascii"),
    }


def _integer(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ChunkProblem("malformed", f"{key} 须是非负整数")
    return value


async def receive_chunk(
    session: AsyncSession, cipher: FieldCipher, payload: Mapping[str, Any]
) -> Received:
    """Check and store one chunk message (declaring the file on its first chunk)."""
    sha256, chunk_hash = payload.get("sha256"), payload.get("chunk_sha256")
    media_type, encoded = payload.get("media_type"), payload.get("data")
    if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
        raise ChunkProblem("malformed", "sha256 须是 64 位小写十六进制")
    if not isinstance(chunk_hash, str) or not SHA256_HEX.fullmatch(chunk_hash):
        raise ChunkProblem("malformed", "chunk_sha256 须是 64 位小写十六进制")
    if not isinstance(media_type, str) or not isinstance(encoded, str):
        raise ChunkProblem("malformed", "media_type 和 data 须是字符串")
    size, chunk_size, index = (_integer(payload, k) for k in ("size", "chunk_size", "index"))
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ChunkProblem("malformed", "data 不是 base64") from None
    if hashlib.sha256(data).hexdigest() != chunk_hash:
        raise ChunkProblem("bad_chunk_hash", f"扫描件 {sha256[:12]} 的第 {index} 块与其哈希不符")
    try:
        await declare_attachment(
            session, sha256=sha256, size=size, media_type=media_type, chunk_size=chunk_size
        )
    except AttachmentConflict:
        if await is_complete(session, sha256):  # here whole already, cut another way
            return Received(stored=False, complete=True)
        raise ChunkProblem("chunk_conflict", f"扫描件 {sha256[:12]} 已按另一种分块登记") from None
    except AttachmentError as problem:
        raise ChunkProblem("malformed", str(problem)) from None
    try:
        stored = await store_chunk(session, cipher, sha256=sha256, idx=index, data=data)
    except AttachmentCorrupt:
        raise ChunkProblem(
            "bad_file_hash", f"扫描件 {sha256[:12]} 收齐后与其名称（SHA-256）不符，已全部丢弃"
        ) from None
    except AttachmentError as problem:
        raise ChunkProblem("bad_chunk", str(problem)) from None
    return Received(stored=stored, complete=await is_complete(session, sha256))


async def holding(session: AsyncSession, sha256s: Iterable[str]) -> list[dict[str, Any]]:
    """What this node holds of each file: complete, or the chunk size it was declared with
    and the chunks still missing (`chunk_size` None: nothing of it is here yet)."""
    answer: list[dict[str, Any]] = []
    for sha256 in dict.fromkeys(sha256s):
        attachment = await session.get(Attachment, sha256)
        if attachment is None:
            answer.append({"sha256": sha256, "complete": False, "chunk_size": None, "missing": []})
            continue
        missing = await missing_chunks(session, sha256)
        answer.append(
            {
                "sha256": sha256,
                "complete": not missing,
                "chunk_size": attachment.chunk_size,
                "missing": missing,
            }
        )
    return answer


def wanted_indexes(entry: Mapping[str, Any], size: int) -> tuple[int, list[int]]:
    """From a `holding` entry, the chunk size to send with and the indexes still to send."""
    chunk_size = entry.get("chunk_size")
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        return TRANSFER_CHUNK, list(range(chunk_count(size, TRANSFER_CHUNK)))
    missing = entry.get("missing")
    wanted = [i for i in missing if isinstance(i, int)] if isinstance(missing, list) else []
    return chunk_size, wanted
