"""One-time enrolment codes (接入码) and the join link that carries one.

A code is 16 characters from Crockford's base32 alphabet (no I, L, O or U: nothing to misread
on a phone call), 80 random bits, shown in four groups of four: `7KQ2-M9XD-4HTB-W3RC`.
Normalising forgives what people do when typing one: lower case, spaces or hyphens, O for 0,
I or L for 1. Only the SHA-256 of the normalised code is stored, so the table gives nothing
away. The join link is `<county address>/#join=<code>`: the code sits in the fragment, which
a browser never sends, so opening the link by mistake leaves it in no server's log.
Source: Crockford, "Base32 Encoding" (https://www.crockford.com/base32.html).
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

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
