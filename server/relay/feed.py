"""What a node sends: the up stream's pending events and the down feed for one child.

Both read the node's `sync_log` after a cursor, in order, and cut the run into one batch
under the byte budget (sync/batching.py); `upto` is the last log seq in the batch, which the
other side acknowledges and the cursor moves to.

- Up (child → parent): every logged event that did not come from the parent.
- Down (parent → child): events of cases whose centre lies within the child's region, except
  those the child itself sent. The child is the sender of the pull envelope, never a field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.cases.models import CaseEvent, CaseRecord
from server.crypto.fields import FieldCipher
from server.relay.models import SyncLog
from server.relay.wire import event_to_wire, wire_size
from sync.batching import DEFAULT_BUDGET, batch_ranges

SCAN = 100  # log rows read (and opened) at a time; a batch never holds more
PAYLOAD_OVERHEAD = 200  # the payload's other fields


@dataclass(frozen=True)
class Batch:
    events: list[dict[str, Any]]
    upto: int  # the last sync_log seq in the batch (the cursor's next position)
    more: bool  # rows remain after this batch
    size: int  # bytes of the events in canonical JSON


def _region_prefix(region: str) -> str:
    """The prefix every org unit within a region shares (township: 9 digits, county: 6)."""
    return region[:6] if len(region) == 6 else region[:9]


async def pending_up(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    parent: str,
    after: int,
    budget: int = DEFAULT_BUDGET,
) -> Batch:
    query = (
        select(SyncLog, CaseEvent)
        .join(CaseEvent, col(CaseEvent.id) == col(SyncLog.event_id))
        .where(col(SyncLog.seq) > after, SyncLog.origin != parent)
        .order_by(col(SyncLog.seq))
        .limit(SCAN + 1)
    )
    return _cut(cipher, list((await session.exec(query)).all()), budget, after)


async def feed_for(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    child: str,
    after: int,
    budget: int = DEFAULT_BUDGET,
) -> Batch:
    query = (
        select(SyncLog, CaseEvent)
        .join(CaseEvent, col(CaseEvent.id) == col(SyncLog.event_id))
        .join(CaseRecord, col(CaseRecord.id) == col(SyncLog.case_id))
        .where(
            col(SyncLog.seq) > after,
            SyncLog.origin != child,
            col(CaseRecord.org_unit_code).startswith(_region_prefix(child)),
        )
        .order_by(col(SyncLog.seq))
        .limit(SCAN + 1)
    )
    return _cut(cipher, list((await session.exec(query)).all()), budget, after)


def _cut(
    cipher: FieldCipher, rows: list[tuple[SyncLog, CaseEvent]], budget: int, after: int
) -> Batch:
    if not rows:
        return Batch(events=[], upto=after, more=False, size=0)
    more = len(rows) > SCAN
    rows = rows[:SCAN]
    events = [event_to_wire(cipher, event) for _log, event in rows]
    sizes = [wire_size(event) for event in events]
    first = batch_ranges(sizes, budget=budget, per_batch=PAYLOAD_OVERHEAD)[0]
    more = more or len(first) < len(rows)
    return Batch(
        events=events[first.start : first.stop],
        upto=rows[first.stop - 1][0].seq or after,
        more=more,
        size=sum(sizes[first.start : first.stop]),
    )


async def pending_count(session: AsyncSession, *, parent: str, after: int) -> int:
    """How many events wait to go up (for the sync page)."""
    query = select(func.count()).where(col(SyncLog.seq) > after, SyncLog.origin != parent)
    return int((await session.exec(query)).one())
