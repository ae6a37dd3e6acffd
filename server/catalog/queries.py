"""Read-only lookups of the catalogue: search, an item's version, versions side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.access import NotFound
from server.catalog.models import (
    CatalogItem,
    CatalogItemVersion,
    CatalogMaterial,
    TownshipItem,
    WindowItem,
)
from server.catalog.rules import ItemDraft, MaterialDraft
from server.users.queries import PAGE_SIZE, Page


@dataclass(frozen=True)
class ItemView:
    """An item as one version shows it."""

    item: CatalogItem
    version: CatalogItemVersion
    materials: list[CatalogMaterial]

    def draft(self) -> ItemDraft:
        """The version as an editable draft (the edit form, export)."""
        content = {
            name: getattr(self.version, name)
            for name in ItemDraft.__dataclass_fields__
            if hasattr(self.version, name)
        }
        content |= {
            "basic_code": self.item.basic_code,
            "implementation_code": self.item.implementation_code,
        }
        draft = ItemDraft.from_dict(content)
        draft.materials = [
            MaterialDraft(
                name=m.name,
                issuer=m.issuer,
                originals=m.originals,
                copies=m.copies,
                required=m.required,
                gap_allowed=m.gap_allowed,
                note=m.note,
                sample=m.sample,
            )
            for m in self.materials
        ]
        return draft


@dataclass(frozen=True)
class ItemFilters:
    text: str = ""
    item_type: str = ""
    handling_kind: str = ""
    department: str = ""
    status: str = "active"


def _current() -> Any:
    return select(CatalogItem, CatalogItemVersion).join(
        CatalogItemVersion,
        (col(CatalogItemVersion.item_id) == CatalogItem.id)
        & (col(CatalogItemVersion.version) == CatalogItem.current_version),
    )


async def search_items(
    session: AsyncSession,
    filters: ItemFilters,
    *,
    page: int = 1,
    size: int = PAGE_SIZE,
    only_ids: set[int] | None = None,
) -> Page[tuple[CatalogItem, CatalogItemVersion]]:
    query = _current()
    if filters.text:
        like = f"%{filters.text}%"
        query = query.where(
            or_(
                col(CatalogItemVersion.name).like(like),
                col(CatalogItem.basic_code).like(like),
                col(CatalogItem.implementation_code).like(like.upper()),
            )
        )
    if filters.item_type:
        query = query.where(CatalogItemVersion.item_type == filters.item_type)
    if filters.handling_kind:
        query = query.where(CatalogItemVersion.handling_kind == filters.handling_kind)
    if filters.department:
        query = query.where(CatalogItemVersion.department == filters.department)
    if filters.status:
        query = query.where(CatalogItem.status == filters.status)
    if only_ids is not None:
        query = query.where(col(CatalogItem.id).in_(only_ids))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    rows = await session.exec(
        query.order_by(col(CatalogItem.basic_code)).offset((page - 1) * size).limit(size)
    )
    return Page(
        items=[(item, version) for item, version in rows.all()], number=page, size=size, total=total
    )


async def departments(session: AsyncSession) -> list[str]:
    query = _current().where(CatalogItem.status == "active")
    names = {version.department for _item, version in (await session.exec(query)).all()}
    return sorted(name for name in names if name)


async def item_view(session: AsyncSession, item_id: int, version: int | None = None) -> ItemView:
    """An item at a version (the current one by default); not found says so in Chinese."""
    item = await session.get(CatalogItem, item_id)
    if item is None:
        raise NotFound("没有这个事项")
    number = version or item.current_version
    row = (
        await session.exec(
            select(CatalogItemVersion).where(
                CatalogItemVersion.item_id == item_id, CatalogItemVersion.version == number
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"这个事项没有第 {number} 版")
    materials = (
        await session.exec(
            select(CatalogMaterial)
            .where(CatalogMaterial.version_id == row.id)
            .order_by(col(CatalogMaterial.position))
        )
    ).all()
    return ItemView(item, row, list(materials))


async def item_by_code(session: AsyncSession, code: str) -> ItemView:
    """By implementation code (the public guide's address) or, failing that, basic code."""
    item = (
        await session.exec(
            select(CatalogItem)
            .where(
                or_(CatalogItem.implementation_code == code.upper(), CatalogItem.basic_code == code)
            )
            .order_by(col(CatalogItem.id))
        )
    ).first()
    if item is None or item.id is None:
        raise NotFound("没有这个事项，请核对事项编码")
    return await item_view(session, item.id)


async def versions_of(session: AsyncSession, item_id: int) -> list[CatalogItemVersion]:
    return list(
        (
            await session.exec(
                select(CatalogItemVersion)
                .where(CatalogItemVersion.item_id == item_id)
                .order_by(col(CatalogItemVersion.version).desc())
            )
        ).all()
    )


async def claimed_item_ids(session: AsyncSession, org_unit_code: str) -> set[int]:
    return set(
        (
            await session.exec(
                select(TownshipItem.item_id).where(TownshipItem.org_unit_code == org_unit_code)
            )
        ).all()
    )


async def window_grants(session: AsyncSession, window_id: int) -> dict[int, WindowItem]:
    rows = (await session.exec(select(WindowItem).where(WindowItem.window_id == window_id))).all()
    return {row.item_id: row for row in rows}


async def all_current(session: AsyncSession, *, active_only: bool = True) -> list[ItemView]:
    """Every item at its current version with its materials, in code order (export, API)."""
    query = _current()
    if active_only:
        query = query.where(CatalogItem.status == "active")
    pairs = (await session.exec(query.order_by(col(CatalogItem.basic_code)))).all()
    version_ids = [version.id for _item, version in pairs]
    materials: dict[int, list[CatalogMaterial]] = {}
    if version_ids:
        rows = await session.exec(
            select(CatalogMaterial)
            .where(col(CatalogMaterial.version_id).in_(version_ids))
            .order_by(col(CatalogMaterial.position))
        )
        for material in rows.all():
            materials.setdefault(material.version_id, []).append(material)
    return [ItemView(item, version, materials.get(version.id or 0, [])) for item, version in pairs]
