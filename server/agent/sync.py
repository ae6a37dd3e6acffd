"""A village agent's phone talks to its township: one sealed request, one sealed answer.

POST /api/agent/sync carries an envelope (sync/envelope.py, the format the phone seals with
WebCrypto in pwa/js/envelope.js) signed by an enrolled, unrevoked device and sealed to this
township. Its payload is {"type": "agent_sync", "cases": [...], "sent_at"}: the cases the agent
finished on the phone, each with the id the phone gave it. Every case goes through the same
intake as the window's (server/cases/actions.py do_open_case, channel `village_agent`, the
agent as proxy), so a case the window would refuse is refused here too, by field, in Chinese.
A case id already opened is a no-op ("repeated"), so a flush sent twice opens each case once;
one being opened by a concurrent request is "pending" (the phone keeps it and asks again).
The answer, sealed to the device, says what became of each case sent and the state of every
case the agent sent from any phone, with the catalogue's version (the ETag of /api/catalog).

The phone is not a node: it has no event log, no hash chain and no feed, so it does not use
/api/sync/up (which only a county serves, for enrolled townships); the township writes the
case's first event itself, signed into its own chain.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.agent.devices import device_sender
from server.agent.models import AgentIntake
from server.agent.upload_links import do_link_uploads
from server.auth.access import Forbidden
from server.auth.models import User
from server.cases.actions import Intake, ReceivedMaterial, do_open_case
from server.cases.machine import STATE_NAMES, TransitionRefused
from server.cases.models import CaseRecord
from server.crypto.fields import FieldCipher
from server.db import utcnow
from server.forms import ValidationFailed, whole_number
from server.nodes.keys import Keyring
from server.relay.wire import decode, encode
from sync.envelope import EnvelopeRefused, open_envelope, peek_sender, seal

log = logging.getLogger("yichuang.agent")
MAX_ENVELOPE = 1024 * 1024
MAX_CASES = 50  # per envelope; the phone sends more in further envelopes
STATES_SHOWN = 500  # the newest cases the answer reports
MAX_MATERIALS = 100

REFUSALS: dict[str, tuple[int, str]] = {
    "malformed": (400, "数据包格式不正确，无法读取。"),
    "unsupported_version": (400, "数据包的格式版本不受支持，请更新手机上的应用。"),
    "unsupported_suite": (400, "数据包使用的密码算法不受支持。"),
    "decrypt_failed": (400, "数据包无法解密。"),
    "unknown_sender": (403, "这部手机没有登记或已被吊销：请到乡镇便民服务中心重新登记本机。"),
    "bad_signature": (403, "数据包签名无效，内容可能在途中被改动。"),
    "not_a_recipient": (403, "数据包不是发给本乡镇的：请在本机重新登记。"),
    "too_large": (413, "数据包超过大小上限。"),
}
# What the phone shows for each state (DESIGN.md §7): received, accepted, relayed, decided,
# delivered; "on the phone" and "sent" are the phone's own.
STAGES: dict[str, str] = {
    "submitted": "received",
    "awaiting_materials": "received",
    "accepted": "accepted",
    "in_review": "accepted",
    "joint_in_progress": "accepted",
    "ready_to_relay": "accepted",
    "suspended": "accepted",
    "relayed": "relayed",
    "decided": "decided",
    "refused": "decided",
    "withdrawn": "decided",
    "delivered": "delivered",
    "rated": "delivered",
}
PENDING = "乡镇正在登记这个办件，下次同步时会告诉您结果"
# How long a claim may stay without its case before another request takes it over.
CLAIM_LEASE = dt.timedelta(minutes=2)
MALFORMED_CASE = "办件数据不完整，请在手机上打开这个办件，检查后重新点“完成，待发送”"


class AgentSyncRefused(Exception):
    def __init__(self, reason: str, extra: str = "") -> None:
        self.reason = reason
        self.status, self.detail = REFUSALS[reason]
        super().__init__(f"{reason}: {extra}" if extra else reason)


@dataclass(frozen=True)
class PhoneCase:
    id: str
    intake: Intake
    draft_id: str = ""  # the draft on the phone, which the agent's photo uploads name


def _text(value: object, limit: int = 500) -> str:
    return value[:limit] if isinstance(value, str) else ""


def phone_case(item: object) -> PhoneCase | None:
    """One case as the phone sends it, or None when its shape is wrong."""
    if not isinstance(item, dict):
        return None
    case_id, item_id, applicant = item.get("id"), item.get("item_id"), item.get("applicant")
    materials = item.get("materials", [])
    if not isinstance(case_id, str) or not 8 <= len(case_id) <= 36:
        return None
    if isinstance(item_id, str):
        item_id = whole_number(item_id)
    if not isinstance(item_id, int) or isinstance(item_id, bool) or not isinstance(applicant, dict):
        return None
    if not 0 < item_id < 2**31:  # a database integer (PostgreSQL refuses a bigger one)
        return None
    if not isinstance(materials, list) or len(materials) > MAX_MATERIALS:
        return None
    if not all(isinstance(m, dict) for m in materials):
        return None
    intake = Intake(
        item_id=item_id,
        channel="village_agent",
        applicant_kind=_text(applicant.get("kind")) or "natural",
        applicant_name=_text(applicant.get("name")),
        applicant_id_type=_text(applicant.get("id_type")),
        applicant_id=_text(applicant.get("id")),
        applicant_phone=_text(applicant.get("phone")),
        applicant_address=_text(applicant.get("address"), 501),
        materials=[
            ReceivedMaterial(
                name=_text(m.get("name"), 200),
                original=m.get("original") is True,
                copy=m.get("copy") is True,
            )
            for m in materials
        ],
    )
    draft = item.get("draft")
    return PhoneCase(case_id, intake, draft if isinstance(draft, str) and len(draft) <= 64 else "")


async def _take(
    session: AsyncSession,
    cipher: FieldCipher,
    settings: Any,
    user: User,
    device_key: str,
    case: PhoneCase,
) -> dict[str, Any]:
    """Open one case from the phone once; what became of it, for the answer."""
    held = await session.get(AgentIntake, case.id)
    if held is not None and held.user_id != user.id:
        return {"id": case.id, "status": "refused", "message": MALFORMED_CASE, "errors": {}}
    if held is not None and held.case_id is not None:
        # Sent again because some of its photos were still on the phone: link what arrived.
        await _link_photos(session, cipher, settings, user, held.case_id, case.draft_id)
        return {"id": case.id, "status": "repeated"}
    if held is None:
        # Claimed first, in its own commit: of two flushes of the same case, one opens it.
        session.add(
            AgentIntake(phone_case_id=case.id, user_id=user.id or 0, device_key_id=device_key)
        )
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            await session.refresh(user)  # the rollback expired it; the next case needs it
            return {"id": case.id, "status": "pending", "message": PENDING}
    else:
        # Claimed, no case yet: another request is opening it (the phone asks again later),
        # or one died half-way, whose claim is taken over once its lease has run out.
        now = utcnow()
        taken = await session.exec(
            update(AgentIntake)
            .where(
                col(AgentIntake.phone_case_id) == case.id,
                col(AgentIntake.case_id).is_(None),
                col(AgentIntake.received_at) < now - CLAIM_LEASE,
            )
            .values(received_at=now)
        )
        await session.commit()
        if taken.rowcount != 1:
            return {"id": case.id, "status": "pending", "message": PENDING}
    try:
        record, warnings = await do_open_case(
            session=session, cipher=cipher, settings=settings, actor=user, intake=case.intake
        )
    except (ValidationFailed, Forbidden) as problem:
        # Refused before anything was written (the checks come first): only the claim goes.
        claim = await session.get(AgentIntake, case.id)
        if claim is not None and claim.case_id is None:
            await session.delete(claim)
            await session.commit()
        errors = problem.errors if isinstance(problem, ValidationFailed) else {}
        message = "；".join(errors.values()) if errors else str(problem.detail)  # type: ignore[union-attr]
        return {"id": case.id, "status": "refused", "message": message, "errors": errors}
    claim = await session.get(AgentIntake, case.id)
    if claim is not None:
        claim.case_id = record.id
        session.add(claim)
        await session.commit()
    await _link_photos(session, cipher, settings, user, record.id, case.draft_id)
    return {"id": case.id, "status": "stored", "serial": record.serial, "warnings": warnings}


async def _link_photos(
    session: AsyncSession,
    cipher: FieldCipher,
    settings: Any,
    user: User,
    case_id: str,
    draft_id: str,
) -> None:
    """Attach the photos the agent uploaded for this draft (server/agent/uploads.py) to the case.

    A photo that cannot be attached (the case closed meanwhile) stays an upload; the case is
    taken all the same, and the failure is logged.
    """
    if not draft_id:
        return
    record = await session.get(CaseRecord, case_id)
    if record is None:
        return
    try:
        await do_link_uploads(
            session=session,
            cipher=cipher,
            settings=settings,
            actor=user,
            case=record,
            draft_id=draft_id,
        )
    except (Forbidden, TransitionRefused, ValidationFailed) as problem:
        await session.rollback()
        await session.refresh(user)  # the rollback expired it; the next case needs it
        log.warning("photos of draft %s not attached to case %s: %s", draft_id, case_id, problem)


async def case_states(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The state of every case the agent sent from a phone, newest first."""
    query = (
        select(AgentIntake, CaseRecord)
        .join(CaseRecord, col(CaseRecord.id) == col(AgentIntake.case_id))
        .where(AgentIntake.user_id == user.id)
        .order_by(col(AgentIntake.received_at).desc())
        .limit(STATES_SHOWN)
    )
    return [
        {
            "id": intake.phone_case_id,
            "serial": case.serial,
            "state": case.state,
            "state_name": STATE_NAMES.get(case.state, case.state),  # type: ignore[call-overload]
            "stage": STAGES.get(case.state, "received"),
            "updated_at": case.updated_at.isoformat(timespec="seconds"),
        }
        for intake, case in (await session.exec(query)).all()
    ]


