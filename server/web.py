"""Cross-cutting HTTP middleware: identity, CSRF, security headers, request logs.

Identity runs once for the pages and the API alike: a bearer token (API clients) or the
session cookie (browsers) becomes `scope["user"]`, so both read who is asking the same way.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.auth.identity import resolve_identity
from server.db import Database
from server.forms import read_form

log = logging.getLogger("yichuang.request")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 25 * 1024 * 1024
SKIP_IDENTITY = ("/static/", "/favicon.ico")
# Node-to-node and phone-to-township sync: sealed envelopes are their own authentication;
# no cookie counts there.
ENVELOPE_PATHS = ("/api/sync/", "/api/agent/sync")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "manifest-src 'self'",
        "worker-src 'self'",
    ]
)


class IdentityMiddleware:
    def __init__(self, app: ASGIApp, *, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["user"], scope["auth_via"] = None, None
            if not scope["path"].startswith(SKIP_IDENTITY):
                async with self.db.session() as session:
                    scope["user"], scope["auth_via"] = await resolve_identity(scope, session)
        await self.app(scope, receive, send)


def _same_origin(headers: Headers) -> bool:
    """An Origin header, when the browser sends one, must name this very host."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == headers.get("host", "")


class CsrfMiddleware:
    """Every unsafe request from a browser carries the session's token, in the form or a header.

    Requests with an Authorization header are machine clients: they carry no cookie authority
    (identity ignores the cookie then), so there is nothing to forge.
    """

    def __init__(self, app: ASGIApp, *, reject: ASGIApp) -> None:
        self.app = app
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "authorization" in headers or scope["path"].startswith(ENVELOPE_PATHS):
            await self.app(scope, receive, send)
            return
        body, too_large = await _read_body(receive)
        replay = _replay(body)
        expected = scope["session"].get("csrf")
        supplied = headers.get("x-csrf-token")
        content_type = headers.get("content-type", "")
        if too_large:
            scope["csrf_failure"] = "too_large"
        elif not _same_origin(headers):
            scope["csrf_failure"] = "origin"
        else:
            if supplied is None and content_type.startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                try:
                    form = await read_form(Request(scope, _replay(body)))  # files kept in memory
                except HTTPException:
                    scope["csrf_failure"] = "malformed"
                else:
                    value = form.get("csrf_token")
                    supplied = value if isinstance(value, str) else None
                    await form.close()
            if "csrf_failure" not in scope and not (
                expected and supplied and secrets.compare_digest(expected, supplied)
            ):
                scope["csrf_failure"] = "token"
        if "csrf_failure" in scope:
            await self.reject(scope, replay, send)
            return
        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestLogMiddleware:
    """One JSON line per request: method, path, status, duration, user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        method, path = scope["method"], scope["path"]  # before a mount rewrites the scope

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            user = scope.get("user")
            log.info(
                json.dumps(
                    {
                        "method": method,
                        "path": path,
                        "status": status,
                        "ms": round((time.perf_counter() - start) * 1000, 1),
                        "user": getattr(user, "id", None),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                    ensure_ascii=False,
                )
            )
