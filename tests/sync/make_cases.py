"""Work on a township's data directory from a separate process (the multi-process tests): open
and accept cases, take a relayed case up to the relay (its applicant gave a mobile number, to be
texted the result), deliver a decided case, through the real actions as the demo's clerk.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from server.auth.models import User
from server.cases.actions import Intake, do_apply, do_open_case
from server.cases.models import CaseRecord
from server.catalog.models import CatalogItem, CatalogItemVersion
from server.catalog.queries import claimed_item_ids
from server.crypto.fields import FieldCipher
from server.db import Database
from server.models import metadata
from server.settings import load_settings

assert metadata  # every table registered, for the foreign keys


async def _context(data: str) -> tuple[Database, FieldCipher, object, User]:
    settings = load_settings(Path(data))
    db = Database(settings.effective_database_url)
    async with db.session() as session:
        clerk = (await session.exec(select(User).where(User.username == "zhen.clerk"))).one()
    return db, FieldCipher(settings.data_key), settings, clerk


async def _item(db: Database, region: str, kind: str) -> int:
    async with db.session() as session:
        claimed = await claimed_item_ids(session, region)
        rows = (
            await session.exec(
                select(CatalogItem.id, CatalogItemVersion.handling_kind)
                .join(CatalogItemVersion, col(CatalogItemVersion.item_id) == col(CatalogItem.id))
                .where(CatalogItemVersion.version == CatalogItem.current_version)
            )
        ).all()
    return next(item for item, handling in rows if handling == kind and item in claimed)


async def _open(
    db: Database, cipher: FieldCipher, settings: object, clerk: User, item: int, phone: str = ""
) -> str:
    async with db.session() as session:
        case, _ = await do_open_case(
            session=session,
            cipher=cipher,
            settings=settings,  # type: ignore[arg-type]
            actor=clerk,
            intake=Intake(
                item_id=item,
                channel="window",
                applicant_name="测试人",
                applicant_id_type="resident_id",
                applicant_id="11010519491231002X",
                applicant_phone=phone,
            ),
        )
    return case.id


async def _apply(
    db: Database, cipher: FieldCipher, settings: object, clerk: User, case_id: str, command: str
) -> None:
    body = {"method": "window"} if command == "deliver" else {}
    async with db.session() as session:
        case = await session.get(CaseRecord, case_id)
        assert case is not None
        await do_apply(
            session=session,
            cipher=cipher,
            settings=settings,  # type: ignore[arg-type]
            actor=clerk,
            case=case,
            command=command,  # type: ignore[arg-type]
            body=body,
        )


async def main(data: str, count: int) -> None:
    db, cipher, settings, clerk = await _context(data)
    item = await _item(db, clerk.org_unit_code, "promised")
    for _ in range(count):
        case_id = await _open(db, cipher, settings, clerk, item)
        for command in ("accept", "start_review"):
            await _apply(db, cipher, settings, clerk, case_id, command)
    await db.dispose()


async def relayed(data: str) -> str:
    db, cipher, settings, clerk = await _context(data)
    item = await _item(db, clerk.org_unit_code, "relayed")
    case_id = await _open(db, cipher, settings, clerk, item, phone="13912345678")
    for command in ("accept", "start_review", "mark_ready", "relay"):
        await _apply(db, cipher, settings, clerk, case_id, command)
    await db.dispose()
    return case_id


async def deliver(data: str, case_id: str) -> None:
    db, cipher, settings, clerk = await _context(data)
    await _apply(db, cipher, settings, clerk, case_id, "deliver")
    await db.dispose()
