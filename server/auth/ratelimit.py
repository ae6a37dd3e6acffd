"""Rate limiting of guesses, kept in the database so every worker process sees the same count.

Sign-in: an account is locked for a while after a few failures in a window, and so is an
address after many. The public progress page (办件查询) uses the same table with its own
`scope`: a serial number is its "account", so neither a serial nor an address can try more
than a few phone digits. Every count is a keyed hash whose context names the scope, so the
table holds no user names, serials or addresses, and the scopes never share a count.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import SignInFailure
from server.crypto.fields import FieldCipher
from server.db import utcnow

WINDOW = dt.timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 30


@dataclass(frozen=True)
class Limits:
    per_account: int  # failures per identifier (a user name, a serial) within WINDOW
    per_address: int  # failures per client address within WINDOW


SCOPES: dict[str, Limits] = {
    "signin": Limits(per_account=MAX_PER_ACCOUNT, per_address=MAX_PER_ADDRESS),
    # 办件查询: four digits are 10 000 guesses; ten per serial and per address per window.
    "progress": Limits(per_account=10, per_address=10),
    # Enrolment codes (接入码) have 80 random bits; this only keeps probing loud and slow.
    "enrol": Limits(per_account=5, per_address=10),
}


@dataclass(frozen=True)
class Throttle:
    account_key: str
    address_key: str
    scope: str = "signin"


def throttle_keys(
    cipher: FieldCipher, identifier: str, address: str, *, scope: str = "signin"
) -> Throttle:
    if scope not in SCOPES:
        raise ValueError(f"unknown rate-limit scope {scope!r}")
    return Throttle(
        account_key=cipher.blind_index(identifier.strip().lower(), context=f"{scope}.account"),
        address_key=cipher.blind_index(address, context=f"{scope}.address"),
        scope=scope,
    )


async def locked_minutes(session: AsyncSession, keys: Throttle) -> int:
    """Minutes until another try is allowed; 0 when it is allowed now."""
    since = utcnow() - WINDOW
    worst = 0
    limits = SCOPES[keys.scope]
    for key, limit in (
        (keys.account_key, limits.per_account),
        (keys.address_key, limits.per_address),
    ):
        query = select(func.count(), func.min(SignInFailure.at)).where(
            SignInFailure.key == key, col(SignInFailure.at) > since
        )
        count, oldest = (await session.exec(query)).one()
        if count >= limit and oldest is not None:
            remaining = (oldest + WINDOW - utcnow()).total_seconds()
            worst = max(worst, max(1, math.ceil(remaining / 60)))
    return worst


async def record_failure(session: AsyncSession, keys: Throttle) -> None:
    session.add(SignInFailure(key=keys.account_key))
    session.add(SignInFailure(key=keys.address_key))
    # Old rows are of no use: drop them as we go, so the table stays small.
    await session.exec(delete(SignInFailure).where(col(SignInFailure.at) < utcnow() - WINDOW))
    await session.commit()


async def clear_account(session: AsyncSession, keys: Throttle) -> None:
    await session.exec(delete(SignInFailure).where(col(SignInFailure.key) == keys.account_key))
    await session.commit()
