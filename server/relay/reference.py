"""Reference data in the down feed: the county's catalogue versions and working-day calendar.

The county keeps both (only its admin edits them, server/catalog/actions.py and
server/calendar/actions.py); townships follow. Every pull carries what the child last applied
(`reference_request`: the county's last catalogue version id, and the county's digests of
its item index and calendar as last applied), and the feed answer carries only what changed
(`reference_for`):

- `catalogue.versions`: item versions with a county id above the child's position, oldest
  first, at most VERSIONS_PER_PULL (the rest on the next pull: `more`), each with its
  materials and its item's codes. Versions are immutable, so a version arrives once.
- `catalogue.index`: every item's code, status and current version, with its digest, when
  the digest differs from the child's (a retirement or a restore makes no version).
- `calendar`: every entered year with its days and its digest, when the digest differs.

The child applies them before the batch's events (an event may name the new version) with
`apply_reference`, and each step is idempotent: a version already held is left alone (a
version held with other content is logged and kept: cases were taken under it), an index or
a calendar year equal to what is held changes nothing. The child stores a position or
digest only once its part is applied and committed, so a cut-off round repeats harmlessly.
Items are matched by implementation code (ids are local to each node).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.calendar.models import CalendarDay, CalendarYear
from server.catalog.models import CatalogItem, CatalogItemVersion, CatalogMaterial
from server.db import Database, utcnow
from server.nodes.keys import Keyring
from server.nodes.queries import peer_public_keys
from server.relay.directory import apply_directory, directory_for, parent_verify_keys
from server.relay.models import SyncReference
from sync.chain import canonical
from sync.keys import PublicKeys

log = logging.getLogger("yichuang.sync")
VERSIONS_PER_PULL = 20
CATALOGUE, CALENDAR = "catalogue", "calendar"
_VERSION_SKIP = {"id", "item_id", "version", "created_at", "created_by_id"}
_MATERIAL_SKIP = {"id", "version_id", "position"}


def _digest(value: object) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


# --- the county: what a child's feed carries ------------------------------------------------


async def _catalogue_index(session: AsyncSession) -> list[list[Any]]:
    rows = await session.exec(
        select(CatalogItem.implementation_code, CatalogItem.status, CatalogItem.current_version)
    )
    return sorted([code, status, version] for code, status, version in rows.all())


def _version_content(version: CatalogItemVersion) -> dict[str, Any]:
    content = version.model_dump(exclude=_VERSION_SKIP)
    return {key: value for key, value in content.items() if value is not None}


async def _versions_after(session: AsyncSession, after: int) -> tuple[list[dict[str, Any]], bool]:
    rows = (
        await session.exec(
            select(CatalogItemVersion, CatalogItem)
            .join(CatalogItem, col(CatalogItem.id) == col(CatalogItemVersion.item_id))
            .where(col(CatalogItemVersion.id) > after)
            .order_by(col(CatalogItemVersion.id))
            .limit(VERSIONS_PER_PULL + 1)
        )
    ).all()
    more = len(rows) > VERSIONS_PER_PULL
    rows = rows[:VERSIONS_PER_PULL]
    ids = [version.id for version, _item in rows]
    materials: dict[int, list[dict[str, Any]]] = {}
    if ids:
        found = await session.exec(
            select(CatalogMaterial)
            .where(col(CatalogMaterial.version_id).in_(ids))
            .order_by(col(CatalogMaterial.version_id), col(CatalogMaterial.position))
        )
        for material in found.all():
            materials.setdefault(material.version_id, []).append(
                material.model_dump(exclude=_MATERIAL_SKIP)
            )
    versions = [
        {
            "id": version.id,
            "code": item.implementation_code,
            "basic_code": item.basic_code,
            "version": version.version,
            "content": _version_content(version),
            "materials": materials.get(version.id or 0, []),
        }
        for version, item in rows
    ]
    return versions, more


async def _calendar(session: AsyncSession) -> list[dict[str, Any]]:
    years = (await session.exec(select(CalendarYear).order_by(col(CalendarYear.year)))).all()
    days = (await session.exec(select(CalendarDay).order_by(col(CalendarDay.day)))).all()
    by_year: dict[int, list[list[Any]]] = {}
    for day in days:
        by_year.setdefault(day.day.year, []).append([day.day.isoformat(), day.workday, day.name])
    return [
        {
            "year": row.year,
            "source": row.source,
            "note": row.note,
            "days": by_year.get(row.year, []),
        }
        for row in years
    ]


def _section(request: object, kind: str) -> Mapping[str, Any]:
    if isinstance(request, Mapping) and isinstance(request.get(kind), Mapping):
        return request[kind]  # type: ignore[no-any-return]
    return {}


@dataclass
class Reference:
    payload: dict[str, Any] = field(default_factory=dict)
    more: bool = False


async def reference_for(session: AsyncSession, request: object) -> Reference:
    """What changed in the county's reference data since the child's `reference` request."""
    found = Reference()
    asked = _section(request, CATALOGUE)
    after = asked.get("after")
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        after = 0
    versions, more = await _versions_after(session, after)
    index = await _catalogue_index(session)
    index_digest = _digest(index)
    catalogue: dict[str, Any] = {}
    if versions:
        catalogue["versions"] = versions
        catalogue["upto"] = versions[-1]["id"]
    if index_digest != asked.get("digest"):
        catalogue["index"] = {"digest": index_digest, "items": index}
    if catalogue:
        found.payload[CATALOGUE] = catalogue
    found.more = more
    years = await _calendar(session)
    calendar_digest = _digest(years)
    if calendar_digest != _section(request, CALENDAR).get("digest"):
        found.payload[CALENDAR] = {"digest": calendar_digest, "years": years}
    return found


async def feed_extras(
    session: AsyncSession, keyring: Keyring, pull: Mapping[str, Any]
) -> Reference:
    """What a feed answer carries besides events: the key directory and reference data."""
    found = await reference_for(session, pull.get("reference"))
    found.payload["directory"] = directory_for(keyring)
    return found


# --- the township: asking and applying ------------------------------------------------------


async def _reference_row(session: AsyncSession, peer: str, kind: str) -> SyncReference:
    row = await session.get(SyncReference, (peer, kind))
    return row or SyncReference(peer=peer, kind=kind)


async def reference_request(session: AsyncSession, parent: str) -> dict[str, Any]:
    """The `reference` field of a pull: what this node last applied of the parent's."""
    catalogue = await _reference_row(session, parent, CATALOGUE)
    calendar = await _reference_row(session, parent, CALENDAR)
    return {
        CATALOGUE: {"after": catalogue.position, "digest": catalogue.digest},
        CALENDAR: {"digest": calendar.digest},
    }


