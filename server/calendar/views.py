"""The working-day calendar's pages: every centre reads it, the county's admin keeps it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import NotFound, current_user, require_role
from server.auth.models import Role, User
from server.calendar.actions import (
    MAX_YEAR,
    MIN_YEAR,
    WEEKDAY_NAMES,
    can_edit_calendar,
    coverage_warning,
    do_replace_year,
    require_calendar_editor,
    year_as_text,
)
from server.calendar.models import SOURCE_COUNTY, SOURCE_NAMES, CalendarDay, CalendarYear
from server.calendar.queries import YearSummary, days_of_year, year_summaries
from server.calendar.rules import LOCAL_TZ
from server.context import client_ip, flash, get_db, get_settings
from server.forms import ValidationFailed, form_values, whole_number
from server.templating import render

# Every staff role reads the calendar (their deadlines depend on it); village agents do not.
VIEW_CALENDAR = frozenset({Role.ADMIN, Role.WINDOW_LEAD, Role.SUPERVISOR, Role.CLERK})


@dataclass
class CalendarListPage:
    years: list[YearSummary]
    warning: str | None
    can_edit: bool
    new_year: str  # the add form's year: what was typed, or the first year not yet entered
    year_error: str
    source_names: dict[str, str]


@dataclass
class CalendarYearPage:
    year: int
    entry: CalendarYear | None  # None: nobody has entered this year
    days: list[CalendarDay]
    values: dict[str, str]
    errors: dict[str, str]
    can_edit: bool
    source_names: dict[str, str]
    weekday_names: tuple[str, ...]


def _today() -> dt.date:
    return dt.datetime.now(LOCAL_TZ).date()


def _year_of(request: Request) -> int:
    year: int = request.path_params["year"]
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise NotFound(f"只能查看 {MIN_YEAR}–{MAX_YEAR} 年的工作日历")
    return year


async def calendar_list(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, VIEW_CALENDAR)
    can_edit = can_edit_calendar(actor, get_settings(request))
    typed = request.query_params.get("year", "").strip()
    year_error = ""
    if typed:
        year = whole_number(typed)
        if year is not None and MIN_YEAR <= year <= MAX_YEAR:
            return RedirectResponse(f"/admin/calendar/{year}", status_code=303)
        year_error = f"请填写 {MIN_YEAR}–{MAX_YEAR} 之间的年份，例如 {_today().year + 1}"
    async with get_db(request).session() as session:
        years = await year_summaries(session)
    known = {summary.year for summary in years}
    today = _today()
    first_missing = today.year
    while first_missing in known:
        first_missing += 1
    page = CalendarListPage(
        years=years,
        warning=coverage_warning(known, today),
        can_edit=can_edit,
        new_year=typed or str(first_missing),
        year_error=year_error,
        source_names=SOURCE_NAMES,
    )
    return render(request, "calendar/list.html", page, status_code=422 if year_error else 200)


async def _year_page(
    request: Request,
    actor: User,
    year: int,
    text: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with get_db(request).session() as session:
        entry = await session.get(CalendarYear, year)
        days = await days_of_year(session, year)
    if text is None:  # the stored year as the form's text; the package's note is not a basis
        note = entry.note if entry is not None and entry.source == SOURCE_COUNTY else ""
        text = year_as_text(days, note=note)
    page = CalendarYearPage(
        year=year,
        entry=entry,
        days=days,
        values={"text": text},
        errors=errors or {},
        can_edit=can_edit_calendar(actor, get_settings(request)),
        source_names=SOURCE_NAMES,
        weekday_names=WEEKDAY_NAMES,
    )
    return render(request, "calendar/show.html", page, status_code=status_code)


async def calendar_show(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, VIEW_CALENDAR)
    return await _year_page(request, actor, _year_of(request))


async def calendar_update(request: Request) -> Response:
    actor = current_user(request)
    require_calendar_editor(actor, get_settings(request))
    year = _year_of(request)
    values = form_values(await request.form(), "text")
    async with get_db(request).session() as session:
        try:
            count = await do_replace_year(
                session=session,
                actor=actor,
                settings=get_settings(request),
                year=year,
                text=values["text"],
                ip=client_ip(request),
            )
        except ValidationFailed as failed:
            return await _year_page(request, actor, year, values["text"], failed.errors, 422)
    flash(request, f"已保存 {year} 年的节假日安排（共 {count} 天）。")
    return RedirectResponse("/admin/calendar", status_code=303)
