"""Helpers for the notification tests: read what a user was told, open cases, apply commands."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import col, select
from starlette.applications import Starlette

from server.auth.models import User
from server.cases.actions import Intake, do_apply
from server.cases.models import CaseRecord
from server.catalog.actions import do_set_claims
from server.db import Database
from server.notify.models import Notification, SmsMessage
from tests.factories import Personas, open_intake


async def told(app: Starlette, user: User) -> list[Notification]:
    async with app.state.db.session() as session:
        query = (
            select(Notification)
            .where(Notification.user_id == user.uid)
            .order_by(col(Notification.id))
        )
        return list((await session.exec(query)).all())


async def texts(app: Starlette) -> list[SmsMessage]:
    async with app.state.db.session() as session:
        return list((await session.exec(select(SmsMessage).order_by(col(SmsMessage.id)))).all())


async def claim_item(app: Starlette, personas: Personas) -> int:
    assert personas.item is not None and personas.item.id is not None
    async with app.state.db.session() as session:
        await do_set_claims(session=session, actor=personas.admin, item_ids={personas.item.id})
    return personas.item.id


def intake(item_id: int, phone: str = "13912345678") -> Intake:
    return Intake(
        item_id=item_id,
        channel="window",
        applicant_name="王秀兰",
        applicant_id_type="resident_id",
        applicant_id="11010519491231002X",
        applicant_phone=phone,
    )


async def open_case(
    app: Starlette, actor: User, item_id: int, *, phone: str = "13912345678", at: Any = None
) -> CaseRecord:
    return await open_intake(app, actor, intake(item_id, phone), at=at)


async def apply(
    app: Starlette,
    actor: User,
    case_id: str,
    command: str,
    body: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> CaseRecord:
    db: Database = app.state.db
    async with db.session() as session:
        case = await session.get(CaseRecord, case_id)
        assert case is not None
        await do_apply(
            session=session,
            cipher=app.state.cipher,
            settings=app.state.settings,
            actor=actor,
            case=case,
            command=command,  # type: ignore[arg-type]
            body=body,
            at=at,
        )
        return case
