"""Read-only lookups of windows and of who may staff them."""

from __future__ import annotations

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import Role, User
from server.windows.models import Window

STAFF_ROLES = (Role.CLERK, Role.WINDOW_LEAD)


async def windows_of_unit(session: AsyncSession, org_unit_code: str) -> list[Window]:
    query = (
        select(Window)
        .where(Window.org_unit_code == org_unit_code)
        .order_by(col(Window.active).desc(), col(Window.number))
    )
    return list((await session.exec(query)).all())


async def windows_of_user(session: AsyncSession, user: User) -> list[Window]:
    query = (
        select(Window)
        .where(col(Window.active), or_(Window.post_a_id == user.id, Window.post_b_id == user.id))
        .order_by(col(Window.number))
    )
    return list((await session.exec(query)).all())


async def window_staff(session: AsyncSession, org_unit_code: str) -> list[User]:
    """Active clerks and window leads of the centre: who may hold an A or B post."""
    query = (
        select(User)
        .where(
            User.org_unit_code == org_unit_code, col(User.active), col(User.role).in_(STAFF_ROLES)
        )
        .order_by(col(User.display_name))
    )
    return list((await session.exec(query)).all())
