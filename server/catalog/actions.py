"""Every write to the catalogue: create, new version, retire, restore; townships' claims and
windows' authorisations.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.access import Forbidden
from server.auth.models import Role, User
from server.catalog.models import (
    CatalogItem,
    CatalogItemVersion,
    CatalogMaterial,
    TownshipItem,
    WindowItem,
)
from server.catalog.rules import ItemDraft, item_problems
from server.db import utcnow
from server.forms import ValidationFailed
from server.policy.queries import load_policy
from server.settings import Settings
from server.windows.models import Window


def require_catalogue_editor(actor: User | None, settings: Settings) -> None:
    """The county keeps the catalogue: only a county admin edits it.

    `actor` None is the node itself (the command line, the demo, later the sync that brings
    the county's catalogue down to a township).
    """
    if actor is None:
        return
    if settings.role != "county" or actor.role != Role.ADMIN:
        raise Forbidden("事项目录由县政务服务中心统一维护，乡镇只能查看")


async def _check(session: AsyncSession, draft: ItemDraft, item_id: int | None) -> None:
    errors = item_problems(draft, await load_policy(session))
    if "implementation_code" not in errors and draft.implementation_code:
        other = (
            await session.exec(
                select(CatalogItem).where(
                    CatalogItem.implementation_code == draft.implementation_code
                )
            )
        ).first()
        if other is not None and other.id != item_id:
            errors["implementation_code"] = (
                f"实施编码 {draft.implementation_code} 已被另一个事项使用"
            )
    if errors:
        raise ValidationFailed(errors)


async def _write_version(
    session: AsyncSession,
    item: CatalogItem,
    draft: ItemDraft,
    version: int,
    actor: User | None,
    change_note: str,
) -> CatalogItemVersion:
    row = CatalogItemVersion(
        item_id=item.id or 0,
        version=version,
        change_note=change_note,
        created_by_id=actor.id if actor else None,
        **draft.content(),
    )
    session.add(row)
    await session.flush()
    for position, material in enumerate(draft.materials, start=1):
        session.add(CatalogMaterial(version_id=row.id or 0, position=position, **vars(material)))
    return row


async def do_create_item(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: User | None,
    draft: ItemDraft,
    commit: bool = True,
) -> CatalogItem:
    require_catalogue_editor(actor, settings)
    await _check(session, draft, None)
    item = CatalogItem(basic_code=draft.basic_code, implementation_code=draft.implementation_code)
    session.add(item)
    await session.flush()
    await _write_version(session, item, draft, 1, actor, "新建")
    do_record_audit(
        session=session,
        actor_id=actor.id if actor else None,
        action="catalog.create",
        target=f"item:{item.id}",
        name=draft.name,
    )
    if commit:
        await _commit(session)
    return item


async def do_update_item(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: User | None,
    item: CatalogItem,
    draft: ItemDraft,
    change_note: str = "",
    commit: bool = True,
) -> CatalogItemVersion:
    """Save the draft as the item's next version; the old versions stay as they were."""
    require_catalogue_editor(actor, settings)
    if item.status != "active":
        raise ValidationFailed({"name": "这个事项已停用，请先恢复再修改"})
    await _check(session, draft, item.id)
    item.basic_code = draft.basic_code
    item.implementation_code = draft.implementation_code
    item.current_version += 1
    session.add(item)
    row = await _write_version(
        session, item, draft, item.current_version, actor, change_note.strip()[:500] or "修改"
    )
    do_record_audit(
        session=session,
        actor_id=actor.id if actor else None,
        action="catalog.update",
        target=f"item:{item.id}",
        version=row.version,
    )
    if commit:
        await _commit(session)
    return row


async def _commit(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ValidationFailed(
            {"implementation_code": "实施编码刚被另一个事项使用，请核对"}
        ) from None


async def do_set_item_status(
    *, session: AsyncSession, settings: Settings, actor: User, item: CatalogItem, active: bool
) -> None:
    """Retire (停用) or restore an item. Nothing is deleted: cases keep their version."""
    require_catalogue_editor(actor, settings)
    item.status = "active" if active else "retired"
    item.retired_at = None if active else utcnow()
    session.add(item)
    do_record_audit(
        session=session,
        actor_id=actor.id,
        action="catalog.restore" if active else "catalog.retire",
        target=f"item:{item.id}",
    )
    await session.commit()


@dataclass(frozen=True)
class Authorisation:
    item_id: int
    can_accept: bool
    can_decide: bool
    can_deliver: bool


def require_centre_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden("只有本中心的系统管理员可以设置")


async def do_set_claims(*, session: AsyncSession, actor: User, item_ids: set[int]) -> None:
    """The items the actor's centre handles: exactly `item_ids` (active items only)."""
    require_centre_admin(actor)
    active = set(
        (await session.exec(select(CatalogItem.id).where(CatalogItem.status == "active"))).all()
    )
    unknown = item_ids - active
    if unknown:
        raise ValidationFailed({"items": "有事项不存在或已停用，请刷新页面后重新选择"})
    unit = actor.org_unit_code
    await session.exec(
        delete(TownshipItem).where(
            col(TownshipItem.org_unit_code) == unit, col(TownshipItem.item_id).not_in(item_ids)
        )
    )
    have = set(
        (
            await session.exec(
                select(TownshipItem.item_id).where(TownshipItem.org_unit_code == unit)
            )
        ).all()
    )
    for item_id in sorted(item_ids - have):
        session.add(TownshipItem(org_unit_code=unit, item_id=item_id))
    do_record_audit(
        session=session,
        actor_id=actor.id,
        action="catalog.claims",
        target=f"org:{unit}",
        count=len(item_ids),
    )
    await session.commit()


async def do_set_window_items(
    *, session: AsyncSession, actor: User, window: Window, grants: list[Authorisation]
) -> None:
    """What the window may accept, decide and deliver; only items the centre handles."""
    require_centre_admin(actor)
    claimed = set(
        (
            await session.exec(
                select(TownshipItem.item_id).where(
                    TownshipItem.org_unit_code == window.org_unit_code
                )
            )
        ).all()
    )
    if any(grant.item_id not in claimed for grant in grants):
        raise ValidationFailed({"items": "只能授权本中心已认领的事项"})
    await session.exec(delete(WindowItem).where(col(WindowItem.window_id) == window.id))
    for grant in grants:
        if grant.can_accept or grant.can_decide or grant.can_deliver:
            session.add(
                WindowItem(
                    window_id=window.id or 0,
                    item_id=grant.item_id,
                    can_accept=grant.can_accept,
                    can_decide=grant.can_decide,
                    can_deliver=grant.can_deliver,
                )
            )
    do_record_audit(
        session=session,
        actor_id=actor.id,
        action="window.items",
        target=f"window:{window.id}",
        count=len(grants),
    )
    await session.commit()
