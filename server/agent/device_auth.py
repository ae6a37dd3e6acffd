"""Requests an enrolled phone signs: who the agent is when the session has ended.

A village agent works offline for days, far longer than a session lives (30 minutes idle), yet
the phone must still send photos (server/agent/uploads.py) and hear of new messages
(`GET /api/agent/notifications/unread`, asked by the service worker on every sync). Such a
request carries the phone's enrolled device key (server/agent/devices.py):

    Authorization: YC-Device <key id, hex>:<signature, base64url>

the signature being the device's ECDSA P-256 (P1363, as pwa/js/keys.js and pwa/sw/push.js
sign) over `yc-upload-v1 \\n METHOD \\n raw path \\n query string \\n SHA-256 of the body (hex)`.
The label is the first user's name and stays, since enrolled phones sign with it. A signature
names one exact request; replaying it repeats that request, so only idempotent requests and
answers without personal data take it. A request with an Authorization header carries no
cookie authority (server/web.py), so it needs no CSRF token. A revoked or unknown device is a
401 with a Chinese reason. Without the header, the session's agent counts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard
from starlette.exceptions import HTTPException

from server.agent.devices import device_sender
from server.auth.access import Forbidden, current_user
from server.auth.models import Role, User
from server.db import Database

DEVICE_SCHEME = "yc-device"
SIGNED_LABEL = "yc-upload-v1"
DEVICE_REFUSED = "本机的签名无效，或本机已被停用：请联网登录，或请乡镇重新登记本机"
SCOPE_KEY = "device_agent"


def signed_message(method: str, raw_path: bytes, query: bytes, body: bytes) -> bytes:
    """What a device signs for one request."""
    digest = hashlib.sha256(body).hexdigest().encode()
    return b"\n".join([SIGNED_LABEL.encode(), method.upper().encode(), raw_path, query, digest])


async def _device_agent(request: Request[Any, Any, Any], credential: str) -> User:
    key_hex, _, signature_text = credential.strip().partition(":")
    try:
        key_id = bytes.fromhex(key_hex)
        signature = base64.urlsafe_b64decode(signature_text + "=" * (-len(signature_text) % 4))
    except (ValueError, binascii.Error):
        raise HTTPException(401, DEVICE_REFUSED) from None
    scope = request.scope
    message = signed_message(
        scope["method"],
        (scope.get("raw_path") or scope["path"].encode()).split(b"?")[0],  # some put it there
        scope.get("query_string", b""),
        await request.body(),
    )
    async with cast(Database, request.app.state.db).session() as session:
        found = await device_sender(session, key_id)
    if found is None or not found[2].verify(signature, message):
        raise HTTPException(401, DEVICE_REFUSED)
    return found[1]


def agent_guard(refusal: str) -> Guard:
    """A guard (run before the handler reads the body): a village agent, by the phone's
    signature or by the session; `refusal` is what anyone else signed in is told (403)."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
    ) -> None:
        scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == DEVICE_SCHEME:
            agent = await _device_agent(cast(Request[Any, Any, Any], connection), credential)
        else:
            agent = current_user(connection)
            if agent.role != Role.VILLAGE_AGENT:
                raise Forbidden(refusal)
        connection.scope[SCOPE_KEY] = agent  # type: ignore[literal-required]

    return guard


def device_agent(request: Request[Any, Any, Any]) -> User:
    """The agent a guard of `agent_guard` let through."""
    return cast(User, cast(dict[str, Any], request.scope)[SCOPE_KEY])
