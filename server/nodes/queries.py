"""Read-only lookups of peers and their keys: what the relay asks before sealing or opening.

A key is usable for sealing when it is active (neither retired nor revoked) and its peer is
not revoked. A key is accepted as a sender when it is active, or retired less than
RETIRED_KEY_GRACE ago, and neither it nor its peer is revoked.
"""

from __future__ import annotations

import base64
import logging

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import utcnow
from server.nodes.models import RETIRED_KEY_GRACE, NodePeer, PeerKey
from sync.keys import PublicKeys

log = logging.getLogger("yichuang.nodes")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_keys_of(row: PeerKey) -> PublicKeys:
    """The stored row as PublicKeys (its id is recomputed, so a tampered row cannot pass)."""
    keys = PublicKeys(signing=_unb64(row.signing), receiving=_unb64(row.receiving))
    if keys.key_id.hex() != row.key_id:
        raise ValueError(f"peer_key {row.key_id}: the stored keys do not match their id")
    return keys


async def sender_keys(session: AsyncSession, key_id: bytes) -> tuple[NodePeer, PublicKeys] | None:
    """The peer and keys that signed with `key_id`; None if unknown, revoked, or long retired."""
    row = await session.get(PeerKey, key_id.hex())
    if row is None or row.revoked_at is not None:
        return None
    if row.retired_at is not None and row.retired_at <= utcnow() - RETIRED_KEY_GRACE:
        return None
    peer = await session.get(NodePeer, row.region_code)
    if peer is None or peer.revoked_at is not None:
        return None
    try:
        return peer, public_keys_of(row)
    except ValueError:
        # Someone edited the row: trust nothing signed in its name, and say so loudly.
        log.error(
            "peer_key %s of %s does not match its keys: refused", row.key_id, peer.region_code
        )
        return None


async def parent_peer(session: AsyncSession) -> NodePeer | None:
    """This node's parent (the county of a township), if enrolled and not revoked."""
    query = select(NodePeer).where(
        NodePeer.relation == "parent", col(NodePeer.revoked_at).is_(None)
    )
    return (await session.exec(query)).first()


async def peer_public_keys(session: AsyncSession, region_code: str) -> list[PublicKeys]:
    """A peer's active keys, newest first (the first is the one to seal to); [] if revoked."""
    peer = await session.get(NodePeer, region_code)
    if peer is None or peer.revoked_at is not None:
        return []
    rows = await active_keys(session, region_code)
    return [public_keys_of(row) for row in rows]


async def active_keys(session: AsyncSession, region_code: str) -> list[PeerKey]:
    """The rows behind `peer_public_keys`, newest first."""
    query = (
        select(PeerKey)
        .where(
            PeerKey.region_code == region_code,
            col(PeerKey.retired_at).is_(None),
            col(PeerKey.revoked_at).is_(None),
        )
        .order_by(col(PeerKey.added_at).desc(), col(PeerKey.key_id))
    )
    return list((await session.exec(query)).all())


async def child_peers(session: AsyncSession, *, include_revoked: bool = False) -> list[NodePeer]:
    """The townships enrolled with this county (not revoked, unless asked), by region code."""
    query = select(NodePeer).where(NodePeer.relation == "child")
    if not include_revoked:
        query = query.where(col(NodePeer.revoked_at).is_(None))
    return list((await session.exec(query.order_by(NodePeer.region_code))).all())


async def peer_keys(session: AsyncSession, region_code: str) -> list[PeerKey]:
    """Every key row of a peer, newest first (for the admin page)."""
    query = (
        select(PeerKey)
        .where(PeerKey.region_code == region_code)
        .order_by(col(PeerKey.added_at).desc(), col(PeerKey.key_id))
    )
    return list((await session.exec(query)).all())