@dataclass
class Applied:
    versions: int = 0  # item versions added
    items: int = 0  # items whose status or current version changed
    years: int = 0  # calendar years replaced


async def apply_reference(session: AsyncSession, parent: str, answer: Mapping[str, Any]) -> Applied:
    """Apply a feed answer's catalogue and calendar sections; commits. ValueError if malformed."""
    applied = Applied()
    catalogue = answer.get(CATALOGUE)
    if isinstance(catalogue, Mapping):
        row = await _reference_row(session, parent, CATALOGUE)
        versions = catalogue.get("versions") or []
        if not isinstance(versions, list):
            raise ValueError("catalogue.versions must be a list")
        for entry in versions:
            applied.versions += await _apply_version(session, entry)
        upto = catalogue.get("upto")
        if isinstance(upto, int) and upto > row.position:
            row.position = upto
        index = catalogue.get("index")
        if isinstance(index, Mapping):
            applied.items += await _apply_index(session, index.get("items"))
            row.digest = str(index.get("digest", ""))[:64]
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
    calendar = answer.get(CALENDAR)
    if isinstance(calendar, Mapping):
        years = calendar.get("years")
        if not isinstance(years, list):
            raise ValueError("calendar.years must be a list")
        for year in years:
            applied.years += await _apply_year(session, year)
        row = await _reference_row(session, parent, CALENDAR)
        row.digest = str(calendar.get("digest", ""))[:64]
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
    if applied.versions or applied.items or applied.years:
        log.info(
            "sync reference from %s: %d item versions, %d items changed, %d calendar years",
            *(parent, applied.versions, applied.items, applied.years),
        )
    return applied


async def _item_by_code(session: AsyncSession, code: str) -> CatalogItem | None:
    query = select(CatalogItem).where(CatalogItem.implementation_code == code)
    return (await session.exec(query)).first()


