"""Cursors and link status: small writes the streams and the sync page share."""

from __future__ import annotations

import datetime as dt

from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import utcnow
from server.relay.models import SyncCursor, SyncStatus


async def cursor_of(session: AsyncSession, peer: str, direction: str) -> int:
    row = await session.get(SyncCursor, (peer, direction))
    return row.position if row else 0


async def do_move_cursor(session: AsyncSession, peer: str, direction: str, position: int) -> None:
    """Move a cursor forward (never back: a late, duplicated answer must not undo progress)."""
    row = await session.get(SyncCursor, (peer, direction))
    if row is None:
        row = SyncCursor(peer=peer, direction=direction, position=0)
    if position > row.position:
        row.position = position
        row.updated_at = utcnow()
    session.add(row)


async def status_of(session: AsyncSession, peer: str) -> SyncStatus:
    row = await session.get(SyncStatus, peer)
    if row is None:
        row = SyncStatus(peer=peer)
        session.add(row)
    return row


MAX_SKEW_S = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL (about 68 years)


def skew_seconds(remote: dt.datetime, local: dt.datetime) -> int:
    """The remote clock minus the local one, in whole seconds (a clock set to year 1 or 9999
    is shown as the largest skew the column holds)."""
    return max(-MAX_SKEW_S, min(MAX_SKEW_S, round((remote - local).total_seconds())))
