"""The case lists page (办件): every signed-in role, each seeing only what it may (`lists`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from server.auth.access import current_user
from server.auth.models import Role, User
from server.calendar.queries import load_calendar
from server.cases.actions import INTAKE_ROLES
from server.cases.deadlines import LEVEL_NAMES
from server.cases.lists import (
    SCOPE_NAMES,
    SORT_NAMES,
    CaseFilters,
    CaseRow,
    Scope,
    default_scope,
    item_choices,
    search_cases,
)
from server.cases.machine import KIND_NAMES, STATE_NAMES
from server.context import get_cipher, get_db
from server.db import utcnow
from server.forms import whole_number
from server.policy.queries import load_policy
from server.templating import render
from server.users.queries import Page


@dataclass
class CaseListPage:
    page: Page[CaseRow]
    filters: CaseFilters
    query: str  # the filters as a query string, for the pager's and the tabs' links
    scopes: dict[str, str]
    states: dict[str, str]
    kinds: dict[str, str]
    levels: dict[str, str]  # the warning filter's choices
    level_names: dict[str, str]
    sorts: dict[str, str]
    items: list[tuple[int, str]]
    can_open: bool
    is_agent: bool


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def read_filters(params: QueryParams, actor: User) -> CaseFilters:
    """The filters from the query string; anything unknown is ignored, never an error."""
    scope = params.get("scope", "")
    item = params.get("item", "")
    return CaseFilters(
        scope=scope if scope in SCOPE_NAMES else default_scope(actor),  # type: ignore[arg-type]
        state=state if (state := params.get("state", "")) in STATE_NAMES else "",
        kind=kind if (kind := params.get("kind", "")) in KIND_NAMES else "",
        item_id=whole_number(item),
        level=level if (level := params.get("level", "")) in ("yellow", "red") else "",
        received_from=_date(params.get("from", "")),
        received_to=_date(params.get("to", "")),
        text=params.get("q", "").strip()[:100],
        sort=sort if (sort := params.get("sort", "")) in SORT_NAMES else "due",
    )


def filters_query(filters: CaseFilters, scope: Scope | None = None) -> str:
    values = {
        "scope": scope or filters.scope,
        "q": filters.text,
        "state": filters.state,
        "kind": filters.kind,
        "item": str(filters.item_id) if filters.item_id is not None else "",
        "level": filters.level,
        "from": filters.received_from.isoformat() if filters.received_from else "",
        "to": filters.received_to.isoformat() if filters.received_to else "",
        "sort": filters.sort if filters.sort != "due" else "",
    }
    return urlencode({key: value for key, value in values.items() if value})


async def case_list(request: Request) -> Response:
    actor = current_user(request)
    filters = read_filters(request.query_params, actor)
    number = whole_number(request.query_params.get("page")) or 1
    async with get_db(request).session() as session:
        calendar = await load_calendar(session)
        policy = await load_policy(session)
        page = await search_cases(
            session,
            get_cipher(request),
            actor=actor,
            filters=filters,
            now=utcnow(),
            calendar=calendar,
            warning_percent=policy.warning_percent,
            page=number,
        )
        items = await item_choices(session, actor)
    context = CaseListPage(
        page=page,
        filters=filters,
        query=filters_query(filters),
        scopes=SCOPE_NAMES,
        states={str(key): name for key, name in STATE_NAMES.items()},
        kinds={str(key): name for key, name in KIND_NAMES.items()},
        levels={key: LEVEL_NAMES[key] for key in ("yellow", "red")},
        level_names=LEVEL_NAMES,
        sorts=SORT_NAMES,
        items=items,
        can_open=actor.role in INTAKE_ROLES,
        is_agent=actor.role == Role.VILLAGE_AGENT,
    )
    return render(request, "cases/list.html", context, block="results")
