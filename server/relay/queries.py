"""Read-only lookups for the relay inbox and the sync page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.calendar.rules import LOCAL_TZ
from server.cases.models import CaseEvent, CaseRecord
from server.catalog.models import CatalogItemVersion
from server.nodes.models import NodePeer
from server.org.models import OrgUnit
from server.relay.feed import _region_prefix
from server.relay.models import SyncLog, SyncQuarantine, SyncStatus
from server.relay.state import cursor_of
from server.users.queries import Page

INBOX_PAGE_SIZE = 30
# A relayed case is the county's while it reviews it, asks for materials or suspends it.
WITH_COUNTY = ("relayed", "awaiting_materials", "suspended")


@dataclass(frozen=True)
class InboxFilters:
    township: str = ""
    item_id: int | None = None
    due_before: dt.date | None = None


@dataclass(frozen=True)
class InboxRow:
    case: CaseRecord
    township: str
    item_name: str


async def relay_inbox(
    session: AsyncSession, filters: InboxFilters, page: int = 1
) -> Page[InboxRow]:
    """Relayed cases the county holds now, from every township, the soonest due first."""
    conditions = [
        col(CaseRecord.kind) == "relayed",
        col(CaseRecord.owner) == "county",
        col(CaseRecord.state).in_(WITH_COUNTY),
    ]
    if filters.township:
        conditions.append(col(CaseRecord.org_unit_code) == filters.township)
    if filters.item_id is not None:
        conditions.append(col(CaseRecord.item_id) == filters.item_id)
    if filters.due_before is not None:
        end = dt.datetime.combine(
            filters.due_before + dt.timedelta(days=1), dt.time(), tzinfo=LOCAL_TZ
        )
        conditions.append(col(CaseRecord.due_at) < end)
    total = (await session.exec(select(func.count()).where(*conditions))).one()
    page = min(max(1, page), max(1, -(-int(total) // INBOX_PAGE_SIZE)))  # an offset that fits
    query = (
        select(CaseRecord, OrgUnit.name, CatalogItemVersion.name)
        .join(OrgUnit, col(OrgUnit.code) == col(CaseRecord.org_unit_code))
        .join(
            CatalogItemVersion,
            (col(CatalogItemVersion.item_id) == col(CaseRecord.item_id))
            & (col(CatalogItemVersion.version) == col(CaseRecord.item_version)),
        )
        .where(*conditions)
        .order_by(col(CaseRecord.due_at).asc().nulls_last(), col(CaseRecord.id))
        .offset((page - 1) * INBOX_PAGE_SIZE)
        .limit(INBOX_PAGE_SIZE)
    )
    rows = [InboxRow(case, township, item) for case, township, item in await session.exec(query)]
    return Page(rows, page, INBOX_PAGE_SIZE, int(total))


@dataclass(frozen=True)
class LinkRow:
    """One link on the sync page: the parent (township) or a child (county)."""

    region_code: str
    name: str
    status: SyncStatus | None
    pending_events: int  # up: waiting here for the parent; down: waiting here for the child
    pending_bytes: int  # about (the stored bodies' size)
    quarantined: int


async def _pending(session: AsyncSession, query_filter: list[object]) -> tuple[int, int]:
    query = (
        select(func.count(), func.coalesce(func.sum(func.length(CaseEvent.body_enc)), 0))
        .select_from(SyncLog)
        .join(CaseEvent, col(CaseEvent.id) == col(SyncLog.event_id))
        .join(CaseRecord, col(CaseRecord.id) == col(SyncLog.case_id))
        .where(*query_filter)  # type: ignore[arg-type]
    )
    count, size = (await session.exec(query)).one()
    # Encrypted base64 bodies are about 4/3 of the clear ones; plus the event's other fields.
    return int(count), int(size) * 3 // 4 + 300 * int(count)


async def _quarantined(session: AsyncSession, peer: str) -> int:
    query = select(func.count()).where(
        SyncQuarantine.peer == peer, col(SyncQuarantine.resolved_at).is_(None)
    )
    return int((await session.exec(query)).one())


async def link_rows(session: AsyncSession, role: str) -> list[LinkRow]:
    peers = (
        await session.exec(
            select(NodePeer)
            .where(NodePeer.relation == ("parent" if role == "township" else "child"))
            .order_by(col(NodePeer.region_code))
        )
    ).all()
    rows = []
    for peer in peers:
        region = peer.region_code
        if role == "township":
            after = await cursor_of(session, region, "up")
            where: list[object] = [col(SyncLog.seq) > after, SyncLog.origin != region]
        else:
            after = await cursor_of(session, region, "down")
            where = [
                col(SyncLog.seq) > after,
                SyncLog.origin != region,
                col(CaseRecord.org_unit_code).startswith(_region_prefix(region)),
            ]
        count, size = await _pending(session, where)
        rows.append(
            LinkRow(
                region_code=region,
                name=peer.name + ("（已吊销）" if peer.revoked_at else ""),
                status=await session.get(SyncStatus, region),
                pending_events=count,
                pending_bytes=size,
                quarantined=await _quarantined(session, region),
            )
        )
    return rows


async def open_quarantine(session: AsyncSession, limit: int = 100) -> list[SyncQuarantine]:
    query = (
        select(SyncQuarantine)
        .where(col(SyncQuarantine.resolved_at).is_(None))
        .order_by(col(SyncQuarantine.id).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def townships(session: AsyncSession, county: str) -> list[tuple[str, str]]:
    query = (
        select(OrgUnit.code, OrgUnit.name)
        .where(OrgUnit.level == "township", col(OrgUnit.code).startswith(county))
        .order_by(col(OrgUnit.code))
    )
    return [(code, name) for code, name in await session.exec(query)]
