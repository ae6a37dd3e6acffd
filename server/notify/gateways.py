"""SMS gateways: where a text to an applicant goes. Configured in node.toml's `[sms]` table.

- `LogGateway` (the default): sends nothing; logs the template, the masked number and the
  text, so an operator sees what would have gone out (the `sms_message` table keeps it too).
- `HttpGateway`: a JSON POST to the government SMS platform's URL with the template id, the
  number, the template's values and our message key (`request_id`, so the platform can drop a
  repeat if we retry after a lost answer), with a bearer token; a 2xx answer is success,
  anything else (or a timeout) a failure to retry.

```toml
[sms]
gateway = "http"                      # "log" (default) or "http"
url = "https://sms.example.gov.cn/api/send"
account = "qingshan"                  # optional, sent as "account"
token = "…"                           # sent as Authorization: Bearer …
timeout = 10                          # seconds
[sms.templates]
result_ready = "SMS_0001"             # the platform's id of each of our templates
```
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from server.settings import SETTINGS_FILE, SettingsError

log = logging.getLogger("yichuang.sms")

# Our templates: Chinese, the serial and the centre only (no name, number or address).
TEMPLATES: dict[str, str] = {
    "result_ready": "您的办件{serial}已办结，请携带身份证到{centre}领取。",
}


class GatewayFailed(Exception):
    """The gateway did not take the message; the text says why (kept as last_error)."""


@dataclass(frozen=True)
class Sent:
    reference: str = ""  # the gateway's id of the message, when it gives one


class SmsGateway(Protocol):
    async def send(
        self, *, phone: str, template: str, params: dict[str, str], request_id: str
    ) -> Sent: ...


def render_text(template: str, params: dict[str, str]) -> str:
    return TEMPLATES[template].format(**params)


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


class LogGateway:
    """Writes what would be sent to the log; never fails."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (masked number, text), for tests and demos

    async def send(
        self, *, phone: str, template: str, params: dict[str, str], request_id: str
    ) -> Sent:
        text = render_text(template, params)
        self.sent.append((masked(phone), text))
        log.info("sms (log gateway) to=%s id=%s text=%s", masked(phone), request_id, text)
        return Sent(reference=f"log:{request_id}")


@dataclass
class HttpGateway:
    url: str
    token: str = field(default="", repr=False)
    account: str = ""
    templates: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None  # tests inject one; None: the network

    async def send(
        self, *, phone: str, template: str, params: dict[str, str], request_id: str
    ) -> Sent:
        payload: dict[str, object] = {
            "template_id": self.templates.get(template, template),
            "phone": phone,
            "params": params,
            "request_id": request_id,
        }
        if self.account:
            payload["account"] = self.account
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, transport=self.transport, trust_env=False
            ) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError as problem:
            raise GatewayFailed(f"短信平台连接失败：{type(problem).__name__}") from None
        if not response.is_success:
            raise GatewayFailed(f"短信平台返回 HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        reference = str(answer.get("id", "")) if isinstance(answer, dict) else ""
        return Sent(reference=reference[:100])


def load_gateway(data_dir: Path) -> SmsGateway:
    """The gateway node.toml's `[sms]` names (the log gateway when there is none)."""
    path = data_dir / SETTINGS_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} 格式有误：{exc}") from exc
    sms = raw.get("sms", {})
    kind = str(sms.get("gateway", "log"))
    if kind == "log":
        return LogGateway()
    if kind != "http":
        raise SettingsError(f"{path}: [sms] gateway 应为 log 或 http，现在是 {kind!r}")
    url = str(sms.get("url", ""))
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{path}: [sms] url 应是短信平台的 http(s) 地址")
    templates = sms.get("templates", {})
    return HttpGateway(
        url=url,
        token=str(sms.get("token", "")),
        account=str(sms.get("account", "")),
        templates={str(k): str(v) for k, v in templates.items()},
        timeout=float(sms.get("timeout", 10)),
    )
