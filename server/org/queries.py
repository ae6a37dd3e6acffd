"""Read-only lookups of org units."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.org.codes import within
from server.org.models import OrgUnit


async def units_within(session: AsyncSession, root: str) -> list[OrgUnit]:
    """The unit and every active unit below it, the root first, then by code."""
    rows = (await session.exec(select(OrgUnit).where(col(OrgUnit.active)))).all()
    found = [unit for unit in rows if within(unit.code, root)]
    return sorted(found, key=lambda unit: (unit.code != root, unit.code))


async def unit_names(session: AsyncSession) -> dict[str, str]:
    return {unit.code: unit.name for unit in (await session.exec(select(OrgUnit))).all()}
