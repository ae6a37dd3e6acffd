"""Sessions in a signed cookie (itsdangerous), and the CSRF token that lives in them.

The cookie holds the user id, the user's session epoch (bumped on password change, so older
cookies die), the CSRF token, when the session began (`since`) and when it was last used
(`seen`). It is HttpOnly and SameSite=Lax, and Secure whenever the request came over HTTPS
(directly or through Caddy).

A signed-in session ends `max_age` after it began however busy it is (12 h: one working day),
and after `idle` without a request (30 min: a PC at a public window left signed in must not
stay open to the next person in the queue). `seen` is rewritten at most once a minute, so an
active page does not send a new cookie with every response. The request that finds its
session ended carries `scope["session_ended"]`, so the sign-in page can say why.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "yc_session"
TOUCH_SECONDS = 60  # how stale `seen` may get before the cookie is rewritten


class Session(dict[str, Any]):
    """The session dict; writing to it marks it for a new cookie."""

    modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        self.modified = True
        return super().pop(key, *default)


def begin(session: Session | dict[str, Any], user_id: int, epoch: int) -> None:
    """A fresh signed-in session: nothing carried over, the clocks started, a new CSRF token."""
    session.clear()
    now = int(time.time())
    session["uid"] = user_id
    session["epoch"] = epoch
    session["since"] = now
    session["seen"] = now
    csrf_token(session)


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


class SessionMiddleware:
    def __init__(self, app: ASGIApp, *, secret_key: bytes, max_age: int, idle: int) -> None:
        self.app = app
        self.signer = TimestampSigner(secret_key, salt="yichuang.session")
        self.max_age = max_age
        self.idle = idle

    def _check_age(self, scope: Scope, session: Session) -> None:
        """End a signed-in session that is too old or was idle too long; touch a live one."""
        if "uid" not in session:
            return
        now = int(time.time())
        since, seen = session.get("since"), session.get("seen")
        if not isinstance(since, int) or not isinstance(seen, int):
            ended = True
        else:
            ended = now - since > self.max_age or now - seen > self.idle
        if ended:
            session.clear()
            scope["session_ended"] = True
        elif now - seen >= TOUCH_SECONDS:  # type: ignore[operator]
            session["seen"] = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session = Session()
        raw = connection.cookies.get(COOKIE_NAME)
        if raw:
            try:
                payload = self.signer.unsign(raw.encode(), max_age=self.max_age)
                data = json.loads(base64.urlsafe_b64decode(payload))
                if isinstance(data, dict):
                    dict.update(session, data)
            except (BadSignature, ValueError, binascii.Error):
                session.modified = True  # drop the bad cookie
        self._check_age(scope, session)
        scope["session"] = session
        secure = scope.get("scheme") in ("https", "wss")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.modified:
                headers = MutableHeaders(scope=message)
                flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
                if session:
                    # Base64url: a cookie value may not hold the quotes and commas of JSON.
                    payload = json.dumps(dict(session), separators=(",", ":")).encode()
                    value = self.signer.sign(base64.urlsafe_b64encode(payload)).decode()
                    cookie = f"{COOKIE_NAME}={value}; Max-Age={self.max_age}{flags}"
                else:
                    cookie = f"{COOKIE_NAME}=; Max-Age=0{flags}"
                headers.append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)
