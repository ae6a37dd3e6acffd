"""Pinning a peer's public keys, and rolling them when the peer announces new ones.

Which key of a peer is in force: the newest active one. When a new generation is pinned the
earlier ones become retired (rotation: their signatures still count for RETIRED_KEY_GRACE, so
envelopes already on their way still open) or revoked (re-enrolment: the peer started over, so
nothing signed by its old keys is trusted any more). Re-recording a known key changes nothing,
so an announcement that arrives twice, or late, is harmless.
"""

from __future__ import annotations

import base64
from typing import Literal

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.db import utcnow
from server.nodes.models import NodePeer, PeerKey
from sync.keys import PublicKeys


class PeerKeyRefused(Exception):
    """A key that cannot be recorded; `message` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


async def do_add_peer_key(
    *,
    session: AsyncSession,
    region_code: str,
    keys: PublicKeys,
    replace: Literal["retire", "revoke"],
) -> PeerKey:
    """Make `keys` the peer's key in force; the others are retired or revoked. No commit.

    A key that is already the peer's is kept as it is (a revoked one stays revoked).
    """
    key_id = keys.key_id.hex()
    row = await session.get(PeerKey, key_id)
    if row is not None:
        if row.region_code != region_code:
            raise PeerKeyRefused(f"密钥 {key_id} 已登记在 {row.region_code} 名下")
        if replace == "retire" or row.revoked_at is not None:
            return row  # a repeated or late announcement: nothing to do
    now = utcnow()
    others = (col(PeerKey.region_code) == region_code, col(PeerKey.key_id) != key_id)
    if replace == "revoke":
        await session.exec(
            update(PeerKey).where(*others, col(PeerKey.revoked_at).is_(None)).values(revoked_at=now)
        )
    else:
        await session.exec(
            update(PeerKey)
            .where(*others, col(PeerKey.retired_at).is_(None), col(PeerKey.revoked_at).is_(None))
            .values(retired_at=now)
        )
    if row is None:
        row = PeerKey(
            key_id=key_id,
            region_code=region_code,
            signing=_b64(keys.signing),
            receiving=_b64(keys.receiving),
            added_at=now,
        )
    row.retired_at = None
    session.add(row)
    await session.flush()
    return row


async def do_record_peer_key(session: AsyncSession, region_code: str, keys: PublicKeys) -> PeerKey:
    """A peer announced a new generation of keys (rotation); commits.

    The relay calls this only after opening the announcement, an envelope signed by a key the
    peer already had, so the new key is the peer's own word. The earlier keys are retired, not
    revoked. Refused (PeerKeyRefused) for an unknown or revoked peer, and for a key already
    revoked or held by another peer. Recording a key already known is a no-op: announcements
    may arrive twice or out of order, and an older key never comes back into force.
    """
    peer = await session.get(NodePeer, region_code)
    if peer is None:
        raise PeerKeyRefused(f"{region_code} 不是已接入的节点")
    if peer.revoked_at is not None:
        raise PeerKeyRefused(f"{peer.name}（{region_code}）已被吊销，不再接受它的密钥")
    known = await session.get(PeerKey, keys.key_id.hex())
    if known is not None and known.revoked_at is not None:
        raise PeerKeyRefused(f"密钥 {known.key_id} 已被吊销，不再接受")
    row = await do_add_peer_key(
        session=session, region_code=region_code, keys=keys, replace="retire"
    )
    if known is None:
        do_record_audit(
            session=session,
            actor_id=None,
            action="node.key_rotated",
            target=region_code,
            key_id=row.key_id,
        )
    await session.commit()
    return row