async def serve_agent_sync(
    session: AsyncSession,
    cipher: FieldCipher,
    settings: Any,
    keyring: Keyring,
    data: bytes,
    catalogue_version: str,
) -> bytes:
    """Check and open the phone's envelope, take its cases, answer sealed to the device."""
    if len(data) > MAX_ENVELOPE:
        raise AgentSyncRefused("too_large", f"{len(data)} bytes")
    try:
        sender = peek_sender(data)
    except EnvelopeRefused as refused:
        raise AgentSyncRefused(refused.reason, refused.detail) from None
    found = await device_sender(session, sender)
    if found is None:
        raise AgentSyncRefused("unknown_sender", sender.hex())
    device, user, keys = found
    try:
        opened = open_envelope(
            data,
            me=list(keyring.all),
            sender_lookup=lambda asked: keys if asked == keys.key_id else None,
            max_size=MAX_ENVELOPE,
        )
        payload = decode(opened.payload, "agent_sync")
    except EnvelopeRefused as refused:
        raise AgentSyncRefused(refused.reason, refused.detail) from None
    except ValueError as problem:
        raise AgentSyncRefused("malformed", str(problem)) from None
    cases = payload.get("cases", [])
    if not isinstance(cases, list) or len(cases) > MAX_CASES:
        raise AgentSyncRefused("malformed", "cases must be a list of at most 50")
    results: list[dict[str, Any]] = []
    for item in cases:
        case = phone_case(item)
        if case is None:
            case_id = item.get("id") if isinstance(item, dict) else None
            message = MALFORMED_CASE
            results.append({"id": case_id, "status": "refused", "message": message, "errors": {}})
            continue
        results.append(await _take(session, cipher, settings, user, device.key_id, case))
    device.last_seen_at = utcnow()
    session.add(device)
    await session.commit()
    answer = {
        "type": "agent_state",
        "results": results,
        "cases": await case_states(session, user),
        "catalogue": catalogue_version,
        "server_time": utcnow().isoformat(timespec="milliseconds"),
    }
    log.info(
        "agent sync from device %s (user %s): %d sent, %d stored",
        device.key_id,
        user.id,
        len(results),
        sum(1 for r in results if r["status"] == "stored"),
    )
    return seal(encode(answer), sender=keyring.current, recipients=[keys])
