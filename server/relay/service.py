"""The parent's side of a sync request: open the child's envelope, apply or answer, seal back.

Authentication is the envelope alone: the sender's key id names the peer (`sender_keys`),
which must be an enrolled, unrevoked child; its signature is checked before anything is
decrypted (sync/envelope.py); an envelope id already seen is a replay. Whose feed a pull
reads is decided by that key, never by a field of the payload. Every refusal has a stable
reason code and a Chinese detail, and is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, TypeGuard

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from server.crypto.fields import FieldCipher
from server.db import utcnow
from server.nodes.keys import Keyring
from server.nodes.models import NodePeer
from server.nodes.queries import peer_public_keys, sender_keys
from server.relay.directory import answer_signer, note_sealed_to, take_announcement
from server.relay.feed import Batch, feed_for
from server.relay.ingest import ingest_events
from server.relay.models import SyncEnvelopeSeen
from server.relay.reference import feed_extras
from server.relay.state import do_move_cursor, skew_seconds, status_of
from server.relay.wire import WireError, decode, encode
from sync.envelope import MAGIC, EnvelopeRefused, open_envelope, seal
from sync.keys import KEY_ID_SIZE, PublicKeys

log = logging.getLogger("yichuang.sync")
MAX_ENVELOPE = 4 * 1024 * 1024
MAX_POSITION = 2**31 - 1  # sync_cursor.position is a 32-bit integer on PostgreSQL
_SENDER_AT = 16  # magic (4), version, suite, kind, compression (1 each), created ms (8)

REFUSALS: dict[str, tuple[int, str]] = {
    "malformed": (400, "数据包格式不正确，无法读取。"),
    "unsupported_version": (400, "数据包的格式版本不受支持，请升级系统。"),
    "unsupported_suite": (400, "数据包使用的密码算法不受支持。"),
    "decrypt_failed": (400, "数据包无法解密。"),
    "unknown_sender": (403, "发送方未登记或其密钥已被吊销。"),
    "bad_signature": (403, "数据包签名无效，内容可能在途中被改动。"),
    "not_a_recipient": (403, "本节点不是该数据包的接收方。"),
    "replay": (409, "这个数据包已经收到过（重放），不再处理。"),
    "too_large": (413, "数据包或其内容超过大小上限。"),
    "no_keys": (409, "本节点还没有对方的有效公钥，无法回复。"),
    "announce_refused": (403, "更换密钥的通知未通过验证（须由正在使用的密钥签名），未予登记。"),
}


class SyncRefused(Exception):
    """A request that is not served: `reason` (stable code), `status`, `detail` (Chinese)."""

    def __init__(self, reason: str, extra: str = "") -> None:
        self.reason = reason
        self.status, self.detail = REFUSALS[reason]
        super().__init__(f"{reason}: {extra}" if extra else reason)


@dataclass(frozen=True)
class Received:
    peer: NodePeer
    keys: PublicKeys
    payload: dict[str, Any]


def peek_sender(data: bytes) -> bytes:
    """The sender's key id from an envelope's fixed header, to look the sender up first.

    The signature is checked afterwards by `open_envelope` against the key found here.
    """
    if len(data) < _SENDER_AT + KEY_ID_SIZE + 1 or data[:4] != MAGIC:
        raise SyncRefused("malformed", "not an envelope")
    return data[_SENDER_AT : _SENDER_AT + KEY_ID_SIZE]


async def open_from_child(
    session: AsyncSession, keyring: Keyring, data: bytes, expected: str
) -> Received:
    """Check and open a child's envelope, record its id (replays are refused)."""
    if len(data) > MAX_ENVELOPE:
        raise SyncRefused("too_large", f"{len(data)} bytes")
    key_id = peek_sender(data)
    found = await sender_keys(session, key_id)
    if found is None or found[0].relation != "child":
        raise SyncRefused("unknown_sender", key_id.hex())
    peer, keys = found
    try:
        opened = open_envelope(
            data,
            me=list(keyring.all),
            sender_lookup=lambda asked: keys if asked == keys.key_id else None,
            max_size=MAX_ENVELOPE,
        )
    except EnvelopeRefused as refused:
        raise SyncRefused(refused.reason, refused.detail) from None
    try:
        payload = decode(opened.payload, expected)
    except WireError as problem:
        raise SyncRefused("malformed", str(problem)) from None
    if payload.get("from") != peer.region_code:
        raise SyncRefused("malformed", f"from {payload.get('from')!r} is not the sender's region")
    note_sealed_to(opened.recipients)  # the answer is signed by the key the child pins
    session.add(SyncEnvelopeSeen(envelope_id=opened.envelope_id, peer=peer.region_code))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise SyncRefused("replay", opened.envelope_id) from None
    return Received(peer=peer, keys=keys, payload=payload)


