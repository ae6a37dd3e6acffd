"""Texts to applicants: queued in the event's transaction, sent by the job, exactly once.

A message is queued with a unique key per event (`sms:<case>:<seq>`), so a decision repeated
by the sync queues nothing new. The job claims a due message with a conditional UPDATE (status
and lease), so two workers never send the same one; a failure is retried with exponential
backoff and full jitter (sync/backoff.py) until `MAX_ATTEMPTS`, then given up and shown.
The phone is read from the case (encrypted at rest) only when sending, and never logged whole.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.cases.models import CaseRecord
from server.crypto.fields import FieldCipher
from server.db import Database, utcnow
from server.notify.actions import insert_ignoring_repeats
from server.notify.gateways import GatewayFailed, SmsGateway
from server.notify.models import SmsMessage
from server.org.models import OrgUnit
from sync.backoff import Backoff

log = logging.getLogger("yichuang.sms")
MAX_ATTEMPTS = 8
LEASE = dt.timedelta(minutes=2)
BACKOFF = Backoff(base=30.0, cap=3600.0)


async def queue_result_sms(session: AsyncSession, *, case: CaseRecord, dedupe_key: str) -> None:
    """ "Your case is done, come and collect": queued when the case has a phone on file."""
    if not case.applicant_phone_enc:
        return
    unit = await session.get(OrgUnit, case.org_unit_code)
    params = {"serial": case.serial, "centre": unit.name if unit else "便民服务中心"}
    row = {
        "dedupe_key": dedupe_key,
        "case_id": case.id,
        "template": "result_ready",
        "params": json.dumps(params, ensure_ascii=False),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "last_error": "",
        "gateway_ref": "",
        "created_at": utcnow(),
    }
    await session.exec(insert_ignoring_repeats(session, SmsMessage, [row]))


@dataclass
class SmsReport:
    sent: int = 0
    failed: int = 0
    given_up: int = 0


def _due(now: dt.datetime) -> object:
    return or_(
        col(SmsMessage.status).in_(["queued", "failed"]) & (col(SmsMessage.next_attempt_at) <= now),
        (col(SmsMessage.status) == "sending") & (col(SmsMessage.claimed_until) < now),
    )


async def _claim(session: AsyncSession, message_id: int, now: dt.datetime) -> bool:
    statement = (
        update(SmsMessage)
        .where(col(SmsMessage.id) == message_id, _due(now))  # type: ignore[arg-type]
        .values(status="sending", claimed_until=now + LEASE)
    )
    result = await session.exec(statement)
    await session.commit()
    return bool(result.rowcount)


async def send_due_sms(
    db: Database,
    cipher: FieldCipher,
    gateway: SmsGateway,
    *,
    now: dt.datetime | None = None,
    limit: int = 50,
) -> SmsReport:
    """Send the messages that are due, one at a time (a slow gateway holds no transaction)."""
    from server.cases.actions import applicant_in_clear  # the cases package imports this one

    report = SmsReport()
    now = now or utcnow()
    async with db.session() as session:
        query = select(SmsMessage.id).where(_due(now)).order_by(col(SmsMessage.id)).limit(limit)  # type: ignore[arg-type]
        ids = [i for i in (await session.exec(query)).all() if i is not None]
    for message_id in ids:
        async with db.session() as session:
            if not await _claim(session, message_id, now):
                continue  # another worker has it
            message = await session.get(SmsMessage, message_id)
            case = await session.get(CaseRecord, message.case_id) if message else None
            if message is None or case is None:
                continue
            phone = applicant_in_clear(cipher, case).phone
        params = json.loads(message.params)
        try:
            if not phone:
                raise GatewayFailed("办件上没有申请人手机号")
            sent = await gateway.send(
                phone=phone, template=message.template, params=params, request_id=message.dedupe_key
            )
        except GatewayFailed as problem:
            await _record_failure(db, message_id, str(problem), now)
            if message.attempts + 1 >= MAX_ATTEMPTS:
                report.given_up += 1
            else:
                report.failed += 1
            continue
        async with db.session() as session:
            await session.exec(
                update(SmsMessage)
                .where(col(SmsMessage.id) == message_id)
                .values(
                    status="sent",
                    attempts=SmsMessage.attempts + 1,
                    sent_at=utcnow(),
                    gateway_ref=sent.reference,
                    last_error="",
                    claimed_until=None,
                )
            )
            await session.commit()
        report.sent += 1
    return report


async def _record_failure(db: Database, message_id: int, error: str, now: dt.datetime) -> None:
    async with db.session() as session:
        message = await session.get(SmsMessage, message_id)
        if message is None:
            return
        message.attempts += 1
        message.last_error = error
        message.claimed_until = None
        if message.attempts >= MAX_ATTEMPTS:
            message.status = "given_up"
            log.warning(
                "sms given up id=%s after %s attempts: %s", message_id, message.attempts, error
            )
        else:
            message.status = "failed"
            delay = BACKOFF.next_delay(message.attempts - 1)
            message.next_attempt_at = now + dt.timedelta(seconds=delay)
        session.add(message)
        await session.commit()
