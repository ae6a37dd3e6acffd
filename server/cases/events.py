"""Writing and reading case events: the only code that touches `case_event`.

`append_event` links the new event to the case's last hash and stores its body encrypted;
`store_received_event` stores one that came from another node (server/relay/ingest.py);
both enter the event in the node's sync log;
`verify_cases` recomputes every chain (sync/chain.py) and says which case broke and where.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.cases.models import CaseEvent, CaseRecord
from server.crypto.fields import FieldCipher, FieldDecryptError
from server.relay.clock import stamp_local
from server.relay.models import SyncLog
from sync.chain import ChainBreak, canonical, event_hash, verify_chain
from sync.ids import uuid7

BODY_CONTEXT = "case_event.body"


def event_fields(event: CaseEvent, body: Mapping[str, Any]) -> dict[str, Any]:
    """The event in the canonical form its hash is over."""
    return {
        "id": event.id,
        "case": event.case_id,
        "seq": event.seq,
        "kind": event.kind,
        "actor": event.actor,
        "node": event.node,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "body": dict(body),
        "prev": event.prev_hash,
    }


def append_event(
    session: AsyncSession,
    cipher: FieldCipher,
    case: CaseRecord,
    *,
    kind: str,
    actor: str,
    node: str,
    body: Mapping[str, Any],
    at: dt.datetime,
) -> CaseEvent:
    """Add the case's next event to the session (the caller commits with the projection)."""
    event = CaseEvent(
        id=str(uuid7()),
        case_id=case.id,
        seq=case.last_seq + 1,
        kind=kind,
        actor=actor,
        node=node,
        at=at.astimezone(dt.UTC),
        prev_hash=case.last_hash,
        hash="",
        body_enc=cipher.encrypt(canonical(dict(body)).decode(), context=BODY_CONTEXT),
        hlc=stamp_local(node),
    )
    event.hash = event_hash(event_fields(event, body))
    case.last_seq, case.last_hash = event.seq, event.hash
    session.add(event)
    session.add(case)
    # Goes up from here.
    session.add(SyncLog(event_id=event.id, case_id=case.id, origin=node, hlc=event.hlc))
    return event


def store_received_event(
    session: AsyncSession,
    cipher: FieldCipher,
    case: CaseRecord,
    fields: Mapping[str, Any],
    *,
    origin: str,
    hlc: str = "",
    logged_hlc: str = "",
) -> CaseEvent:
    """Add an event another node made (its canonical `fields`, already checked against the
    case's chain by the caller): the body encrypted with this node's key, the log row naming
    the peer it came from. `hlc` is the stamp the event came with, `logged_hlc` this node's
    stamp for receiving it (server/relay/clock.py). The caller commits with the projection.
    """
    event = CaseEvent(
        id=fields["id"],
        case_id=case.id,
        seq=fields["seq"],
        kind=fields["kind"],
        actor=fields["actor"],
        node=fields["node"],
        at=dt.datetime.fromisoformat(fields["at"]).astimezone(dt.UTC),
        prev_hash=fields["prev"],
        hash=event_hash(dict(fields)),
        body_enc=cipher.encrypt(canonical(dict(fields["body"])).decode(), context=BODY_CONTEXT),
        hlc=hlc,
    )
    case.last_seq, case.last_hash = event.seq, event.hash
    session.add(event)
    session.add(case)
    session.add(SyncLog(event_id=event.id, case_id=case.id, origin=origin, hlc=logged_hlc))
    return event


def open_body(cipher: FieldCipher, event: CaseEvent) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(cipher.decrypt(event.body_enc, context=BODY_CONTEXT))
    return body


async def events_of(session: AsyncSession, case_id: str) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
    return list((await session.exec(query)).all())


async def _cases(session: AsyncSession) -> AsyncIterator[CaseRecord]:
    for case in (await session.exec(select(CaseRecord).order_by(col(CaseRecord.id)))).all():
        yield case


async def verify_cases(session: AsyncSession, cipher: FieldCipher) -> tuple[int, list[ChainBreak]]:
    """Every case's chain, and that the projection points at its last event."""
    checked, broken = 0, []
    async for case in _cases(session):
        checked += 1
        events = await events_of(session, case.id)
        try:
            pairs = [(event_fields(e, open_body(cipher, e)), e.hash) for e in events]
        except FieldDecryptError:
            broken.append(ChainBreak(case.id, 0, "an event body does not open with this key"))
            continue
        found = verify_chain(case.id, pairs)
        if found is None and (case.last_seq, case.last_hash) != (
            (events[-1].seq, events[-1].hash) if events else (0, "0" * 64)
        ):
            found = ChainBreak(case.id, case.last_seq, "the case does not end at its last event")
        if found is not None:
            broken.append(found)
    return checked, broken
