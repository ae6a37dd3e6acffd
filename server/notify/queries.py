"""Read-only lookups of the notification centre: pages, counts, preferences."""

from __future__ import annotations

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.notify.actions import unread_count
from server.notify.models import KINDS, MANDATORY, Notification, NotificationPreference
from server.users.queries import Page

PAGE_SIZE = 20

__all__ = [
    "PAGE_SIZE",
    "enabled_kinds",
    "newest_id",
    "newest_unread",
    "notification_page",
    "unread_count",
]


async def notification_page(
    session: AsyncSession, user_id: int, *, page: int = 1, size: int = PAGE_SIZE
) -> Page[Notification]:
    """The user's notifications, newest first, one page."""
    total = int(
        (await session.exec(select(func.count()).where(col(Notification.user_id) == user_id))).one()
    )
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    query = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(col(Notification.id).desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    items = list((await session.exec(query)).all())
    return Page(items=items, number=page, size=size, total=total)


async def newest_id(session: AsyncSession, user_id: int) -> int:
    query = select(func.max(Notification.id)).where(col(Notification.user_id) == user_id)
    return int((await session.exec(query)).one() or 0)


async def enabled_kinds(session: AsyncSession, user_id: int) -> set[str]:
    query = select(NotificationPreference.kind).where(
        NotificationPreference.user_id == user_id, col(NotificationPreference.enabled).is_(False)
    )
    off = set((await session.exec(query)).all())
    return {kind for kind in KINDS if kind not in off or kind in MANDATORY}


async def newest_unread(session: AsyncSession, user_id: int) -> Notification | None:
    """The user's newest notification not read yet."""
    query = (
        select(Notification)
        .where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
        .order_by(col(Notification.id).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()
