"""Storing and reading attachments: whole files at the window, one chunk at a time from sync.

The only code that touches `attachment` and `attachment_chunk`. Invariants:

- A file is named by the SHA-256 (lower-case hex) of its plain bytes; storing the same file or
  the same chunk again is a no-op, so a repeated upload or a re-sent batch is harmless.
- It is cut into `CHUNK_BYTES` chunks (the last one shorter); each is sealed on its own with
  AES-256-GCM under a key derived from the node's data key, the file's hash and the chunk's
  index bound as associated data, so a chunk moved to another place or file does not open.
- A declaration (`declare_attachment`) comes first: size, media type, chunk size. A chunk must
  have exactly the length the declaration implies, and chunk 0 must begin with the declared
  type's magic bytes. When the last missing chunk arrives, the whole file is hashed; a file
  that does not match its name loses every chunk (so they can be sent again) and
  `AttachmentCorrupt` is raised. Hence "complete" means "complete and verified".
- Reading checks the SHA-256 again at the end: what the database gives back is trusted only
  once it hashes to its name.

- A file is dropped (`drop_attachments`: its chunks and its declaration) only when an agent's
  upload of it goes, withdrawn or abandoned (server/agent/upload_limits.py `remove_uploads`),
  and only once nothing names it: no other upload, no case's `attach` event, no event held for
  it.

Nothing here commits: the caller's transaction decides, as with `append_event`. Nothing here
checks who asks either: a file is reached only through a case (server/attachments/access.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Collection

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.media import MAX_BYTES, MEDIA_TYPES, sniff_media_type
from server.attachments.models import Attachment, AttachmentChunk
from server.crypto.fields import FieldCipher, FieldDecryptError

CHUNK_BYTES = 256 * 1024
MIN_CHUNK_BYTES, MAX_CHUNK_BYTES = 4 * 1024, 1024 * 1024  # what a declaration may say
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class AttachmentError(Exception):
    """Something about an attachment is not as it must be; the message is for developers."""


class UnknownAttachment(AttachmentError):
    """No attachment of this name is declared here."""


class AttachmentConflict(AttachmentError):
    """The attachment is declared already, with other facts."""


class ChunkRefused(AttachmentError):
    """A chunk that cannot belong to the declared file: its index, length or first bytes."""


class AttachmentCorrupt(AttachmentError):
    """The bytes do not hash to the file's name, or a chunk does not open."""


