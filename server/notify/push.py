"""Web Push: browsers' subscriptions and the send queue (an enhancement: DESIGN.md §8).

A push carries `{"count", "link"}` only, encrypted for the browser (RFC 8291 `aes128gcm`)
and signed with the node's VAPID key (RFC 8292); the page or the service worker fetches the
rest after sign-in. The job sends what is due, one subscription at a time with a short
timeout, outside any request: a push service that is slow or unreachable (Google's, in
mainland China) never delays a page. A 404 or 410 means the subscription is gone: it is
deleted. Other failures are retried with exponential backoff and full jitter
(sync/backoff.py), a numeric Retry-After being respected, until `MAX_ATTEMPTS`.

The endpoint is the browser's to choose, so any signed-in user can name one: the server
POSTs only to the push services of node.toml's `[push] hosts` (`DEFAULT_HOSTS`, the
browsers' own, when absent), or it would POST from inside the government network to
whatever address a user typed. `endpoint_problem` decides, at subscribe time and again
before every send (a row stored before the list was tightened is deleted unsent, counted
as pruned); the HTTP client checks each request again, so a redirect cannot leave the list.
An endpoint is allowed when:

- its scheme is https and its host equals a listed name or is a subdomain of one, on a dot
  boundary (`evilfcm.googleapis.com` is not `fcm.googleapis.com`); IP addresses and
  `localhost` match only exactly;
- it has no user name or password (`user@host`) and no port other than 443;
- plain http and any port only for a loopback host that is itself listed (`127.0.0.1`,
  `::1`, `localhost`): a stand-in push service on the same machine, for tests.

```toml
[push]
subject = "mailto:admin@qingshan.gov.cn"   # VAPID contact; default: public_url if https
hosts = ["fcm.googleapis.com", "updates.push.services.mozilla.com"]   # [] turns push off
```
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import re
import tomllib
from collections.abc import Sequence
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
from server.settings import SETTINGS_FILE, Settings, SettingsError
from sync.backoff import Backoff

log = logging.getLogger("yichuang.push")
TTL_S = 24 * 3600  # a push older than a day says nothing the page will not
URGENCY = "normal"
TIMEOUT_S = 10
MAX_ATTEMPTS = 6
LEASE = dt.timedelta(minutes=1)
BACKOFF = Backoff(base=30.0, cap=3600.0)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Chromium and Edge on Android
    "android.googleapis.com",  # older Chrome
    "updates.push.services.mozilla.com",  # Firefox
    "notify.windows.com",  # Edge on Windows (WNS: <region>.notify.windows.com)
    "push.apple.com",  # Safari (web.push.apple.com)
)
HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
NOT_ALLOWED = "推送地址不属于允许的推送服务（node.toml 的 [push] hosts）"


@dataclass(frozen=True)
class PushConfig:
    """node.toml's `[push]`: the VAPID contact and the push services the job may POST to."""

    subject: str
    hosts: tuple[str, ...] = DEFAULT_HOSTS


def _hosts(path: object, value: object) -> tuple[str, ...]:
    example = '例如 hosts = ["fcm.googleapis.com", "updates.push.services.mozilla.com"]'
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise SettingsError(
            f"{path}: [push] hosts 应是推送服务主机名（字符串）的列表，{example}；现在是 {value!r}"
        )
    hosts = tuple(entry.strip().lower() for entry in value)
    for entry in hosts:
        if not (HOST_NAME.fullmatch(entry) or _ip(entry)):
            raise SettingsError(
                f"{path}: [push] hosts 里的 {entry!r} 不是主机名：只写主机名，"
                f"不带 https://、端口或路径，{example}"
            )
        if "." not in entry and entry != "localhost" and not _ip(entry):
            # Subdomains match: a bare "com" would let the job POST anywhere under it.
            raise SettingsError(
                f"{path}: [push] hosts 里的 {entry!r} 太宽：要写完整的主机名（至少含一个点），"
                f"{example}"
            )
    return hosts


def load_push_config(settings: Settings) -> PushConfig:
    """node.toml's `[push]` (the one place it is read); a bad `hosts` is a SettingsError."""
    path = settings.data_dir / SETTINGS_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} 格式有误：{exc}") from exc
    push = raw.get("push", {})
    if not isinstance(push, dict):
        raise SettingsError(f"{path}: push 应是一个表，写成单独一行 [push]，下面是它的各项")
    subject = str(push.get("subject", ""))
    if not subject.startswith(("mailto:", "https://")):
        subject = settings.public_url if settings.public_url.startswith("https://") else ""
    return PushConfig(
        subject=subject or "mailto:admin@yichuang.invalid",
        hosts=_hosts(path, push["hosts"]) if "hosts" in push else DEFAULT_HOSTS,
    )


