"""Password hashing with argon2id, off the event loop; and the password rules."""

from __future__ import annotations

import anyio.to_thread
from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_LENGTH = 8
# Verified against when the account does not exist, so timing does not tell who exists.
_DUMMY_HASH = _hasher.hash("yichuang-no-such-user")


def use_parameters(parameters: Parameters) -> None:
    """Hash with other argon2id parameters from now on, in this process.

    For the test suite only, which creates hundreds of accounts: it still hashes and verifies
    for real, with the cheapest parameters. Nothing in the server calls this, and no setting
    or environment variable reaches it.
    """
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(parameters)
    _DUMMY_HASH = _hasher.hash("yichuang-no-such-user")


def password_problem(password: str) -> str | None:
    """A Chinese message saying what is wrong with a new password, or None."""
    if len(password) < MIN_LENGTH:
        return f"密码至少需要 {MIN_LENGTH} 位"
    if len(password) > 128:
        return "密码不能超过 128 位"
    if password.isdigit() or password.isalpha():
        return "密码需要同时包含字母和数字（或符号）"
    return None


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when the password matches; with no stored hash it takes as long and says False."""
    return await anyio.to_thread.run_sync(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
