"""Loads the demo catalogue (server/catalog/demo_items.py), the centre's claims and the demo
windows' authorisations. Re-running adds nothing twice.
"""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.catalog.actions import Authorisation, do_create_item
from server.catalog.demo_items import DEMO_ITEMS
from server.catalog.models import CatalogItem, TownshipItem, WindowItem
from server.catalog.queries import all_current
from server.catalog.rules import ItemDraft
from server.settings import Settings
from server.windows.queries import windows_of_unit


async def load_demo_catalogue(session: AsyncSession, settings: Settings) -> int:
    """Create the demo items that are missing; claim and authorise them. Returns how many."""
    have = set((await session.exec(select(CatalogItem.implementation_code))).all())
    created = 0
    for data in DEMO_ITEMS:
        if data["implementation_code"] in have:
            continue
        await do_create_item(
            session=session,
            settings=settings,
            actor=None,
            draft=ItemDraft.from_dict(data),
            commit=False,
        )
        created += 1
    await session.commit()
    views = await all_current(session)
    # A township handles everything in the demo list; the county decides the relayed items.
    mine = [v for v in views if settings.role == "township" or v.version.handling_kind == "relayed"]
    claimed = set(
        (
            await session.exec(
                select(TownshipItem.item_id).where(
                    TownshipItem.org_unit_code == settings.region_code
                )
            )
        ).all()
    )
    for view in mine:
        if view.item.id not in claimed:
            session.add(TownshipItem(org_unit_code=settings.region_code, item_id=view.item.id or 0))
    windows = await windows_of_unit(session, settings.region_code)
    for window in windows:
        existing = (
            await session.exec(select(WindowItem).where(WindowItem.window_id == window.id))
        ).first()
        if existing is not None:
            continue
        for view in mine:
            grant = _demo_grant(
                window.is_general, view.version.department, view.item.id or 0, settings.role
            )
            if grant is not None:
                session.add(WindowItem(window_id=window.id or 0, **vars(grant)))
    await session.commit()
    return created


def _demo_grant(general: bool, department: str, item_id: int, role: str) -> Authorisation | None:
    """The general window accepts and delivers everything; the other window decides its own."""
    if general:
        return Authorisation(item_id, can_accept=True, can_decide=False, can_deliver=True)
    if role == "county" or "社会保障" in department or "社保" in department:
        return Authorisation(item_id, can_accept=True, can_decide=True, can_deliver=True)
    return None
