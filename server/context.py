"""What a handler takes from the request besides the user: the database, the cipher, flashes."""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from starlette.requests import Request

from server.crypto.fields import FieldCipher
from server.db import Database
from server.settings import Settings


def get_db(request: Request) -> Database:
    return cast(Database, request.app.state.db)


def get_cipher(request: Request) -> FieldCipher:
    return cast(FieldCipher, request.app.state.cipher)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def flash(request: Request, message: str) -> None:
    """A one-line notice shown on the next page the user sees."""
    request.session["flash"] = message


def pop_flash(request: Request) -> str:
    message = request.session.get("flash")
    if message is not None:
        request.session.pop("flash")
    return message if isinstance(message, str) else ""


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never another host (open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def public_link(request: Request, path: str, query: str = "") -> str:
    """An absolute address for people outside (QR codes): the node's `public_url` when set,
    otherwise the address this request came by."""
    base = get_settings(request).public_url
    if base:
        return base + path + (f"?{query}" if query else "")
    return str(request.url.replace(path=path, query=query))