def _ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_allowed(host: str, hosts: Sequence[str]) -> bool:
    """A listed host, or a subdomain of a listed name (IP addresses and localhost: exactly)."""
    return any(
        host == h or (h != "localhost" and not _ip(h) and host.endswith("." + h)) for h in hosts
    )


def push_payload(count: int, link: str) -> str:
    """What a push carries (pwa/sw/push.js reads it): the unread count and a path, nothing else."""
    return json.dumps({"count": count, "link": link}, separators=(",", ":"))


def endpoint_problem(endpoint: str, hosts: Sequence[str]) -> str:
    """Why the server must not POST to this endpoint ('' when it may: the module's rules)."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:  # a bracket without its pair; a port not a number, or past 65535
        return "推送地址不正确"
    host = parts.hostname or ""
    if not (HOST_NAME.fullmatch(host) or _ip(host)):  # "%", "_" and the like: no real one has
        return "推送地址不正确"
    if len(endpoint) > 1000 or not host or not endpoint.isascii() or not endpoint.isprintable():
        return "推送地址不正确"
    if " " in endpoint or "\\" in endpoint:  # parsers disagree on these: none in a real one
        return "推送地址不正确"
    loopback = host in LOOPBACK
    if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        return "推送地址须是 https:// 开头"
    if "@" in parts.netloc:
        return "推送地址不能含用户名或密码（@ 前的部分）"
    if not host_allowed(host, hosts):
        return NOT_ALLOWED
    if port not in (None, 443) and not loopback:
        return "推送地址不能带端口号（推送服务都用 https 的默认端口）"
    return ""


async def do_subscribe_push(
    session: AsyncSession,
    *,
    hosts: Sequence[str],
    user_id: int,
    endpoint: str,
    p256dh: str,
    auth: str,
) -> PushSubscription:
    """Record (or hand over to this user) a browser's subscription to an allowed push service."""
    errors: dict[str, str] = {}
    if problem := endpoint_problem(endpoint, hosts):
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


def _only_to(hosts: Sequence[str]) -> aiohttp.ClientMiddlewareType:
    """Every request of the job's client, a redirect's too, goes to an allowed push service."""

    async def check(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if problem := endpoint_problem(str(request.url), hosts):
            log.warning("push request to %s refused: %s", request.url.host, problem)
            raise aiohttp.InvalidURL(request.url, problem)
        return await handler(request)

    return check


async def _prune(session: AsyncSession, subscription_id: int | None) -> None:
    await session.exec(
        delete(PushDelivery).where(col(PushDelivery.subscription_id) == subscription_id)
    )
    await session.exec(delete(PushSubscription).where(col(PushSubscription.id) == subscription_id))


async def send_due_pushes(
    db: Database,
    key: ec.EllipticCurvePrivateKey,
    *,
    config: PushConfig,
    now: dt.datetime | None = None,
    limit: int = 100,
) -> PushReport:
    """Send every push that is due, to allowed push services only (see the module's rules)."""
    report = PushReport()
    now = now or utcnow()
    vapid = Vapid(private_key=key)
    async with db.session() as session:
        query = select(PushDelivery.id).where(_due(now)).order_by(col(PushDelivery.id)).limit(limit)
        ids = [i for i in (await session.exec(query)).all() if i is not None]
    if not ids:
        return report
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, middlewares=[_only_to(config.hosts)]) as http:
        for delivery_id in ids:
            await _send_one(db, http, vapid, config, delivery_id, now, report)
    return report


async def _send_one(
    db: Database,
    http: aiohttp.ClientSession,
    vapid: Vapid,
    config: PushConfig,
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
        if problem := endpoint_problem(subscription.endpoint, config.hosts):
            # Stored before [push] hosts was tightened (or before there was a list at all).
            await _prune(session, subscription.id)
            await session.commit()
            host = urlsplit(subscription.endpoint).hostname
            log.warning(
                "push subscription=%s to %s deleted unsent: %s", subscription.id, host, problem
            )
            report.pruned += 1
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
            vapid_claims={"sub": config.subject},
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
            await _prune(session, subscription.id)
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
