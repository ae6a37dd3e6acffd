"""The only way to load a notification for a user: one's own, or not found."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.access import NotFound
from server.auth.models import User
from server.notify.models import Notification


async def access_notification_by_id(
    session: AsyncSession, user: User, notification_id: int
) -> Notification:
    """The user's own notification; another user's is "not found", never "forbidden"."""
    in_column = 0 < notification_id < 2**31  # a longer number in the address is none either
    row = await session.get(Notification, notification_id) if in_column else None
    if row is None or row.user_id != user.uid:
        raise NotFound("没有找到这条消息")
    return row
