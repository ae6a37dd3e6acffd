"""access_case_by_id: the only way to load a case for a user.

A village agent sees the cases they filed; a centre's staff the cases of their centre (and of
its villages); the county the cases its townships sent up. Anyone else is told the case does
not exist, so an id or a serial reveals nothing.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.access import NotFound
from server.auth.models import Role, User
from server.cases.models import CaseRecord
from server.org.codes import within


def may_see_case(actor: User, case: CaseRecord) -> bool:
    if actor.role == Role.VILLAGE_AGENT:
        return case.proxy_user_id == actor.id
    return within(case.org_unit_code, actor.org_unit_code)


async def access_case_by_id(session: AsyncSession, actor: User, case_id: str) -> CaseRecord:
    case = await session.get(CaseRecord, case_id)
    if case is None or not may_see_case(actor, case):
        raise NotFound("没有找到这个办件")
    return case