async def _apply_version(session: AsyncSession, entry: object) -> int:
    if not isinstance(entry, Mapping):
        raise ValueError("a catalogue version must be an object")
    code, number = str(entry.get("code", "")), entry.get("version")
    content, materials = entry.get("content"), entry.get("materials")
    if not code or not isinstance(number, int) or not isinstance(content, Mapping):
        raise ValueError("a catalogue version needs code, version and content")
    if not isinstance(materials, list):
        raise ValueError("a catalogue version's materials must be a list")
    fields = {k: v for k, v in content.items() if k in _version_fields() - _VERSION_SKIP}
    item = await _item_by_code(session, code)
    if item is None:
        item = CatalogItem(
            basic_code=str(entry.get("basic_code", ""))[:12],
            implementation_code=code,
            current_version=number,
        )
        session.add(item)
        await session.flush()
    held = (
        await session.exec(
            select(CatalogItemVersion).where(
                CatalogItemVersion.item_id == item.id, CatalogItemVersion.version == number
            )
        )
    ).first()
    if held is not None:
        if _version_content(held) != {k: v for k, v in fields.items() if v is not None}:
            log.warning("sync catalogue: %s version %d differs here; kept as it is", code, number)
        return 0
    version = CatalogItemVersion.model_validate({**fields, "item_id": item.id, "version": number})
    session.add(version)
    await session.flush()
    for position, material in enumerate(materials, start=1):
        if not isinstance(material, Mapping):
            raise ValueError("a material must be an object")
        values = {k: v for k, v in material.items() if k in _material_fields() - _MATERIAL_SKIP}
        session.add(
            CatalogMaterial.model_validate(
                {**values, "version_id": version.id, "position": position}
            )
        )
    if number > item.current_version:
        item.current_version = number
        session.add(item)
    return 1


def _version_fields() -> set[str]:
    return set(CatalogItemVersion.model_fields)


def _material_fields() -> set[str]:
    return set(CatalogMaterial.model_fields)


async def _apply_index(session: AsyncSession, items: object) -> int:
    if not isinstance(items, list):
        raise ValueError("catalogue.index.items must be a list")
    changed = 0
    for entry in items:
        if not isinstance(entry, list) or len(entry) != 3:
            raise ValueError("an index entry is [code, status, current version]")
        code, status, current = entry
        item = await _item_by_code(session, str(code))
        if item is None or status not in ("active", "retired") or not isinstance(current, int):
            continue
        held = (
            await session.exec(
                select(CatalogItemVersion.id).where(
                    CatalogItemVersion.item_id == item.id, CatalogItemVersion.version == current
                )
            )
        ).first()
        before = (item.status, item.current_version)
        item.status = status
        item.retired_at = None if status == "active" else (item.retired_at or utcnow())
        if held is not None:
            item.current_version = current
        if (item.status, item.current_version) != before:
            session.add(item)
            changed += 1
    return changed


async def _apply_year(session: AsyncSession, entry: object) -> int:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("year"), int):
        raise ValueError("a calendar year must be an object with its year")
    year, days = entry["year"], entry.get("days")
    if not isinstance(days, list):
        raise ValueError("a calendar year's days must be a list")
    wanted: list[tuple[dt.date, bool, str]] = []
    for day in days:
        if not isinstance(day, list) or len(day) != 3 or not isinstance(day[1], bool):
            raise ValueError("a calendar day is [date, workday, name]")
        date = dt.date.fromisoformat(str(day[0]))
        if date.year != year:
            raise ValueError(f"{date} is not in {year}")
        wanted.append((date, day[1], str(day[2])[:50]))
    source, note = str(entry.get("source", ""))[:16], str(entry.get("note", ""))[:200]
    held_year = await session.get(CalendarYear, year)
    held_days = (
        await session.exec(
            select(CalendarDay)
            .where(
                col(CalendarDay.day) >= dt.date(year, 1, 1),
                col(CalendarDay.day) <= dt.date(year, 12, 31),
            )
            .order_by(col(CalendarDay.day))
        )
    ).all()
    same_days = [(d.day, d.workday, d.name) for d in held_days] == sorted(wanted)
    if (
        held_year is not None
        and same_days
        and (held_year.source, held_year.note)
        == (
            source,
            note,
        )
    ):
        return 0
    await session.exec(
        delete(CalendarDay).where(
            col(CalendarDay.day) >= dt.date(year, 1, 1),
            col(CalendarDay.day) <= dt.date(year, 12, 31),
        )
    )
    session.add_all(
        CalendarDay(day=date, workday=workday, name=name, source=source)
        for date, workday, name in wanted
    )
    row = held_year or CalendarYear(year=year, source=source)
    row.source, row.note, row.updated_at, row.updated_by_id = source, note, utcnow(), None
    session.add(row)
    return 1


async def apply_feed_extras(
    db: Database, parent: str, answer: Mapping[str, Any]
) -> tuple[list[PublicKeys], list[PublicKeys]]:
    """On the child, before a feed's events: the parent's key directory and reference data.

    Returns the parent's keys to seal to and the keys whose signatures count, as they stand
    after the directory (a parent that rolled its keys is sealed to by its new key at once).
    """
    async with db.session() as session:
        await apply_directory(session, parent, answer.get("directory"))
        try:
            await apply_reference(session, parent, answer)
        except (ValueError, TypeError) as problem:
            await session.rollback()
            log.error("sync reference from %s is malformed, not applied: %s", parent, problem)
        return await peer_public_keys(session, parent), await parent_verify_keys(session, parent)
