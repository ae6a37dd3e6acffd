"""access_window_by_id: the only way to load a window for a user."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.access import VIEW_WINDOWS, NotFound, require_role
from server.auth.models import User
from server.windows.models import Window


async def access_window_by_id(session: AsyncSession, actor: User, window_id: int) -> Window:
    """Windows belong to a centre; its admin, window leads and supervisors may open them."""
    require_role(actor, VIEW_WINDOWS)
    window = await session.get(Window, window_id)
    if window is None or window.org_unit_code != actor.org_unit_code:
        raise NotFound("没有找到这个窗口")
    return window
