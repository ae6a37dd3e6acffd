"""One-time enrolment codes (接入码) and the join link that carries one.

A code is 16 characters from Crockford's base32 alphabet (no I, L, O or U: nothing to misread
on a phone call), 80 random bits, shown in four groups of four: `7KQ2-M9XD-4HTB-W3RC`.
Normalising forgives what people do when typing one: lower case, spaces or hyphens, O for 0,
I or L for 1. Only the SHA-256 of the normalised code is stored, so the table gives nothing
away. The join link is `<county address>/#join=<code>`: the code sits in the fragment, which
a browser never sends, so opening the link by mistake leaves it in no server's log.
`claim_code` spends a code, once, for both kinds (a township's 接入码, a phone's 登记码).
Source: Crockford, "Base32 Encoding" (https://www.crockford.com/base32.html).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 16 × 5 = 80 bits
GROUP = 4
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_\t\u3000")
JOIN_FRAGMENT = "join="


def new_code() -> str:
    """A fresh code, grouped for reading out."""
    return format_code("".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)))


def normalise_code(text: str) -> str:
    """The canonical form (16 characters, no separators), or "" when it cannot be a code."""
    code = text.upper().translate(_SEPARATORS).translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return ""
    return code


def format_code(code: str) -> str:
    """`7KQ2M9XD4HTBW3RC` as `7KQ2-M9XD-4HTB-W3RC`."""
    return "-".join(code[start : start + GROUP] for start in range(0, len(code), GROUP))


def code_hash(code: str) -> str:
    """SHA-256 hex of the normalised code: what the county stores and looks up."""
    return hashlib.sha256(normalise_code(code).encode("ascii")).hexdigest()


class OneTimeCode(Protocol):
    """A table of one-time codes: keyed by the code's hash, spent when used_at is set."""

    code_hash: str
    used_at: dt.datetime | None


async def claim_code(
    *, session: AsyncSession, model: type[OneTimeCode], hashed: str, now: dt.datetime
) -> bool:
    """Mark the code used at `now` unless it already is; False (and the session rolled back)
    when another request spent it first. The UPDATE is conditional, so of two simultaneous
    enrolments with one code exactly one wins."""
    claimed = await session.exec(
        update(model)
        .where(col(model.code_hash) == hashed, col(model.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        await session.rollback()
        return False
    return True


class BadAddress(ValueError):
    """The county's address is not an http(s) address; the message says how to write it."""


def base_url(text: str) -> str:
    """A county's base address: http(s), no query or fragment, no trailing slash."""
    try:
        parts = urlsplit(text.strip())
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        _port = parts.port  # raises for a port that is not a number up to 65535
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 address)
        usable = False
    if not usable:
        raise BadAddress(
            "请填写县级服务器的网址，以 http:// 或 https:// 开头，例如 https://zwfw.example.gov.cn"
        )
    if parts.query:
        raise BadAddress("县级服务器网址不应带问号后的参数")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def join_link(base: str, code: str) -> str:
    """The link the county hands out (and puts in the QR code)."""
    return f"{base.rstrip('/')}/#{JOIN_FRAGMENT}{format_code(normalise_code(code))}"


def split_join_link(text: str) -> tuple[str, str]:
    """(base address, code) from a join link, or (base address, "") from a plain address."""
    address, _, fragment = text.strip().partition("#")
    code = fragment[len(JOIN_FRAGMENT) :] if fragment.startswith(JOIN_FRAGMENT) else ""
    return base_url(address), code
