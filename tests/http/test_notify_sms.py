"""Texts to applicants: the log gateway, and an HTTP gateway against a loopback stand-in that
fails first: retried with backoff, then sent exactly once; node.toml's [sms] table."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from server.notify import sms
from server.notify.gateways import HttpGateway, LogGateway, load_gateway
from server.notify.sms import send_due_sms
from server.settings import SettingsError
from tests.factories import Personas
from tests.notify_support import apply, claim_item, open_case, texts


async def decided(app: Starlette, personas: Personas) -> str:
    item = await claim_item(app, personas)
    clerk = personas.township_officer
    case = await open_case(app, clerk, item)
    for name in ("accept", "start_review"):
        await apply(app, clerk, case.id, name)
    await apply(app, clerk, case.id, "decide", {"outcome": "approve"})
    return case.serial


class Platform:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                platform.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = platform.statuses.pop(0) if platform.statuses else 200
                answer = json.dumps({"id": f"m{len(platform.requests)}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/api/send"


@pytest.fixture
def platform() -> Iterator[Platform]:
    found = Platform()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()
    thread.join()


async def test_the_log_gateway_writes_what_would_be_sent(
    app: Starlette, personas: Personas, caplog: pytest.LogCaptureFixture
) -> None:
    serial = await decided(app, personas)
    gateway = LogGateway()
    with caplog.at_level("INFO", logger="yichuang.sms"):
        report = await send_due_sms(app.state.db, app.state.cipher, gateway)
    assert report.sent == 1
    expected = f"您的办件{serial}已办结，请携带身份证到青山镇便民服务中心领取。"
    assert gateway.sent == [("139****5678", expected)]
    assert expected in caplog.text and "13912345678" not in caplog.text
    (message,) = await texts(app)
    assert (message.status, message.gateway_ref) == ("sent", f"log:{message.dedupe_key}")


async def test_the_http_gateway_retries_then_sends_exactly_once(
    app: Starlette, personas: Personas, platform: Platform
) -> None:
    serial = await decided(app, personas)
    gateway = HttpGateway(
        url=platform.url,
        token="t0ken",
        account="qingshan",
        templates={"result_ready": "SMS_0001"},
        timeout=5,
    )
    platform.statuses = [500]
    now = dt.datetime.now(dt.UTC)
    first = await send_due_sms(app.state.db, app.state.cipher, gateway, now=now)
    assert (first.sent, first.failed) == (1 - 1, 1)
    (message,) = await texts(app)
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error == "短信平台返回 HTTP 500"
    assert now <= message.next_attempt_at <= now + dt.timedelta(seconds=30)
    later = now + dt.timedelta(seconds=31)
    second = await send_due_sms(app.state.db, app.state.cipher, gateway, now=later)
    third = await send_due_sms(app.state.db, app.state.cipher, gateway, now=later)
    assert (second.sent, third.sent) == (1, 0)
    assert len(platform.requests) == 2
    headers, body = platform.requests[-1]
    assert headers["authorization"] == "Bearer t0ken"
    assert body == {
        "template_id": "SMS_0001",
        "phone": "13912345678",
        "params": {"serial": serial, "centre": "青山镇便民服务中心"},
        "request_id": message.dedupe_key,
        "account": "qingshan",
    }
    (message,) = await texts(app)
    assert (message.status, message.attempts, message.gateway_ref) == ("sent", 2, "m2")


async def test_a_message_is_given_up_after_the_last_attempt(
    app: Starlette, personas: Personas, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    await decided(app, personas)
    monkeypatch.setattr(sms, "MAX_ATTEMPTS", 2)
    platform.statuses = [503, 503]
    gateway = HttpGateway(url=platform.url)
    now = dt.datetime.now(dt.UTC)
    await send_due_sms(app.state.db, app.state.cipher, gateway, now=now)
    report = await send_due_sms(
        app.state.db, app.state.cipher, gateway, now=now + dt.timedelta(hours=1)
    )
    assert report.given_up == 1
    (message,) = await texts(app)
    assert message.status == "given_up"
    later = await send_due_sms(
        app.state.db, app.state.cipher, gateway, now=now + dt.timedelta(days=1)
    )
    assert later.sent == 0 and len(platform.requests) == 2


def test_node_toml_chooses_the_gateway(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text('role = "township"\n', encoding="utf-8")
    assert isinstance(load_gateway(tmp_path), LogGateway)
    (tmp_path / "node.toml").write_text(
        'role = "township"\n[sms]\ngateway = "http"\nurl = "https://sms.example.gov.cn/send"\n'
        'token = "x"\ntimeout = 3\n[sms.templates]\nresult_ready = "SMS_9"\n',
        encoding="utf-8",
    )
    gateway = load_gateway(tmp_path)
    assert isinstance(gateway, HttpGateway)
    assert (gateway.url, gateway.timeout, gateway.templates) == (
        "https://sms.example.gov.cn/send",
        3.0,
        {"result_ready": "SMS_9"},
    )
    (tmp_path / "node.toml").write_text('[sms]\ngateway = "pigeon"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="log 或 http"):
        load_gateway(tmp_path)
