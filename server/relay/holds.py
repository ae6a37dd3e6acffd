"""Events held until their attachments are here ("材料仍在传输中").

An event whose body names a file (an `attach` event's `sha256`) is applied only once that file
is complete and verified on this node. Until then ingest keeps it in `sync_quarantine` with the
reason `awaiting_attachment`, and every later event of the same case that arrives meanwhile
with `after_held` (a case's events apply in order). They are acknowledged like any quarantined
event, so the sender's stream goes on; they are not errors: the chunk that completes the file
re-tries them, in the chain's order (`release_held`), and the case page says the materials are
still arriving while any is open.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.store import is_complete
from server.attachments.transfer import referenced_attachments
from server.crypto.fields import FieldCipher, FieldDecryptError
from server.db import utcnow
from server.nodes.models import NodePeer
from server.relay.models import SyncQuarantine

log = logging.getLogger("yichuang.sync")
AWAITING, AFTER_HELD = "awaiting_attachment", "after_held"
HOLD_REASONS = (AWAITING, AFTER_HELD)
EVIDENCE_CONTEXT = "sync_quarantine.evidence"  # as server/relay/ingest.py writes it


def _open_holds(case_id: str | None = None) -> Any:
    query = select(SyncQuarantine).where(
        col(SyncQuarantine.reason).in_(HOLD_REASONS), col(SyncQuarantine.resolved_at).is_(None)
    )
    return query if case_id is None else query.where(SyncQuarantine.case_id == case_id)


async def hold_reason(
    session: AsyncSession,
    fields: Mapping[str, Any],
    *,
    retrying: bool = False,
) -> tuple[str, str] | None:
    """Why this event must wait, as (reason, detail), or None when it may be applied now.

    `retrying`: the event is one of its case's held events, re-tried in order, so the holds of
    its case are its own and do not hold it back.
    """
    if not retrying:
        query = _open_holds(fields["case"]).where(SyncQuarantine.event_id != fields["id"])
        if (await session.exec(query.limit(1))).first() is not None:
            return AFTER_HELD, ""
    for sha256 in referenced_attachments(fields["kind"], fields["body"]):
        if not await is_complete(session, sha256):
            return AWAITING, sha256[:12]
    return None


def _event_of(cipher: FieldCipher, row: SyncQuarantine) -> dict[str, Any] | None:
    try:
        event = json.loads(cipher.decrypt(row.evidence, context=EVIDENCE_CONTEXT))
    except (FieldDecryptError, ValueError):
        return None
    return event if isinstance(event, dict) else None


async def awaited_attachments(
    session: AsyncSession, cipher: FieldCipher, *, peer: str, direction: str
) -> dict[str, str]:
    """The files the open holds of events from `peer` wait for: sha256 → the case's id."""
    query = _open_holds().where(
        SyncQuarantine.peer == peer,
        SyncQuarantine.direction == direction,
        SyncQuarantine.reason == AWAITING,
    )
    awaited: dict[str, str] = {}
    for row in (await session.exec(query.order_by(col(SyncQuarantine.id)))).all():
        event = _event_of(cipher, row)
        body = event.get("body") if event else None
        if event is None or not isinstance(body, dict):
            continue
        for sha256 in referenced_attachments(str(event.get("kind", "")), body):
            if not await is_complete(session, sha256):
                awaited.setdefault(sha256, row.case_id)
    return awaited


async def held_files(session: AsyncSession, cipher: FieldCipher) -> set[str]:
    """Every file an open hold's event names, whether it is complete here or still arriving:
    the held event needs it when it is re-tried."""
    named: set[str] = set()
    for row in (await session.exec(_open_holds())).all():
        event = _event_of(cipher, row)
        body = event.get("body") if event else None
        if event is not None and isinstance(body, dict):
            named.update(referenced_attachments(str(event.get("kind", "")), body))
    return named


async def arriving(session: AsyncSession, case_id: str) -> int:
    """How many events of the case wait for their materials (0: none)."""
    query = select(func.count()).select_from(_open_holds(case_id).subquery())
    return int((await session.exec(query)).one())


async def release_held(session: AsyncSession, cipher: FieldCipher) -> int:
    """Re-try every held event, case by case in the chain's order; returns how many applied.

    Called after a file completes. Per case, the first event that still cannot apply stops
    its case (it is held again, or quarantined for a real reason, and the others wait on).
    """
    from server.relay.ingest import ingest_events  # ingest calls hold_reason: import late

    rows = list((await session.exec(_open_holds().order_by(col(SyncQuarantine.id)))).all())
    cases: dict[tuple[str, str, str], list[tuple[int, SyncQuarantine, dict[str, Any]]]] = {}
    for row in rows:
        event = _event_of(cipher, row)
        if event is not None and isinstance(event.get("seq"), int):
            key = (row.peer, row.direction, row.case_id)
            cases.setdefault(key, []).append((event["seq"], row, event))
    applied = 0
    for (peer, direction, _case), held in cases.items():
        names = await session.get(NodePeer, peer)
        peer_name = names.name if names else peer
        held.sort(key=lambda entry: entry[0])
        if not await _ready(session, held[0][2]):
            continue
        for _seq, row, event in held:
            row_id, event_id = row.id, row.event_id
            result = await ingest_events(
                session,
                cipher,
                peer=peer,
                peer_name=peer_name,
                direction=direction,
                events=[event],
                retrying=True,
            )
            done = result.stored + result.repeated > 0
            if not done:
                # Held again for the same reason: the row stays. Another reason: a new row
                # holds it now, this one is done with.
                others = _open_holds_or_quarantine(event_id, row_id)
                done_with_row = (await session.exec(others)).first() is not None
                if done_with_row:
                    await _resolve(session, row_id)
                break
            applied += result.stored
            await _resolve(session, row_id)
    if applied:
        log.info("sync released %d held events", applied)
    return applied


async def _ready(session: AsyncSession, event: dict[str, Any]) -> bool:
    """Every file the event names is complete here (else re-trying it is no use yet)."""
    body = event.get("body")
    if not isinstance(body, dict):
        return True
    sha256s = referenced_attachments(str(event.get("kind", "")), body)
    return all([await is_complete(session, sha256) for sha256 in sha256s])


def _open_holds_or_quarantine(event_id: str, row_id: int | None) -> Any:
    return select(SyncQuarantine.id).where(
        SyncQuarantine.event_id == event_id,
        SyncQuarantine.id != row_id,
        col(SyncQuarantine.resolved_at).is_(None),
    )


async def _resolve(session: AsyncSession, row_id: int | None) -> None:
    row = await session.get(SyncQuarantine, row_id)
    if row is not None and row.resolved_at is None:
        row.resolved_at = utcnow()
        session.add(row)
        await session.commit()
