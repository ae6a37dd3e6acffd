"""Who is asking: the one check the pages and the API share.

A request with `Authorization: Bearer <token>` is a machine client and is judged by the token
alone; any other request by its session cookie. A disabled user, a revoked or expired token,
or a session older than the user's last password change is nobody.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import Headers

from server.auth.models import ApiToken, User
from server.auth.tokens import token_hash
from server.db import utcnow

TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=5)


async def resolve_identity(
    scope: MutableMapping[str, Any], session: AsyncSession
) -> tuple[User | None, str | None]:
    headers = Headers(scope=scope)
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return None, None
        user = await user_for_token(session, credential.strip())
        return (user, "token") if user else (None, None)
    data = scope.get("session") or {}
    uid, epoch = data.get("uid"), data.get("epoch")
    if not isinstance(uid, int) or not isinstance(epoch, int):
        return None, None
    user = await session.get(User, uid)
    if user is None or not user.active or user.session_epoch != epoch:
        return None, None
    return user, "session"


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    row = (
        await session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    ).first()
    now = utcnow()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
        session.add(row)
        await session.commit()
    return user
