"""Web Push against a stand-in push service on loopback that checks what a real one would:
the VAPID JWT (ES256, RFC 8292) against the node's public key, and the RFC 8291 `aes128gcm`
payload, decrypted with `http_ece` and the subscription's keys. Then 410 prunes, 500 retries.
The stand-in is reached only because 127.0.0.1 is listed in `[push] hosts`; a subscription
that the list no longer allows is deleted unsent, and a redirect off the list is not followed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlmodel import select
from starlette.applications import Starlette

from server.notify.actions import do_notify
from server.notify.jobs import run_once
from server.notify.models import PushDelivery, PushSubscription
from server.notify.push import DEFAULT_HOSTS, PushConfig, do_subscribe_push, send_due_pushes
from server.notify.vapid import ensure_vapid_key, public_key_b64
from tests.factories import Personas

SUBJECT = "mailto:admin@qingshan.test"
STAND_IN = ("127.0.0.1",)  # [push] hosts that let the job reach the stand-in


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """Answers each POST with the next status of `statuses` (201 when they run out); a 3xx
    sends the browser on to `location`."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    location: str = ""

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service: PushService

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            service.received.append(
                Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
            )
            status = service.statuses.pop(0) if service.statuses else 201
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", service.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service = PushService(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Browser:
    """A subscribed browser's keys (what PushManager.subscribe makes)."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)


def new_browser() -> Browser:
    return Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))


async def subscribe(app: Starlette, user_id: int, endpoint: str, browser: Browser) -> None:
    async with app.state.db.session() as session:
        await do_subscribe_push(
            session,
            hosts=STAND_IN,
            user_id=user_id,
            endpoint=endpoint,
            p256dh=browser.p256dh,
            auth=b64url(browser.auth),
        )


async def tell(app: Starlette, user_id: int, key: str) -> None:
    async with app.state.db.session() as session:
        await do_notify(
            session,
            recipients=[user_id],
            kind="system",
            title="有新消息",
            text="",
            link="/notifications",
            dedupe_key=key,
        )
        await session.commit()


async def send(
    app: Starlette, now: dt.datetime | None = None, hosts: tuple[str, ...] = STAND_IN
) -> Any:
    key = ensure_vapid_key(app.state.settings.data_dir)
    config = PushConfig(subject=SUBJECT, hosts=hosts)
    return await send_due_pushes(app.state.db, key, config=config, now=now)


def check_vapid(received: Received, public_key: str, audience: str) -> dict[str, Any]:
    """What a push service checks (RFC 8292 §2, §3): the JWT's ES256 signature by `k`."""
    scheme, _, params = received.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    head_b64, claims_b64, signature_b64 = fields["t"].split(".")
    header = json.loads(b64url_decode(head_b64))
    assert header == {"typ": "JWT", "alg": "ES256"}
    raw = b64url_decode(signature_b64)
    assert len(raw) == 64
    signature = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(fields["k"])
    )
    verifier.verify(
        signature, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256())
    )  # raises InvalidSignature
    claims: dict[str, Any] = json.loads(b64url_decode(claims_b64))
    assert claims["aud"] == audience and claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    return claims


async def test_a_push_is_one_a_real_push_service_accepts(
    app: Starlette, personas: Personas, push_service: PushService
) -> None:
    clerk = personas.township_officer
    browser = new_browser()
    await subscribe(app, clerk.uid, f"{push_service.origin}/wpush/v2/abc", browser)
    await tell(app, clerk.uid, "one")
    await tell(app, clerk.uid, "two")  # still one pending push for the browser
    report = await send(app)
    assert (report.sent, report.retried, report.pruned) == (1, 0, 0)
    (received,) = push_service.received
    assert received.path == "/wpush/v2/abc"
    public = public_key_b64(ensure_vapid_key(app.state.settings.data_dir))
    check_vapid(received, public, push_service.origin)
    assert received.headers["content-encoding"] == "aes128gcm"
    assert received.headers["ttl"] == str(24 * 3600)
    assert received.headers["urgency"] == "normal"
    clear = http_ece.decrypt(
        received.body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
    )
    assert json.loads(clear) == {"count": 2, "link": "/notifications"}  # no personal data
    async with app.state.db.session() as session:
        assert (await session.exec(select(PushDelivery))).all() == []
        (subscription,) = (await session.exec(select(PushSubscription))).all()
        assert subscription.last_success_at is not None
    assert (await send(app)).sent == 0  # nothing pending


