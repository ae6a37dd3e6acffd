"""Creating and editing windows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.access import MANAGE_WINDOWS, require_role
from server.auth.models import User
from server.db import utcnow
from server.forms import ValidationFailed
from server.windows.models import Window
from server.windows.queries import window_staff


@dataclass
class WindowFields:
    number: int
    name: str
    is_general: bool
    post_a_id: int | None
    post_b_id: int | None
    active: bool = True


async def _check(
    session: AsyncSession, org_unit_code: str, fields: WindowFields, window_id: int | None
) -> None:
    errors: dict[str, str] = {}
    if not 1 <= len(fields.name) <= 50:
        errors["name"] = "请填写窗口名称（1–50 个字），例如“综合受理窗口”"
    taken = (
        await session.exec(
            select(Window).where(
                Window.org_unit_code == org_unit_code, Window.number == fields.number
            )
        )
    ).first()
    if taken is not None and taken.id != window_id:
        errors["number"] = f"{fields.number} 号窗口已经存在，请换一个编号"
    staff = {user.id for user in await window_staff(session, org_unit_code)}
    if fields.post_a_id is not None and fields.post_a_id not in staff:
        errors["post_a_id"] = "A 岗请选择本中心在岗的窗口工作人员"
    if fields.post_b_id is not None and fields.post_b_id not in staff:
        errors["post_b_id"] = "B 岗请选择本中心在岗的窗口工作人员"
    if fields.post_a_id is not None and fields.post_a_id == fields.post_b_id:
        errors["post_b_id"] = "A 岗和 B 岗不能是同一个人"
    if fields.active and fields.post_a_id is None:
        errors["post_a_id"] = "启用的窗口必须有 A 岗人员"
    if errors:
        raise ValidationFailed(errors)


def _apply(window: Window, fields: WindowFields) -> None:
    window.number = fields.number
    window.name = fields.name
    window.is_general = fields.is_general
    window.post_a_id = fields.post_a_id
    window.post_b_id = fields.post_b_id
    window.active = fields.active
    window.updated_at = utcnow()


async def _commit(session: AsyncSession, number: int) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ValidationFailed({"number": f"{number} 号窗口刚被创建，请换一个编号"}) from None


async def do_create_window(
    *,
    session: AsyncSession,
    actor: User | None,
    org_unit_code: str,
    fields: WindowFields,
    ip: str = "",
) -> Window:
    if actor is not None:
        require_role(actor, MANAGE_WINDOWS)
    await _check(session, org_unit_code, fields, None)
    window = Window(org_unit_code=org_unit_code, number=fields.number, name=fields.name)
    _apply(window, fields)
    session.add(window)
    await session.flush()
    do_record_audit(
        session=session,
        actor_id=actor.id if actor else None,
        action="window.create",
        target=f"window:{window.id}",
        ip=ip,
        name=window.name,
    )
    await _commit(session, fields.number)
    return window


async def do_update_window(
    *, session: AsyncSession, actor: User, window: Window, fields: WindowFields, ip: str = ""
) -> Window:
    require_role(actor, MANAGE_WINDOWS)
    await _check(session, window.org_unit_code, fields, window.id)
    _apply(window, fields)
    session.add(window)
    do_record_audit(
        session=session,
        actor_id=actor.id,
        action="window.update",
        target=f"window:{window.id}",
        ip=ip,
        name=window.name,
        active=window.active,
    )
    await _commit(session, fields.number)
    return window
