"""The county's relay inbox (上报件收件箱) and the sync page (同步状态), both read-only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from server.auth.access import NotFound, current_user, require_role
from server.auth.models import Role
from server.cases.lists import item_choices
from server.cases.machine import STATE_NAMES
from server.context import get_db, get_settings
from server.forms import whole_number
from server.relay.models import SyncQuarantine
from server.relay.queries import (
    InboxFilters,
    InboxRow,
    LinkRow,
    link_rows,
    open_quarantine,
    relay_inbox,
    townships,
)
from server.templating import CLOCK_SKEW_LIMIT_S, render
from server.users.queries import Page

INBOX_ROLES = frozenset({Role.CLERK, Role.WINDOW_LEAD, Role.ADMIN, Role.SUPERVISOR})
SYNC_ROLES = frozenset({Role.ADMIN, Role.WINDOW_LEAD, Role.SUPERVISOR})


@dataclass
class RelayInboxPage:
    page: Page[InboxRow]
    filters: InboxFilters
    query: str
    townships: list[tuple[str, str]]
    items: list[tuple[int, str]]
    states: dict[str, str]


@dataclass
class SyncPage:
    links: list[LinkRow]
    quarantine: list[SyncQuarantine]
    is_county: bool
    skew_limit: int
    may_bundle: bool = False  # an admin: USB-stick bundles (bundle_views.py)
    bundle_error: str = ""


def _int(value: str | None) -> int | None:
    """A number from the address, or no filter."""
    return whole_number(value)


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        return None


async def relay_inbox_list(request: Request) -> Response:
    user = current_user(request)
    settings = get_settings(request)
    if settings.role != "county":
        raise NotFound("上报件收件箱只在县级节点上")
    require_role(user, INBOX_ROLES)
    params = request.query_params
    filters = InboxFilters(
        township=params.get("township", "").strip(),
        item_id=_int(params.get("item")),
        due_before=_date(params.get("due_before")),
    )
    number = max(1, _int(params.get("page")) or 1)
    async with get_db(request).session() as session:
        page = await relay_inbox(session, filters, number)
        choices = await townships(session, settings.region_code)
        items = await item_choices(session, user)
    query = urlencode(
        {
            "township": filters.township,
            "item": filters.item_id or "",
            "due_before": filters.due_before or "",
        }
    )
    states = {str(key): name for key, name in STATE_NAMES.items()}
    context = RelayInboxPage(page, filters, query, choices, items, states)
    return render(request, "relay/inbox.html", context, block="results")


async def sync_status_show(request: Request) -> Response:
    require_role(current_user(request), SYNC_ROLES)
    return await sync_page(request)


async def sync_page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
    """The sync page, with a bundle's refusal when there is one."""
    user = current_user(request)
    settings = get_settings(request)
    async with get_db(request).session() as session:
        links = await link_rows(session, settings.role)
        quarantine = await open_quarantine(session)
    is_county, admin = settings.role == "county", user.role == Role.ADMIN
    page = SyncPage(links, quarantine, is_county, CLOCK_SKEW_LIMIT_S, admin, error)
    return render(request, "relay/sync.html", page, status_code=status_code)
