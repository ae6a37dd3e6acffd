"""Creating org units (the node's own, its parent, its villages)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from server.org.codes import Level, RegionCodeError, validate
from server.org.models import OrgUnit
from server.settings import Settings


async def do_ensure_org_unit(
    *, session: AsyncSession, code: str, name: str, level: Level, parent_code: str | None = None
) -> OrgUnit:
    """Create the unit if it does not exist yet (and keep its name up to date); no commit."""
    code = validate(code, level, parent_code or "")
    if parent_code and await session.get(OrgUnit, parent_code) is None:
        raise RegionCodeError(f"上级单位 {parent_code} 还不存在，请先添加它")
    unit = await session.get(OrgUnit, code)
    if unit is None:
        unit = OrgUnit(code=code, name=name, level=level, parent_code=parent_code)
    else:
        unit.name = name
    session.add(unit)
    await session.flush()
    return unit


async def do_ensure_node_units(*, session: AsyncSession, settings: Settings) -> OrgUnit:
    """The node's own unit (and its parent's) exist and carry their configured names."""
    parent: str | None = None
    if settings.parent_region_code:
        await do_ensure_org_unit(
            session=session,
            code=settings.parent_region_code,
            name=settings.parent_name or settings.parent_region_code,
            level="county",
        )
        parent = settings.parent_region_code
    level: Level = "county" if settings.role == "county" else "township"
    unit = await do_ensure_org_unit(
        session=session,
        code=settings.region_code,
        name=settings.name,
        level=level,
        parent_code=parent,
    )
    await session.commit()
    return unit