class AttachmentIncomplete(AttachmentError):
    """Some chunks have not arrived yet."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_count(size: int, chunk_size: int = CHUNK_BYTES) -> int:
    """How many chunks a file of `size` bytes is cut into."""
    return -(-size // chunk_size)


def chunk_length(attachment: Attachment, idx: int) -> int:
    """The plain length chunk `idx` must have."""
    if idx < attachment.chunk_count - 1:
        return attachment.chunk_size
    return attachment.size - attachment.chunk_size * (attachment.chunk_count - 1)


def _associated(sha256: str, idx: int) -> bytes:
    return f"attachment_chunk\x00{sha256}\x00{idx}".encode()


async def declare_attachment(
    session: AsyncSession,
    *,
    sha256: str,
    size: int,
    media_type: str,
    chunk_size: int = CHUNK_BYTES,
) -> Attachment:
    """Record a file whose chunks will follow; a repeat with the same facts is a no-op."""
    if not SHA256_HEX.fullmatch(sha256):
        raise AttachmentError(f"not a lower-case hex SHA-256: {sha256!r}")
    if not 1 <= size <= MAX_BYTES:
        raise AttachmentError(f"size {size} is outside 1..{MAX_BYTES}")
    if media_type not in MEDIA_TYPES:
        raise AttachmentError(f"media type {media_type!r} is not accepted")
    if not MIN_CHUNK_BYTES <= chunk_size <= MAX_CHUNK_BYTES:
        raise AttachmentError(f"chunk size {chunk_size} is outside the accepted range")
    wanted = Attachment(
        sha256=sha256,
        size=size,
        media_type=media_type,
        chunk_size=chunk_size,
        chunk_count=chunk_count(size, chunk_size),
    )
    existing = await session.get(Attachment, sha256)
    if existing is None:
        try:
            async with session.begin_nested():
                session.add(wanted)
            return wanted
        except IntegrityError:  # declared by another request in the meantime
            existing = await session.get(Attachment, sha256)
            if existing is None:
                raise
    facts = ("size", "media_type", "chunk_size")
    if any(getattr(existing, f) != getattr(wanted, f) for f in facts):
        raise AttachmentConflict(f"{sha256} is declared already with other facts")
    return existing


async def _declared(session: AsyncSession, sha256: str, *, lock: bool = False) -> Attachment:
    attachment = await session.get(Attachment, sha256, with_for_update=lock or None)
    if attachment is None:
        raise UnknownAttachment(f"no attachment {sha256} is declared")
    return attachment


async def _put_chunk(
    session: AsyncSession, cipher: FieldCipher, attachment: Attachment, idx: int, data: bytes
) -> bool:
    if not 0 <= idx < attachment.chunk_count:
        raise ChunkRefused(f"chunk {idx} of {attachment.sha256}: it has {attachment.chunk_count}")
    if len(data) != chunk_length(attachment, idx):
        raise ChunkRefused(
            f"chunk {idx} of {attachment.sha256} has {len(data)} bytes, "
            f"not {chunk_length(attachment, idx)}"
        )
    if idx == 0 and sniff_media_type(data) != attachment.media_type:
        raise ChunkRefused(f"{attachment.sha256} does not begin as {attachment.media_type}")
    if await session.get(AttachmentChunk, (attachment.sha256, idx)) is not None:
        return False
    sealed = cipher.seal_bytes(data, associated=_associated(attachment.sha256, idx))
    try:
        async with session.begin_nested():
            session.add(AttachmentChunk(sha256=attachment.sha256, idx=idx, sealed=sealed))
    except IntegrityError:
        return False  # stored by another request in the meantime
    return True


async def store_chunk(
    session: AsyncSession, cipher: FieldCipher, *, sha256: str, idx: int, data: bytes
) -> bool:
    """Store one chunk (plain bytes) of a declared file; False when it was there already.

    The chunk that completes the file has the whole verified: on a mismatch every chunk is
    dropped and `AttachmentCorrupt` raised. The file's row is locked (PostgreSQL; SQLite has one
    writer) so that two requests bringing its last chunks at once cannot both see the other's
    as missing and leave the whole unverified.
    """
    attachment = await _declared(session, sha256, lock=True)
    added = await _put_chunk(session, cipher, attachment, idx, data)
    if added and not await missing_chunks(session, sha256):
        try:
            await read_attachment(session, cipher, sha256)
        except AttachmentCorrupt:
            await session.exec(delete(AttachmentChunk).where(col(AttachmentChunk.sha256) == sha256))
            raise
    return added


async def store_blob(
    session: AsyncSession, cipher: FieldCipher, data: bytes, *, media_type: str
) -> Attachment:
    """Store a whole file (declare it and every chunk); a file stored already is a no-op.

    A file declared here already is complete (as sync or a phone cut it: any chunk size, kept)
    or not; if not, its declaration and chunks may have come from anyone, but these bytes hash
    to the name: they replace whatever is there, in its chunk size (an upload under way finds
    its chunks present)."""
    sha256 = sha256_of(data)
    existing = await session.get(Attachment, sha256, with_for_update=True)
    if existing is None:
        attachment = await declare_attachment(
            session, sha256=sha256, size=len(data), media_type=media_type
        )
    elif await is_complete(session, sha256):
        return existing
    else:
        await session.exec(delete(AttachmentChunk).where(col(AttachmentChunk.sha256) == sha256))
        existing.size, existing.media_type = len(data), media_type
        existing.chunk_count = chunk_count(len(data), existing.chunk_size)
        session.add(existing)
        attachment = existing
    step = attachment.chunk_size
    for idx in range(attachment.chunk_count):
        await _put_chunk(session, cipher, attachment, idx, data[idx * step : (idx + 1) * step])
    return attachment


async def lock_attachments(session: AsyncSession, sha256s: Collection[str]) -> list[str]:
    """Lock these files' declarations (PostgreSQL; SQLite has one writer), in a fixed order so
    that two callers cannot deadlock; the names of those declared here."""
    query = (
        select(Attachment.sha256)
        .where(col(Attachment.sha256).in_(sorted(sha256s)))
        .order_by(col(Attachment.sha256))
        .with_for_update()
    )
    return list((await session.exec(query)).all())


async def drop_attachments(session: AsyncSession, sha256s: Collection[str]) -> None:
    """Delete these files' chunks and declarations. The caller has locked them
    (`lock_attachments`) and made sure, after taking the locks, that nothing names them."""
    if not sha256s:
        return
    names = col(AttachmentChunk.sha256).in_(sorted(sha256s))
    await session.exec(delete(AttachmentChunk).where(names))
    await session.exec(delete(Attachment).where(col(Attachment.sha256).in_(sorted(sha256s))))


async def missing_chunks(session: AsyncSession, sha256: str) -> list[int]:
    """The indexes of a declared file's chunks not stored yet, in order."""
    attachment = await _declared(session, sha256)
    query = select(AttachmentChunk.idx).where(col(AttachmentChunk.sha256) == sha256)
    present = set((await session.exec(query)).all())
    return [idx for idx in range(attachment.chunk_count) if idx not in present]


