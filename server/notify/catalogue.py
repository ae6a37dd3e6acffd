"""A new catalogue version: everyone is told once, on their next sign-in.

On sign-in the user gets one notification naming how many items changed since the last one
they were told about (or, the first time, since their account was made); its dedupe key holds
the newest version's row id, so signing in again tells nothing until another version comes.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import User
from server.catalog.models import CatalogItemVersion
from server.notify.actions import do_notify
from server.notify.models import Notification

PREFIX = "catalog:"


async def do_notify_catalogue_on_sign_in(session: AsyncSession, *, user: User) -> bool:
    """Tell the user about catalogue versions newer than the last they heard of; commits."""
    query = (
        select(Notification.dedupe_key)
        .where(Notification.user_id == user.uid, Notification.kind == "catalog")
        .order_by(col(Notification.id).desc())
        .limit(1)
    )
    last = (await session.exec(query)).first()
    newer = select(CatalogItemVersion.id, CatalogItemVersion.item_id)
    if last is not None and last.removeprefix(PREFIX).isdigit():
        newer = newer.where(col(CatalogItemVersion.id) > int(last.removeprefix(PREFIX)))
    else:
        newer = newer.where(col(CatalogItemVersion.created_at) > user.created_at)
    rows = (await session.exec(newer)).all()
    if not rows:
        return False
    newest = max(row_id or 0 for row_id, _item in rows)
    items = len({item for _row, item in rows})
    await do_notify(
        session,
        recipients=[user.uid],
        kind="catalog",
        title="事项目录已更新",
        text=f"自您上次收到提醒以来，有 {items} 个事项发布了新版本，请查看事项目录。",
        link="/catalog",
        dedupe_key=f"{PREFIX}{newest}",
    )
    await session.commit()
    return True
