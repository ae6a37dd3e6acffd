"""Who is who for a case on this node: local actors, the relaying clerk, window staff.

User ids are local to a node, so an event's actor (`<node region>/<user id>`) names one of
this node's users only when its region is this node's (`here`). A case received from another
node carries no local first responsible or village agent (the ingest leaves them empty).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import Role, User
from server.cases.models import CaseEvent, CaseRecord
from server.catalog.models import WindowItem
from server.windows.models import Window


def local_user_id(actor: str, here: str) -> int | None:
    """The user id in an actor reference, when the actor is one of this node's users."""
    region, _, uid = actor.partition("/")
    return int(uid) if region == here and uid.isdigit() else None


async def relaying_clerk(session: AsyncSession, case: CaseRecord, here: str) -> int | None:
    """The local user who relayed the case to the county (its last `relay` event)."""
    query = (
        select(CaseEvent.actor)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "relay")
        .order_by(col(CaseEvent.seq).desc())
        .limit(1)
    )
    actor = (await session.exec(query)).first()
    return local_user_id(actor, here) if actor else None


async def window_staff(
    session: AsyncSession, *, centre: str, item_id: int, deciding: bool
) -> list[int]:
    """The A and B posts of the centre's active windows authorised for the item (to decide,
    or to accept: a general window accepts every item); else the centre's window leads."""
    authorised = select(WindowItem.window_id).where(
        WindowItem.item_id == item_id,
        col(WindowItem.can_decide) if deciding else col(WindowItem.can_accept),
    )
    which: ColumnElement[bool] = col(Window.id).in_(authorised)
    if not deciding:
        which = or_(which, col(Window.is_general))
    query = select(Window.post_a_id, Window.post_b_id).where(
        Window.org_unit_code == centre, col(Window.active), which
    )
    staff = {uid for row in (await session.exec(query)).all() for uid in row if uid is not None}
    active = await active_ids(session, staff)
    return sorted(active) if active else await window_leads(session, centre)


async def window_leads(session: AsyncSession, centre: str) -> list[int]:
    query = select(User.id).where(
        User.org_unit_code == centre, User.role == Role.WINDOW_LEAD, col(User.active)
    )
    return sorted(uid for uid in (await session.exec(query)).all() if uid is not None)


async def active_ids(session: AsyncSession, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    query = select(User.id).where(col(User.id).in_(sorted(ids)), col(User.active))
    return {uid for uid in (await session.exec(query)).all() if uid is not None}
