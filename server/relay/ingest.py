"""Applying events received from another node: the one path both streams use.

For every event, in the order received: a repeat (same id, same hash) is a no-op; otherwise it
must continue its case's chain (seq = last + 1, prev = the last hash, its hash recomputed from
its content), come from a node allowed to write it, and pass the state machine with the
projection's facts (the same `fold_event` the local actions call). Then the event (its body
re-encrypted with this node's key), the projection and the sync-log row commit together: one
transaction per event, so a batch cut off in the middle leaves a clean prefix and the resent
batch skips what is already there.

An event that fails goes to `sync_quarantine` with its reason, and so does every later event
of the same case in the batch (they cannot apply without it); other cases go on. A case whose
first event could not be applied stays quarantined until an operator resolves it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.access import NotFound
from server.cases.actions import (
    ADDRESS_CONTEXT,
    ID_CONTEXT,
    PHONE_CONTEXT,
    fold_event,
    id_hash,
)
from server.cases.events import store_received_event
from server.cases.machine import COMMANDS, Command, Node, TransitionRefused
from server.cases.models import CaseEvent, CaseRecord
from server.catalog.models import CatalogItem
from server.catalog.queries import ItemView, item_view
from server.crypto.fields import FieldCipher
from server.db import utcnow
from server.notify.triggers import do_notify_for_received_event
from server.org.actions import do_ensure_org_unit
from server.org.codes import RegionCodeError, level_of, within
from server.org.models import OrgUnit
from server.relay.clock import receiving_clock, stamp_received
from server.relay.holds import HOLD_REASONS, hold_reason
from server.relay.models import SyncQuarantine
from server.relay.wire import WireError, wire_fields
from sync.chain import GENESIS, canonical, event_hash

log = logging.getLogger("yichuang.sync")
EVIDENCE_CONTEXT = "sync_quarantine.evidence"

# One ingest at a time in a process: a duplicated request must not race its twin through the
# chain check. Several workers (PostgreSQL) are held apart by the row lock on the case. One lock
# per event loop (an asyncio lock belongs to the loop it first waited in).
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    return _LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())


MESSAGES = {
    "malformed_event": "事件格式不正确：{detail}",
    "bad_hash": "事件内容与其哈希不符，可能在途中或在对方被改动",
    "chain_break": "事件接不上该办件已有的事件链：{detail}",
    "conflict": "同一办件的同一序号已有另一事件：{detail}",
    "not_allowed": "对方无权写入这个事件：{detail}",
    "unknown_item": "本节点的事项目录里没有这个事项或版本：{detail}（请先同步事项目录）",
    "refused_by_machine": "办件状态不允许这一步：{detail}",
    "after_quarantined": "同一办件的前一个事件已被隔离，这个事件暂不能处理",
    "awaiting_attachment": "材料仍在传输中：扫描件 {detail}… 尚未收齐，收齐后自动处理",
    "after_held": "材料仍在传输中：同一办件的前一个事件在等待扫描件，随后按序处理",
}


@dataclass
class IngestResult:
    stored: int = 0
    repeated: int = 0
    quarantined: int = 0
    quarantined_cases: set[str] = field(default_factory=set)


class Quarantined(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    @property
    def message(self) -> str:
        return MESSAGES[self.reason].format(detail=self.detail)


def node_kind(region: str) -> Node:
    """Which side of the state machine a node acts as: a county code is six digits."""
    return "county" if level_of(region) == "county" else "township"


async def ingest_events(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    peer: str,
    peer_name: str,
    direction: str,
    events: Iterable[object],
    retrying: bool = False,
    me: str = "",
) -> IngestResult:
    """Apply a batch received from `peer` ("up": from a child; "down": from the parent).

    `retrying`: held events re-tried in order once their materials are here (relay/holds.py).
    """
    result = IngestResult()
    me = await receiving_clock(session, me, peer, direction)
    async with _lock():
        for item in events:
            case_id = str(item.get("case", "")) if isinstance(item, Mapping) else ""
            try:
                if case_id and case_id in result.quarantined_cases:
                    raise Quarantined("after_quarantined")
                stored = await _ingest_one(
                    session,
                    cipher,
                    item,
                    peer=peer,
                    peer_name=peer_name,
                    direction=direction,
                    retrying=retrying,
                    me=me,
                )
            except Quarantined as problem:
                await session.rollback()
                await _quarantine(session, cipher, item, peer, direction, problem)
                result.quarantined += 1
                if problem.reason not in HOLD_REASONS:  # held ones hold their case's next
                    result.quarantined_cases.add(case_id)
                continue
            if stored:
                result.stored += 1
            else:
                result.repeated += 1
    return result


async def _ingest_one(
    session: AsyncSession,
    cipher: FieldCipher,
    item: object,
    *,
    peer: str,
    peer_name: str,
    direction: str,
    retrying: bool = False,
    me: str = "",
) -> bool:
    """Store one event; False for a repeat. Raises Quarantined."""
    try:
        fields, claimed = wire_fields(item)
    except WireError as problem:
        raise Quarantined("malformed_event", str(problem)) from None
    existing = await session.get(CaseEvent, fields["id"])
    if existing is not None:
        if existing.hash == claimed:
            return False
        raise Quarantined("conflict", f"事件 {fields['id']} 已存在但内容不同")
    if event_hash(fields) != claimed:
        raise Quarantined("bad_hash")
    if fields["kind"] not in COMMANDS:
        raise Quarantined("malformed_event", f"未知的事件类型 {fields['kind']}")
    _check_writer(fields, peer, direction)
    # Whose case it is, before anything is held: a hold of another township's case would
    # hold back that case's own events.
    if (known := await session.get(CaseRecord, fields["case"])) is not None:
        _check_scope(known, peer, direction)
    if (held := await hold_reason(session, fields, retrying=retrying)) is not None:
        raise Quarantined(*held)
    case = await _locked_case(session, fields["case"])
    if fields["seq"] == 1:
        if case is not None:
            raise Quarantined("conflict", "该办件已存在")
        if fields["prev"] != GENESIS or fields["kind"] != "submit":
            raise Quarantined("chain_break", "办件的第一个事件须是“提交”")
        case = await _case_from_submit(session, cipher, fields, peer, peer_name, direction)
    else:
        if case is None:
            raise Quarantined("chain_break", "本节点还没有这个办件的前序事件")
        _check_scope(case, peer, direction)
        if fields["seq"] != case.last_seq + 1 or fields["prev"] != case.last_hash:
            raise Quarantined(
                "chain_break", f"本节点已有第 {case.last_seq} 个事件，收到第 {fields['seq']} 个"
            )
        view = await _view(session, case.item_id, case.item_version)
        at = dt.datetime.fromisoformat(fields["at"]).astimezone(dt.UTC)
        try:
            await fold_event(
                session,
                case,
                view,
                cast(Command, fields["kind"]),
                dict(fields["body"]),
                at,
                actor=node_kind(fields["node"]),
            )
        except (TransitionRefused, KeyError, ValueError, TypeError) as problem:
            detail = problem.message if isinstance(problem, TransitionRefused) else repr(problem)
            raise Quarantined("refused_by_machine", detail) from None
    stamp = item.get("hlc", "") if isinstance(item, Mapping) else ""
    logged = stamp_received(me or "node", stamp)
    store_received_event(
        session, cipher, case, fields, origin=peer, hlc=str(stamp), logged_hlc=logged
    )
    await do_notify_for_received_event(
        session,
        case=case,
        event_kind=fields["kind"],
        body=dict(fields["body"]),
        origin=peer,
        direction=direction,
        actor=fields["actor"],
    )
    try:
        await session.commit()
    except IntegrityError:
        # A twin of this request stored it first (another worker): a repeat after all.
        await session.rollback()
        twin = await session.get(CaseEvent, fields["id"])
        if twin is not None and twin.hash == claimed:
            return False
        raise Quarantined("conflict", "与本节点已有的事件冲突") from None
    return True


def _check_writer(fields: Mapping[str, Any], peer: str, direction: str) -> None:
    """Up: a child writes only as itself (or a node below it); down: only the parent writes."""
    node = fields["node"]
    try:
        allowed = within(node, peer) if direction == "up" else node == peer
    except (RegionCodeError, KeyError, IndexError):
        allowed = False
    if not allowed:
        raise Quarantined("not_allowed", f"事件由 {node} 产生，却由 {peer} 发来")


def _check_scope(case: CaseRecord, peer: str, direction: str) -> None:
    """Up: a child sends events only of its own cases."""
    if direction == "up" and not within(case.org_unit_code, peer):
        raise Quarantined("not_allowed", f"办件属于 {case.org_unit_code}，不属于 {peer}")


async def _locked_case(session: AsyncSession, case_id: str) -> CaseRecord | None:
    query = select(CaseRecord).where(CaseRecord.id == case_id).with_for_update()
    return (await session.exec(query)).first()


async def _view(session: AsyncSession, item_id: int, version: int) -> ItemView:
    try:
        return await item_view(session, item_id, version)
    except NotFound as missing:
        raise Quarantined("unknown_item", str(missing.detail)) from None


async def _case_from_submit(
    session: AsyncSession,
    cipher: FieldCipher,
    fields: Mapping[str, Any],
    peer: str,
    peer_name: str,
    direction: str,
) -> CaseRecord:
    """The projection of a case another node opened, from its `submit` event."""
    body = fields["body"]
    try:
        centre = str(body["centre"])
        code, version = str(body.get("item_code", "")), int(body["item_version"])
        applicant = body["applicant"]
        serial, kind, channel = str(body["serial"]), str(body["kind"]), str(body["channel"])
    except (KeyError, TypeError, ValueError) as problem:
        raise Quarantined("malformed_event", f"提交事件缺少 {problem}") from None
    if direction == "up" and not within(centre, peer):
        raise Quarantined("not_allowed", f"办件属于 {centre}，不属于 {peer}")
    if not code:
        raise Quarantined("unknown_item", "提交事件没有事项实施编码（item_code）")
    item = (
        await session.exec(select(CatalogItem).where(CatalogItem.implementation_code == code))
    ).first()
    if item is None or item.id is None:
        raise Quarantined("unknown_item", f"事项 {code}")
    await _view(session, item.id, version)
    if await session.get(OrgUnit, centre) is None:
        try:
            await do_ensure_org_unit(
                session=session,
                code=centre,
                name=peer_name if centre == peer else centre,
                level="township",
                parent_code=centre[:6],
            )
        except RegionCodeError as problem:
            raise Quarantined("not_allowed", str(problem)) from None
    at = dt.datetime.fromisoformat(fields["at"]).astimezone(dt.UTC)
    id_type, id_number = str(applicant["id_type"]), str(applicant["id"])
    phone, address = str(applicant.get("phone", "")), str(applicant.get("address", ""))
    case = CaseRecord(
        id=fields["case"],
        serial=serial,
        org_unit_code=centre,
        item_id=item.id,
        item_version=version,
        kind=kind,
        state="submitted",
        channel=channel,
        applicant_kind=str(applicant.get("kind", "natural")),
        applicant_name=str(applicant["name"]),
        applicant_id_type=id_type,
        applicant_id_enc=cipher.encrypt(id_number, context=ID_CONTEXT),
        applicant_id_hash=id_hash(cipher, id_type, id_number),
        applicant_phone_enc=cipher.encrypt(phone, context=PHONE_CONTEXT) if phone else None,
        applicant_address_enc=cipher.encrypt(address, context=ADDRESS_CONTEXT) if address else None,
        received_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(case)
    await session.flush()
    return case


async def _quarantine(
    session: AsyncSession,
    cipher: FieldCipher,
    item: object,
    peer: str,
    direction: str,
    problem: Quarantined,
) -> None:
    """Keep the event (encrypted: it may hold personal data) with its reason, once."""
    case_id = event_id = ""
    if isinstance(item, Mapping):
        case_id, event_id = str(item.get("case", ""))[:36], str(item.get("id", ""))[:36]
    try:
        evidence = canonical(item).decode()
    except (TypeError, ValueError):
        evidence = repr(item)
    already = (
        await session.exec(
            select(SyncQuarantine).where(
                SyncQuarantine.event_id == event_id,
                SyncQuarantine.reason == problem.reason,
                col(SyncQuarantine.resolved_at).is_(None),
            )
        )
    ).first()
    log.warning(
        "sync quarantine peer=%s direction=%s case=%s event=%s reason=%s %s",
        *(peer, direction, case_id, event_id, problem.reason, problem.detail),
    )
    if already is not None and event_id:
        return
    session.add(
        SyncQuarantine(
            peer=peer,
            direction=direction,
            case_id=case_id,
            event_id=event_id,
            reason=problem.reason,
            message=problem.message,
            evidence=cipher.encrypt(evidence, context=EVIDENCE_CONTEXT),
            at=utcnow(),
        )
    )
    await session.commit()
