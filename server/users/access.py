"""access_user_by_id: the only way to load an account for someone who wants to manage it."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.access import MANAGE_USERS, NotFound, require_role
from server.auth.models import User
from server.org.codes import within


async def access_user_by_id(session: AsyncSession, actor: User, user_id: int) -> User:
    """An admin may manage the accounts of their own centre and the villages below it."""
    require_role(actor, MANAGE_USERS)
    user = await session.get(User, user_id)
    if user is None or not within(user.org_unit_code, actor.org_unit_code):
        raise NotFound("没有找到这个用户")
    return user
