"""Web Push: browsers' subscriptions and the send queue (an enhancement: DESIGN.md §8).

A push carries `{"count", "link"}` only, encrypted for the browser (RFC 8291 `aes128gcm`)
and signed with the node's VAPID key (RFC 8292); the page or the service worker fetches the
rest after sign-in. The job sends what is due, one subscription at a time with a short
timeout, outside any request: a push service that is slow or unreachable (Google's, in
mainland China) never delays a page. A 404 or 410 means the subscription is gone: it is
deleted. Other failures are retried with exponential backoff and full jitter
(sync/backoff.py), a numeric Retry-After being respected, until `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async
from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import Database, utcnow
from server.forms import ValidationFailed
from server.notify.actions import unread_count
from server.notify.models import PushDelivery, PushSubscription
from sync.backoff import Backoff

log = logging.getLogger("yichuang.push")
TTL_S = 24 * 3600  # a push older than a day says nothing the page will not
URGENCY = "normal"
TIMEOUT_S = 10
MAX_ATTEMPTS = 6
LEASE = dt.timedelta(minutes=1)
BACKOFF = Backoff(base=30.0, cap=3600.0)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def push_payload(count: int, link: str) -> str:
    """What a push carries (pwa/sw/push.js reads it): the unread count and a path, nothing else."""
    return json.dumps({"count": count, "link": link}, separators=(",", ":"))


def endpoint_problem(endpoint: str) -> str:
    """A push service's endpoint is HTTPS (plain HTTP only on this very machine)."""
    parts = urlsplit(endpoint)
    if len(endpoint) > 1000 or not parts.netloc:
        return "推送地址不正确"
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return ""
    return "推送地址须是 https:// 开头"


async def do_subscribe_push(
    session: AsyncSession, *, user_id: int, endpoint: str, p256dh: str, auth: str
) -> PushSubscription:
    """Record (or hand over to this user) a browser's subscription."""
    errors: dict[str, str] = {}
    if problem := endpoint_problem(endpoint):
        errors["endpoint"] = problem
    if not 40 <= len(p256dh) <= 200:
        errors["keys.p256dh"] = "浏览器公钥格式不对"
    if not 16 <= len(auth) <= 64:
        errors["keys.auth"] = "浏览器认证密钥格式不对"
    if errors:
        raise ValidationFailed(errors)
    query = select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    row = (await session.exec(query)).first()
    if row is None:
        row = PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    else:  # the same browser, perhaps another user signed in on it now
        row.user_id, row.p256dh, row.auth = user_id, p256dh, auth
    session.add(row)
    await session.commit()
    return row


async def do_unsubscribe_push(session: AsyncSession, *, user_id: int, endpoint: str) -> bool:
    """Forget the user's subscription for this endpoint; False when there was none."""
    query = select(PushSubscription).where(
        PushSubscription.endpoint == endpoint, PushSubscription.user_id == user_id
    )
    row = (await session.exec(query)).first()
    if row is None:
        return False
    await session.exec(delete(PushDelivery).where(col(PushDelivery.subscription_id) == row.id))
    await session.delete(row)
    await session.commit()
    return True


@dataclass
class PushReport:
    sent: int = 0
    pruned: int = 0
    retried: int = 0
    given_up: int = 0


def _due(now: dt.datetime) -> Any:
    return (col(PushDelivery.next_attempt_at) <= now) & or_(
        col(PushDelivery.claimed_until).is_(None), col(PushDelivery.claimed_until) < now
    )


async def send_due_pushes(
    db: Database,
    key: ec.EllipticCurvePrivateKey,
    *,
    subject: str,
    now: dt.datetime | None = None,
    limit: int = 100,
) -> PushReport:
    """Send every push that is due (see the module's rules)."""
    report = PushReport()
    now = now or utcnow()
    vapid = Vapid(private_key=key)
    async with db.session() as session:
        query = select(PushDelivery.id).where(_due(now)).order_by(col(PushDelivery.id)).limit(limit)
        ids = [i for i in (await session.exec(query)).all() if i is not None]
    if not ids:
        return report
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for delivery_id in ids:
            await _send_one(db, http, vapid, subject, delivery_id, now, report)
    return report


async def _send_one(
    db: Database,
    http: aiohttp.ClientSession,
    vapid: Vapid,
    subject: str,
    delivery_id: int,
    now: dt.datetime,
    report: PushReport,
) -> None:
    async with db.session() as session:
        claimed = await session.exec(
            update(PushDelivery)
            .where(col(PushDelivery.id) == delivery_id, _due(now))
            .values(claimed_until=now + LEASE)
        )
        await session.commit()
        if not claimed.rowcount:
            return  # another worker has it
        delivery = await session.get(PushDelivery, delivery_id)
        subscription = (
            await session.get(PushSubscription, delivery.subscription_id) if delivery else None
        )
        if delivery is None or subscription is None:
            return
        count = await unread_count(session, subscription.user_id)
    payload = push_payload(count, delivery.link)
    info = {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }
    status, retry_after = 0, None
    try:
        await webpush_async(
            info,
            data=payload,
            vapid_private_key=vapid,
            vapid_claims={"sub": subject},
            content_encoding="aes128gcm",
            ttl=TTL_S,
            headers={"Urgency": URGENCY},
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            aiohttp_session=http,
        )
    except WebPushException as failed:
        response = failed.response
        status = int(getattr(response, "status", 0) or 0)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        error = f"HTTP {status}"
    except (TimeoutError, aiohttp.ClientError, OSError) as failed:
        error = type(failed).__name__
    else:
        async with db.session() as session:
            await session.exec(delete(PushDelivery).where(col(PushDelivery.id) == delivery_id))
            subscription.last_success_at = utcnow()
            session.add(subscription)
            await session.commit()
        report.sent += 1
        return
    async with db.session() as session:
        if status in (404, 410):  # the browser unsubscribed or the subscription expired
            await session.exec(
                delete(PushDelivery).where(col(PushDelivery.subscription_id) == subscription.id)
            )
            await session.exec(
                delete(PushSubscription).where(col(PushSubscription.id) == subscription.id)
            )
            report.pruned += 1
        elif delivery.attempts + 1 >= MAX_ATTEMPTS:
            await session.exec(delete(PushDelivery).where(col(PushDelivery.id) == delivery_id))
            log.warning("push given up subscription=%s: %s", subscription.id, error)
            report.given_up += 1
        else:
            delay = BACKOFF.next_delay(delivery.attempts)
            if retry_after and retry_after.isdigit():
                delay = max(delay, float(retry_after))
            await session.exec(
                update(PushDelivery)
                .where(col(PushDelivery.id) == delivery_id)
                .values(
                    attempts=delivery.attempts + 1,
                    claimed_until=None,
                    next_attempt_at=now + dt.timedelta(seconds=delay),
                )
            )
            log.info(
                "push to subscription=%s failed (%s), retry in %.0f s",
                subscription.id,
                error,
                delay,
            )
            report.retried += 1
        await session.commit()
