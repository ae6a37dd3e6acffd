"""The home page: who you are, where you work, what you can do from here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from server.auth.access import current_user
from server.auth.models import Role
from server.calendar.actions import coverage_warning
from server.calendar.queries import load_calendar
from server.calendar.rules import LOCAL_TZ
from server.context import get_db
from server.org.models import OrgUnit
from server.templating import render
from server.windows.models import Window
from server.windows.queries import windows_of_user


@dataclass
class HomePage:
    org_unit: OrgUnit | None
    parent_unit: OrgUnit | None
    my_windows: list[Window]
    calendar_warning: str | None = None


async def home(request: Request) -> Response:
    user = current_user(request)
    async with get_db(request).session() as session:
        unit = await session.get(OrgUnit, user.org_unit_code)
        parent = await session.get(OrgUnit, unit.parent_code) if unit and unit.parent_code else None
        mine = await windows_of_user(session, user)
        warning = None
        if user.role == Role.ADMIN:
            known = (await load_calendar(session)).known_years
            warning = coverage_warning(known, dt.datetime.now(LOCAL_TZ).date())
    return render(request, "home/index.html", HomePage(unit, parent, mine, warning))
