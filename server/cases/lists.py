"""The case lists (办件列表): who sees which cases, the filters, the search and the paging.

Visibility is the same as `access.may_see_case`: a village agent sees only the cases they
filed (`proxy_user_id`), everyone else the cases of their unit and below it. Within that, a
scope picks the list: `mine` (首问责任人: the cases one first took, kept there until the end),
`window` (the items one's windows may accept or decide, as post A or B, and the cases taken
at those windows) and `centre` (all of them).

Search never decrypts the table: a serial is matched exactly in its printed form, an ID number
by its keyed hash under every ID type (`actions.id_hash`), anything else by the applicant's
name. The warning level filter is exact: red is a condition in SQL (the clock's "now" past the
due moment, see `deadlines`), yellow needs the calendar, so the open accepted cases that are
not red are read (a few columns, one centre's running cases) and their level computed here,
before paging.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import Role, User
from server.calendar.rules import LOCAL_TZ, WorkCalendar
from server.cases.actions import id_hash
from server.cases.deadlines import Level, level_of
from server.cases.identity import ID_TYPES, normalise_id_number
from server.cases.machine import CLOSED
from server.cases.models import CaseRecord
from server.cases.serials import make_serial, parse_serial
from server.catalog.models import CatalogItem, CatalogItemVersion, WindowItem
from server.crypto.fields import FieldCipher
from server.users.queries import PAGE_SIZE, Page
from server.windows.models import Window

Scope = Literal["mine", "window", "centre"]
SCOPE_NAMES: dict[str, str] = {"mine": "我的办件", "window": "本窗口办件", "centre": "本中心办件"}
SORT_NAMES: dict[str, str] = {"due": "按办理期限", "received": "按收件时间"}
# Something typed into the search box that can only be a document number, never a name.
_ID_LIKE = re.compile(r"[0-9A-Z]{5,20}")


@dataclass(frozen=True)
class CaseFilters:
    scope: Scope = "mine"
    state: str = ""
    kind: str = ""
    item_id: int | None = None
    level: str = ""  # "", "yellow" or "red"
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    text: str = ""
    sort: str = "due"


@dataclass(frozen=True)
class CaseRow:
    case: CaseRecord
    item_name: str
    responsible: str
    level: Level


def default_scope(actor: User) -> Scope:
    """The list a role opens first: one's own cases at the window, the centre's for overseers."""
    return "centre" if actor.role in (Role.SUPERVISOR, Role.ADMIN) else "mine"


def _unit_prefix(root: str) -> str:
    return root[:9] if len(root) == 12 else root


def visible(actor: User) -> ColumnElement[bool]:
    """The cases the actor may see at all (the SQL twin of `access.may_see_case`)."""
    if actor.role == Role.VILLAGE_AGENT:
        return col(CaseRecord.proxy_user_id) == actor.id
    return col(CaseRecord.org_unit_code).startswith(_unit_prefix(actor.org_unit_code))


def _scope_condition(actor: User, scope: Scope) -> ColumnElement[bool] | None:
    if actor.role == Role.VILLAGE_AGENT or scope == "centre":
        return None
    if scope == "mine":
        return col(CaseRecord.first_responsible_id) == actor.id
    mine = or_(col(Window.post_a_id) == actor.id, col(Window.post_b_id) == actor.id)
    my_windows = select(Window.id).where(mine, col(Window.active))
    items = (
        select(WindowItem.item_id)
        .join(Window, col(Window.id) == col(WindowItem.window_id))
        .where(
            mine, col(Window.active), or_(col(WindowItem.can_accept), col(WindowItem.can_decide))
        )
    )
    return or_(col(CaseRecord.item_id).in_(items), col(CaseRecord.window_id).in_(my_windows))


def search_condition(cipher: FieldCipher, text: str) -> ColumnElement[bool]:
    """A serial, exactly; else an ID number, by its keyed hash; else a part of the name."""
    serial = parse_serial(text)
    if serial is not None:
        return col(CaseRecord.serial) == make_serial(
            serial.township_code, serial.day, serial.sequence
        )
    number = normalise_id_number(text)
    if _ID_LIKE.fullmatch(number) and any(ch.isdigit() for ch in number):
        hashes = [id_hash(cipher, id_type, number) for id_type in ID_TYPES]
        return col(CaseRecord.applicant_id_hash).in_(hashes)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return col(CaseRecord.applicant_name).like(f"%{escaped}%", escape="\\")


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=LOCAL_TZ)


def _open_accepted() -> list[ColumnElement[bool]]:
    return [
        col(CaseRecord.state).not_in(sorted(CLOSED)),
        col(CaseRecord.accepted_at).is_not(None),
        col(CaseRecord.due_at).is_not(None),
        col(CaseRecord.completed_at).is_(None),
    ]


def red_condition(now: dt.datetime) -> ColumnElement[bool]:
    """Overdue: the clock's "now" (the pause's start while it stands still) past the due moment."""
    due = col(CaseRecord.due_at)
    return and_(
        *_open_accepted(),
        due < now,
        or_(col(CaseRecord.paused_at).is_(None), due < col(CaseRecord.paused_at)),
    )


async def _yellow_ids(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    *,
    now: dt.datetime,
    calendar: WorkCalendar,
    warning_percent: int,
) -> list[str]:
    query = select(CaseRecord).where(*conditions, *_open_accepted(), ~red_condition(now))
    return [
        case.id
        for case in (await session.exec(query)).all()
        if level_of(case, now=now, calendar=calendar, warning_percent=warning_percent) == "yellow"
    ]


async def search_cases(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    actor: User,
    filters: CaseFilters,
    now: dt.datetime,
    calendar: WorkCalendar,
    warning_percent: int,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> Page[CaseRow]:
    """One page of the cases the actor may see, filtered, searched and sorted."""
    conditions: list[ColumnElement[bool]] = [visible(actor)]
    if (scope := _scope_condition(actor, filters.scope)) is not None:
        conditions.append(scope)
    if filters.state:
        conditions.append(col(CaseRecord.state) == filters.state)
    if filters.kind:
        conditions.append(col(CaseRecord.kind) == filters.kind)
    if filters.item_id is not None:
        conditions.append(col(CaseRecord.item_id) == filters.item_id)
    if filters.received_from is not None:
        conditions.append(col(CaseRecord.received_at) >= _start_of(filters.received_from))
    if filters.received_to is not None:
        end = _start_of(filters.received_to + dt.timedelta(days=1))
        conditions.append(col(CaseRecord.received_at) < end)
    if filters.text:
        conditions.append(search_condition(cipher, filters.text))
    if filters.level == "red":
        conditions.append(red_condition(now))
    elif filters.level == "yellow":
        ids = await _yellow_ids(
            session, conditions, now=now, calendar=calendar, warning_percent=warning_percent
        )
        conditions.append(col(CaseRecord.id).in_(ids) if ids else false())
    total = (
        await session.exec(select(func.count()).select_from(CaseRecord).where(*conditions))
    ).one()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    if filters.sort == "received":
        order: list[ColumnElement[Any]] = [
            col(CaseRecord.received_at).desc(),
            col(CaseRecord.id).desc(),
        ]
    else:  # nulls last, portable across SQLite and PostgreSQL
        order = [
            col(CaseRecord.due_at).is_(None),
            col(CaseRecord.due_at).asc(),
            col(CaseRecord.received_at).desc(),
            col(CaseRecord.id).desc(),
        ]
    query = (
        select(CaseRecord, CatalogItemVersion.name, User.display_name)
        .join(
            CatalogItemVersion,
            and_(
                col(CatalogItemVersion.item_id) == col(CaseRecord.item_id),
                col(CatalogItemVersion.version) == col(CaseRecord.item_version),
            ),
        )
        .outerjoin(User, col(User.id) == col(CaseRecord.first_responsible_id))
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * size)
        .limit(size)
    )
    rows = [
        CaseRow(
            case=case,
            item_name=name,
            responsible=responsible or "",
            level=level_of(case, now=now, calendar=calendar, warning_percent=warning_percent),
        )
        for case, name, responsible in (await session.exec(query)).all()
    ]
    return Page(items=rows, number=page, size=size, total=total)


async def item_choices(session: AsyncSession, actor: User) -> list[tuple[int, str]]:
    """The items of the cases the actor may see, by their current names, for the item filter."""
    seen = select(CaseRecord.item_id).where(visible(actor)).distinct()
    query = (
        select(CatalogItem.id, CatalogItemVersion.name)
        .join(
            CatalogItemVersion,
            and_(
                col(CatalogItemVersion.item_id) == col(CatalogItem.id),
                col(CatalogItemVersion.version) == col(CatalogItem.current_version),
            ),
        )
        .where(col(CatalogItem.id).in_(seen))
        .order_by(col(CatalogItemVersion.name))
    )
    return [(item_id or 0, name) for item_id, name in (await session.exec(query)).all()]
