"""Sign-in rate limiting, kept in the database so every worker process sees the same count.

An account is locked for a while after a few failures in a window, and so is an address after
many; both counts are keyed hashes, so the table holds no user names or addresses.
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
class Throttle:
    account_key: str
    address_key: str


def throttle_keys(cipher: FieldCipher, identifier: str, address: str) -> Throttle:
    return Throttle(
        account_key=cipher.blind_index(identifier.strip().lower(), context="signin.account"),
        address_key=cipher.blind_index(address, context="signin.address"),
    )


async def locked_minutes(session: AsyncSession, keys: Throttle) -> int:
    """Minutes until another try is allowed; 0 when it is allowed now."""
    since = utcnow() - WINDOW
    worst = 0
    for key, limit in ((keys.account_key, MAX_PER_ACCOUNT), (keys.address_key, MAX_PER_ADDRESS)):
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
