"""Personal API tokens: shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "yc_"  # noqa: S105 (a marker that makes leaked tokens easy to find, not a secret)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # The token is 256 random bits, so a plain hash is enough: there is nothing to guess.
    return hashlib.sha256(token.encode()).hexdigest()