async def is_complete(session: AsyncSession, sha256: str) -> bool:
    """Declared here and every chunk stored (and so verified)."""
    attachment = await session.get(Attachment, sha256)
    if attachment is None:
        return False
    query = select(func.count()).where(col(AttachmentChunk.sha256) == sha256)
    return (await session.exec(query)).one() == attachment.chunk_count


async def read_chunk(session: AsyncSession, cipher: FieldCipher, *, sha256: str, idx: int) -> bytes:
    """One chunk's plain bytes (to send it on); `AttachmentIncomplete` if it is not here."""
    query = select(AttachmentChunk.sealed).where(
        col(AttachmentChunk.sha256) == sha256, col(AttachmentChunk.idx) == idx
    )
    sealed = (await session.exec(query)).one_or_none()
    if sealed is None:
        raise AttachmentIncomplete(f"chunk {idx} of {sha256} is not here")
    try:
        return cipher.open_bytes(sealed, associated=_associated(sha256, idx))
    except FieldDecryptError as exc:
        raise AttachmentCorrupt(f"chunk {idx} of {sha256} does not open") from exc


async def stream_attachment(
    session: AsyncSession, cipher: FieldCipher, sha256: str
) -> AsyncIterator[bytes]:
    """The file's plain bytes chunk by chunk; after the last one, `AttachmentCorrupt` if they
    do not hash to the name (a consumer must not trust the bytes before the end)."""
    attachment = await _declared(session, sha256)
    digest = hashlib.sha256()
    for idx in range(attachment.chunk_count):
        data = await read_chunk(session, cipher, sha256=sha256, idx=idx)
        digest.update(data)
        yield data
    if digest.hexdigest() != sha256:
        raise AttachmentCorrupt(f"{sha256}: the stored bytes hash to {digest.hexdigest()}")


async def read_attachment(session: AsyncSession, cipher: FieldCipher, sha256: str) -> bytes:
    """The whole file, verified (files are at most `MAX_BYTES`, so memory is bounded)."""
    return b"".join([part async for part in stream_attachment(session, cipher, sha256)])