async def test_a_gone_subscription_is_pruned(
    app: Starlette, personas: Personas, push_service: PushService
) -> None:
    clerk = personas.township_officer
    await subscribe(app, clerk.uid, f"{push_service.origin}/gone", new_browser())
    push_service.statuses = [410]
    await tell(app, clerk.uid, "one")
    report = await send(app)
    assert (report.sent, report.pruned) == (0, 1)
    async with app.state.db.session() as session:
        assert (await session.exec(select(PushSubscription))).all() == []
    await tell(app, clerk.uid, "two")  # no subscription left: nothing queued
    assert (await send(app)).sent == 0 and len(push_service.received) == 1


async def test_a_failing_push_service_is_retried_with_backoff(
    app: Starlette, personas: Personas, push_service: PushService
) -> None:
    clerk = personas.township_officer
    await subscribe(app, clerk.uid, f"{push_service.origin}/busy", new_browser())
    push_service.statuses = [500]
    await tell(app, clerk.uid, "one")
    now = dt.datetime.now(dt.UTC)
    first = await send(app, now)
    assert (first.sent, first.retried) == (0, 1)
    async with app.state.db.session() as session:
        (pending,) = (await session.exec(select(PushDelivery))).all()
    assert pending.attempts == 1 and pending.claimed_until is None
    assert now <= pending.next_attempt_at <= now + dt.timedelta(seconds=30)
    later = await send(app, now + dt.timedelta(seconds=31))
    assert later.sent == 1 and len(push_service.received) == 2
    async with app.state.db.session() as session:
        assert (await session.exec(select(PushSubscription))).first() is not None


async def test_a_subscription_the_list_no_longer_allows_is_deleted_unsent(
    app: Starlette,
    personas: Personas,
    push_service: PushService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clerk = personas.township_officer
    await subscribe(app, clerk.uid, f"{push_service.origin}/old", new_browser())
    await tell(app, clerk.uid, "one")
    with caplog.at_level(logging.WARNING, logger="yichuang.push"):
        report = await send(app, hosts=DEFAULT_HOSTS)  # the list tightened since
    assert (report.sent, report.retried, report.pruned) == (0, 0, 1)
    assert push_service.received == []  # not one request
    assert "deleted unsent" in caplog.text and "127.0.0.1" in caplog.text
    async with app.state.db.session() as session:
        assert (await session.exec(select(PushSubscription))).all() == []
        assert (await session.exec(select(PushDelivery))).all() == []


async def test_node_toml_push_hosts_decides_where_the_job_sends(
    app: Starlette, personas: Personas, push_service: PushService
) -> None:
    """The job as `yichuang notify --once` runs it: [push] read from node.toml every round."""
    settings = app.state.settings
    node_toml = settings.data_dir / "node.toml"
    original = node_toml.read_text(encoding="utf-8")
    node_toml.write_text(
        original + f'\n[push]\nsubject = "{SUBJECT}"\nhosts = ["127.0.0.1"]\n', encoding="utf-8"
    )
    clerk = personas.township_officer
    await subscribe(app, clerk.uid, f"{push_service.origin}/listed", new_browser())
    await tell(app, clerk.uid, "one")
    first = await run_once(app.state.db, app.state.cipher, settings, deadlines=False)
    assert first.pushes.sent == 1
    public = public_key_b64(ensure_vapid_key(settings.data_dir))
    check_vapid(push_service.received[0], public, push_service.origin)  # node.toml's subject
    node_toml.write_text(
        original + f'\n[push]\nsubject = "{SUBJECT}"\nhosts = ["fcm.googleapis.com"]\n',
        encoding="utf-8",
    )
    await tell(app, clerk.uid, "two")
    second = await run_once(app.state.db, app.state.cipher, settings, deadlines=False)
    assert (second.pushes.sent, second.pushes.pruned) == (0, 1)
    assert len(push_service.received) == 1


async def test_a_redirect_off_the_list_is_not_followed(
    app: Starlette, personas: Personas, push_service: PushService
) -> None:
    clerk = personas.township_officer
    await subscribe(app, clerk.uid, f"{push_service.origin}/moved", new_browser())
    port = push_service.server.server_address[1]
    # The same stand-in under a name the list does not hold: following would reach it again.
    push_service.statuses = [307]
    push_service.location = f"http://localhost:{port}/elsewhere"
    await tell(app, clerk.uid, "one")
    report = await send(app)
    assert (report.sent, report.retried) == (0, 1)
    assert [r.path for r in push_service.received] == ["/moved"]
    async with app.state.db.session() as session:
        (pending,) = (await session.exec(select(PushDelivery))).all()
    assert pending.attempts == 1  # a failure like any other: retried, then given up
