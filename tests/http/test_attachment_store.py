"""The attachment store on both databases: whole files, chunks one at a time (as sync will
send them), repeats as no-ops, and chunks that were swapped, corrupted or never sent."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from server.attachments.models import AttachmentChunk
from server.attachments.store import (
    CHUNK_BYTES,
    AttachmentConflict,
    AttachmentCorrupt,
    AttachmentError,
    AttachmentIncomplete,
    ChunkRefused,
    UnknownAttachment,
    chunk_count,
    declare_attachment,
    is_complete,
    missing_chunks,
    read_attachment,
    read_chunk,
    store_blob,
    store_chunk,
    stream_attachment,
)
from server.settings import Settings
from tests.scan_files import tiny_png

MARKER = b"SCAN-MARKER-4711"


def big_png() -> bytes:
    """A PNG head and 600 KiB after it: three chunks, the last one short."""
    return tiny_png(MARKER) + os.urandom(600 * 1024)


def pieces(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]


async def test_a_whole_file_is_stored_in_sealed_chunks_and_reads_back(app: Starlette) -> None:
    data = big_png()
    sha = hashlib.sha256(data).hexdigest()
    async with app.state.db.session() as session:
        stored = await store_blob(session, app.state.cipher, data, media_type="image/png")
        await session.commit()
        assert (stored.sha256, stored.size, stored.chunk_count) == (sha, len(data), 3)
        assert stored.chunk_size == CHUNK_BYTES == 256 * 1024
        again = await store_blob(session, app.state.cipher, data, media_type="image/png")
        await session.commit()
        assert again.sha256 == sha
        assert await is_complete(session, sha) and await missing_chunks(session, sha) == []
        assert await read_attachment(session, app.state.cipher, sha) == data
        streamed = [part async for part in stream_attachment(session, app.state.cipher, sha)]
        assert streamed == pieces(data)
        assert await read_chunk(session, app.state.cipher, sha256=sha, idx=2) == pieces(data)[2]
        sealed = (await session.exec(select(AttachmentChunk.sealed))).all()
    assert len(sealed) == 3 and all(MARKER not in s and data[:64] not in s for s in sealed)


async def test_chunks_arrive_in_any_order_and_repeats_change_nothing(app: Starlette) -> None:
    data = big_png()
    sha = hashlib.sha256(data).hexdigest()
    cipher = app.state.cipher
    async with app.state.db.session() as session:
        with pytest.raises(UnknownAttachment):
            await missing_chunks(session, sha)
        assert not await is_complete(session, sha)
        await declare_attachment(session, sha256=sha, size=len(data), media_type="image/png")
        await declare_attachment(session, sha256=sha, size=len(data), media_type="image/png")
        await session.commit()
        assert await missing_chunks(session, sha) == [0, 1, 2]
        assert await store_chunk(session, cipher, sha256=sha, idx=2, data=pieces(data)[2])
        assert not await store_chunk(session, cipher, sha256=sha, idx=2, data=pieces(data)[2])
        assert await store_chunk(session, cipher, sha256=sha, idx=0, data=pieces(data)[0])
        await session.commit()
        assert await missing_chunks(session, sha) == [1]
        assert not await is_complete(session, sha)
        with pytest.raises(AttachmentIncomplete):
            await read_attachment(session, cipher, sha)
        assert await store_chunk(session, cipher, sha256=sha, idx=1, data=pieces(data)[1])
        await session.commit()
        assert await is_complete(session, sha)
        assert await read_attachment(session, cipher, sha) == data


async def test_chunks_that_cannot_belong_are_refused(app: Starlette) -> None:
    data = big_png()
    sha = hashlib.sha256(data).hexdigest()
    cipher = app.state.cipher
    async with app.state.db.session() as session:
        with pytest.raises(UnknownAttachment):
            await store_chunk(session, cipher, sha256=sha, idx=0, data=pieces(data)[0])
        await declare_attachment(session, sha256=sha, size=len(data), media_type="image/png")
        with pytest.raises(AttachmentConflict):
            await declare_attachment(session, sha256=sha, size=len(data), media_type="image/jpeg")
        for idx, chunk in ((3, pieces(data)[2]), (-1, pieces(data)[0]), (1, pieces(data)[2])):
            with pytest.raises(ChunkRefused):
                await store_chunk(session, cipher, sha256=sha, idx=idx, data=chunk)
        with pytest.raises(ChunkRefused):  # a first chunk that is no PNG
            await store_chunk(session, cipher, sha256=sha, idx=0, data=b"x" * CHUNK_BYTES)
        for bad in (
            {"sha256": sha.upper(), "size": 10, "media_type": "image/png"},
            {"sha256": sha, "size": 0, "media_type": "image/png"},
            {"sha256": sha, "size": 11 * 1024 * 1024, "media_type": "image/png"},
            {"sha256": sha, "size": 10, "media_type": "text/html"},
        ):
            with pytest.raises(AttachmentError):
                await declare_attachment(session, **bad)  # type: ignore[arg-type]
        assert await missing_chunks(session, sha) == [0, 1, 2]


async def test_a_file_that_does_not_match_its_name_loses_its_chunks(app: Starlette) -> None:
    data = big_png()
    other = bytearray(data)
    other[-1] ^= 1
    sha = hashlib.sha256(data).hexdigest()
    cipher = app.state.cipher
    async with app.state.db.session() as session:
        await declare_attachment(session, sha256=sha, size=len(data), media_type="image/png")
        for idx in (0, 1):
            await store_chunk(session, cipher, sha256=sha, idx=idx, data=pieces(data)[idx])
        with pytest.raises(AttachmentCorrupt):
            await store_chunk(session, cipher, sha256=sha, idx=2, data=pieces(bytes(other))[2])
        await session.commit()  # the drop is part of the caller's transaction
        assert await missing_chunks(session, sha) == [0, 1, 2]
        for idx in (0, 1, 2):
            await store_chunk(session, cipher, sha256=sha, idx=idx, data=pieces(data)[idx])
        await session.commit()
        assert await read_attachment(session, cipher, sha) == data


async def test_last_chunks_brought_at_once_still_have_the_whole_checked(
    app: Starlette, settings: Settings
) -> None:
    """Two requests each bring one of the last chunks, neither committed yet: without a lock
    each sees the other's chunk missing, checks nothing, and a wrong file ends up complete.
    (SQLite has one writer at a time, so only PostgreSQL can interleave them.)"""
    if settings.effective_database_url.startswith("sqlite"):
        pytest.skip("SQLite lets one writer in at a time")
    data = big_png()
    other = bytearray(data)
    other[-1] ^= 1
    sha = hashlib.sha256(data).hexdigest()
    cipher, db = app.state.cipher, app.state.db
    async with db.session() as session:
        await declare_attachment(session, sha256=sha, size=len(data), media_type="image/png")
        await store_chunk(session, cipher, sha256=sha, idx=0, data=pieces(data)[0])
        await session.commit()

    async def bring(idx: int, part: bytes) -> None:
        async with db.session() as session:
            await store_chunk(session, cipher, sha256=sha, idx=idx, data=part)
            await session.commit()

    async with db.session() as first:
        await store_chunk(first, cipher, sha256=sha, idx=1, data=pieces(data)[1])
        second = asyncio.create_task(bring(2, pieces(bytes(other))[2]))
        await asyncio.sleep(0.3)  # let the second request reach its store (it waits on the lock)
        await first.commit()
    with pytest.raises(AttachmentCorrupt):
        await second
    async with db.session() as session:
        assert not await is_complete(session, sha)


async def test_a_whole_file_declared_already_another_way_is_stored_or_taken_as_it_is(
    app: Starlette,
) -> None:
    """The window's upload of a file that came by sync or from a phone (other chunk sizes),
    or whose declaration or first chunks someone sent falsely: the bytes in hand hash to the
    name, so they win, and the file reads back whole."""
    cipher = app.state.cipher
    synced, squatted, poisoned = big_png(), big_png(), big_png()
    async with app.state.db.session() as session:
        # Complete already, in 32 KiB chunks (as sync stores it): taken as it is.
        await declare_attachment(
            session,
            sha256=sha256(synced),
            size=len(synced),
            media_type="image/png",
            chunk_size=32 * 1024,
        )
        for idx in range(chunk_count(len(synced), 32 * 1024)):
            part = synced[idx * 32 * 1024 : (idx + 1) * 32 * 1024]
            await store_chunk(session, cipher, sha256=sha256(synced), idx=idx, data=part)
        stored = await store_blob(session, cipher, synced, media_type="image/png")
        assert stored.chunk_size == 32 * 1024
        # Declared with a size it cannot have (it would never complete): replaced.
        await declare_attachment(
            session, sha256=sha256(squatted), size=len(squatted) - 1, media_type="image/png"
        )
        await store_blob(session, cipher, squatted, media_type="image/png")
        # One chunk sent with wrong bytes of the right length: not kept.
        await declare_attachment(
            session, sha256=sha256(poisoned), size=len(poisoned), media_type="image/png"
        )
        await store_chunk(session, cipher, sha256=sha256(poisoned), idx=1, data=b"x" * CHUNK_BYTES)
        await store_blob(session, cipher, poisoned, media_type="image/png")
        await session.commit()
        for data in (synced, squatted, poisoned):
            assert await read_attachment(session, cipher, sha256(data)) == data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_swapped_or_corrupted_chunks_do_not_open(app: Starlette) -> None:
    data = big_png()
    sha = hashlib.sha256(data).hexdigest()
    cipher = app.state.cipher
    async with app.state.db.session() as session:
        await store_blob(session, cipher, data, media_type="image/png")
        await session.commit()
        sealed = dict(
            (await session.exec(select(AttachmentChunk.idx, AttachmentChunk.sealed))).all()
        )
        where = (col(AttachmentChunk.sha256) == sha,)
        # Someone with the database swaps chunks 0 and 1 (same length: both are full chunks).
        for idx, value in ((0, sealed[1]), (1, sealed[0])):
            await session.exec(
                update(AttachmentChunk)
                .where(*where, col(AttachmentChunk.idx) == idx)
                .values(sealed=value)
            )
        await session.commit()
        with pytest.raises(AttachmentCorrupt):
            await read_chunk(session, cipher, sha256=sha, idx=0)
        with pytest.raises(AttachmentCorrupt):
            await read_attachment(session, cipher, sha)
        # Put them back, then flip one bit of the last chunk's ciphertext.
        flipped = bytearray(sealed[2])
        flipped[40] ^= 0x01
        for idx, value in ((0, sealed[0]), (1, sealed[1]), (2, bytes(flipped))):
            await session.exec(
                update(AttachmentChunk)
                .where(*where, col(AttachmentChunk.idx) == idx)
                .values(sealed=value)
            )
        await session.commit()
        assert await read_chunk(session, cipher, sha256=sha, idx=0) == pieces(data)[0]
        with pytest.raises(AttachmentCorrupt):
            await read_attachment(session, cipher, sha)


def test_chunk_count() -> None:
    assert [chunk_count(n) for n in (1, CHUNK_BYTES, CHUNK_BYTES + 1, 10 * 1024 * 1024)] == [
        1,
        1,
        2,
        40,
    ]