async def seal_to_peer(
    session: AsyncSession, keyring: Keyring, peer: str, payload: dict[str, Any]
) -> bytes:
    recipients = await peer_public_keys(session, peer)
    if not recipients:
        raise SyncRefused("no_keys", peer)
    return seal(encode(payload), sender=answer_signer(keyring), recipients=recipients[:1])


def is_position(value: object) -> TypeGuard[int]:
    """A cursor position as a payload may carry it: an integer the cursor column holds."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_POSITION


def _sent_at(payload: dict[str, Any]) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(str(payload.get("sent_at")))
    except ValueError:
        return None
    return value if value.tzinfo else None


async def _note_contact(session: AsyncSession, peer: str, payload: dict[str, Any]) -> None:
    now = utcnow()
    status = await status_of(session, peer)
    status.last_attempt_at = status.last_success_at = now
    status.last_error = ""
    if (sent := _sent_at(payload)) is not None:
        status.clock_skew_seconds = skew_seconds(sent, now)
    session.add(status)


async def serve_up(
    session: AsyncSession, cipher: FieldCipher, keyring: Keyring, data: bytes
) -> bytes:
    """A child's push: apply its events, record the cursor, answer with an ack."""
    child, answer = await apply_up(session, cipher, keyring, data)
    return await seal_to_peer(session, keyring, child.region_code, answer)


async def apply_up(
    session: AsyncSession, cipher: FieldCipher, keyring: Keyring, data: bytes
) -> tuple[NodePeer, dict[str, Any]]:
    """Open and apply a child's push (HTTP or bundle); returns the child and the ack payload."""
    received = await open_from_child(session, keyring, data, "up")
    child, payload = received.peer, received.payload
    await take_announcement(session, child, received.keys, payload)  # a rotation, if any
    events, upto = payload.get("events"), payload.get("upto")
    if not isinstance(events, list) or not is_position(upto):
        raise SyncRefused("malformed", "events must be a list and upto a cursor position")
    result = await ingest_events(
        session,
        cipher,
        peer=child.region_code,
        peer_name=child.name,
        direction="up",
        events=events,
    )
    await session.refresh(child)  # a quarantined event's rollback expired it
    await do_move_cursor(session, child.region_code, "up", upto)
    await _note_contact(session, child.region_code, payload)
    (await status_of(session, child.region_code)).pushed += result.stored
    await session.commit()
    log.info(
        "sync up from %s: %d stored, %d repeated, %d quarantined, upto %d",
        *(child.region_code, result.stored, result.repeated, result.quarantined, upto),
    )
    answer = {
        "type": "ack",
        "upto": upto,
        "stored": result.stored,
        "repeated": result.repeated,
        "quarantined": result.quarantined,
        "server_time": utcnow().isoformat(timespec="milliseconds"),
    }
    return child, answer


async def serve_down(
    session: AsyncSession, cipher: FieldCipher, keyring: Keyring, data: bytes
) -> bytes:
    """A child's pull: the next batch of its feed after the cursor it holds."""
    received = await open_from_child(session, keyring, data, "pull")
    child = received.peer
    cursor = await note_pull(session, received)
    batch = await feed_for(session, cipher, child=child.region_code, after=cursor)
    extra = await feed_extras(session, keyring, received.payload)  # keys, catalogue, calendar
    (await status_of(session, child.region_code)).pulled += len(batch.events)
    await session.commit()
    answer = feed_payload(batch) | extra.payload
    answer["more"] = batch.more or extra.more
    return await seal_to_peer(session, keyring, child.region_code, answer)


async def note_pull(session: AsyncSession, received: Received) -> int:
    """Record the down cursor an opened pull reports (not committed); returns it."""
    cursor = received.payload.get("cursor")
    if not is_position(cursor):
        raise SyncRefused("malformed", f"cursor must be an integer from 0 to {MAX_POSITION}")
    # What the child says it holds is what it stored (its cursor moves after its commit).
    await do_move_cursor(session, received.peer.region_code, "down", cursor)
    await _note_contact(session, received.peer.region_code, received.payload)
    return cursor


def feed_payload(batch: Batch) -> dict[str, Any]:
    """One batch of a child's feed as it travels (the answer to a pull)."""
    return {
        "type": "feed",
        "events": batch.events,
        "cursor": batch.upto,
        "more": batch.more,
        "server_time": utcnow().isoformat(timespec="milliseconds"),
    }
