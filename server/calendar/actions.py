"""Filling the working-day calendar: seeding it from the package, and the county's own entry
of a year from the State Council's holiday notice (国务院办公厅关于部分节假日安排的通知).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import chinese_calendar
from chinese_calendar import constants as package_data
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.access import Forbidden
from server.auth.models import Role, User
from server.calendar.models import SOURCE_COUNTY, SOURCE_PACKAGE, CalendarDay, CalendarYear
from server.db import utcnow
from server.forms import ValidationFailed
from server.settings import Settings

MIN_YEAR, MAX_YEAR = 2000, 2100
LONGEST_HOLIDAY = 31  # days in one line's range; longer is a typo in the end date
PACKAGE_NOTE = f"来自 chinesecalendar {chinese_calendar.__version__}"
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
WEEKDAY_NAMES = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
DAY_OFF, MAKEUP = "休", "班"
NOTE_PREFIX = "依据"

_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_LINE = re.compile(rf"^{_DATE}\s*(?:(?:至|到|~|～)\s*{_DATE}\s*)?(休|班)\s*(.*)$")
_NOTE = re.compile(rf"^#\s*{NOTE_PREFIX}\s*[：:]\s*(.*)$")


# --- who may edit ----------------------------------------------------------------------------


def can_edit_calendar(actor: User, settings: Settings) -> bool:
    """The calendar is kept at the county (and synced down): its admin edits it."""
    return actor.role == Role.ADMIN and settings.role == "county"


def require_calendar_editor(actor: User, settings: Settings) -> None:
    if not can_edit_calendar(actor, settings):
        raise Forbidden("工作日历由县政务服务中心的系统管理员统一维护，您不能修改。")


# --- seeding from the package ----------------------------------------------------------------


def _package_years() -> dict[int, list[CalendarDay]]:
    """The package's days, by year: its holidays as days off, its make-up days as workdays."""
    holidays: Mapping[dt.date, str] = package_data.holidays
    workdays: Mapping[dt.date, str] = package_data.workdays
    years: dict[int, list[CalendarDay]] = {}
    for day, english in sorted(holidays.items()):
        name = HOLIDAY_NAMES.get(english, english)[:50]
        years.setdefault(day.year, []).append(
            CalendarDay(day=day, workday=False, name=name, source=SOURCE_PACKAGE)
        )
    for day, english in sorted(workdays.items()):
        name = f"{HOLIDAY_NAMES.get(english, english)}调休上班"[:50]
        years.setdefault(day.year, []).append(
            CalendarDay(day=day, workday=True, name=name, source=SOURCE_PACKAGE)
        )
    return years


async def _delete_days_of(session: AsyncSession, year: int) -> None:
    await session.exec(
        delete(CalendarDay).where(
            col(CalendarDay.day) >= dt.date(year, 1, 1),
            col(CalendarDay.day) <= dt.date(year, 12, 31),
        )
    )


async def do_seed_calendar(*, session: AsyncSession) -> int:
    """Add every year the package knows and the database does not; returns how many.

    A year already present (seeded before, entered by the county, or synced from it) is never
    touched, so running this at every start is harmless.
    """
    present = set((await session.exec(select(CalendarYear.year))).all())
    added = 0
    for year, days in sorted(_package_years().items()):
        if year in present:
            continue
        await _delete_days_of(session, year)  # stray days of a year nobody entered
        session.add_all(days)
        session.add(CalendarYear(year=year, source=SOURCE_PACKAGE, note=PACKAGE_NOTE))
        added += 1
    if not added:
        return 0
    try:
        await session.commit()
    except IntegrityError:  # another process seeded at the same moment: its rows stand
        await session.rollback()
        return 0
    return added


# --- the county's entry of a year ------------------------------------------------------------


@dataclass(frozen=True)
class EnteredDay:
    day: dt.date
    workday: bool
    name: str


@dataclass(frozen=True)
class EnteredYear:
    note: str
    days: list[EnteredDay]


def _date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _example(year: int) -> str:
    return (
        f"请写成“{year}-01-01 休 元旦”、“{year}-02-06 至 {year}-02-12 休 春节”"
        f"或“{year}-02-14 班 春节调休上班”"
    )


def _parse_line(year: int, number: int, line: str) -> tuple[list[EnteredDay], list[str]]:
    """One line's days, or what is wrong with it."""
    where = f"第 {number} 行："
    found = _LINE.match(line)
    if found is None:
        return [], [f"{where}看不懂“{line[:40]}”，{_example(year)}"]
    groups = found.groups()
    first = _date(*groups[0:3])
    last = _date(*groups[3:6]) if groups[3] else first
    kind, name = groups[6], groups[7].strip()
    problems: list[str] = []
    for raw, parsed in ((groups[0:3], first), (groups[3:6], last)):
        if raw[0] and parsed is None:
            problems.append(f"{where}{'-'.join(raw)} 不是有效的日期，请检查月份和日子")
    if first is None or last is None:
        return [], problems
    for parsed in dict.fromkeys((first, last)):
        if parsed.year != year:
            problems.append(f"{where}{parsed} 不在 {year} 年，这里只能填写 {year} 年的日期")
    if last < first:
        problems.append(f"{where}开始日期 {first} 晚于结束日期 {last}，请把两个日期对调")
    elif (last - first).days >= LONGEST_HOLIDAY:
        problems.append(f"{where}一段连续的日子最长 {LONGEST_HOLIDAY} 天，请检查结束日期 {last}")
    if len(name) > 50:
        problems.append(f"{where}名称最多 50 个字，请缩短“{name[:20]}…”")
    if problems:
        return [], problems
    workday = kind == MAKEUP
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    if workday:
        for day in days:
            if day.weekday() < 5:
                problems.append(
                    f"{where}{day} 是{WEEKDAY_NAMES[day.weekday()]}，"
                    f"本来就是工作日，不需要写‘{MAKEUP}’"
                )
    name = name or ("调休上班" if workday else "节假日")
    return [EnteredDay(day, workday, name) for day in days], problems


def parse_year_text(year: int, text: str) -> EnteredYear:
    """Every line of the county's entry, or one message naming every bad line and its fix."""
    note = ""
    days: list[EnteredDay] = []
    seen: dict[dt.date, int] = {}
    problems: list[str] = []
    first_line = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            found = _NOTE.match(line)
            if first_line and found:
                note = found.group(1).strip()
                if len(note) > 200:
                    problems.append(f"第 {number} 行：依据最多 200 个字，请只写通知的标题或文号")
            first_line = False
            continue
        first_line = False
        entered, wrong = _parse_line(year, number, line)
        problems.extend(wrong)
        for item in entered:
            if item.day in seen:
                problems.append(
                    f"第 {number} 行：{item.day} 在第 {seen[item.day]} 行已经写过，同一天只能写一次"
                )
            else:
                seen[item.day] = number
                days.append(item)
    if not problems and not days:
        problems.append(f"请至少填写一天，例如“{year}-01-01 休 元旦”")
    if problems:
        raise ValidationFailed({"text": "；".join(problems)})
    return EnteredYear(note=note, days=sorted(days, key=lambda item: item.day))


async def do_replace_year(
    *,
    session: AsyncSession,
    actor: User,
    settings: Settings,
    year: int,
    text: str,
    ip: str = "",
) -> int:
    """Replace a year's days with the county admin's entry; returns how many days it holds."""
    require_calendar_editor(actor, settings)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed({"text": f"年份应在 {MIN_YEAR}–{MAX_YEAR} 之间"})
    entered = parse_year_text(year, text)
    await _delete_days_of(session, year)
    session.add_all(
        CalendarDay(day=item.day, workday=item.workday, name=item.name, source=SOURCE_COUNTY)
        for item in entered.days
    )
    row = await session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, source=SOURCE_COUNTY)
    row.source = SOURCE_COUNTY
    row.note = entered.note
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    session.add(row)
    do_record_audit(
        session=session,
        actor_id=actor.id,
        action="calendar.replace_year",
        target=f"calendar_year:{year}",
        ip=ip,
        days_off=sum(1 for item in entered.days if not item.workday),
        makeup_days=sum(1 for item in entered.days if item.workday),
        note=entered.note,
    )
    await session.commit()
    return len(entered.days)


# --- for the pages ---------------------------------------------------------------------------


def year_as_text(days: Iterable[CalendarDay], note: str = "") -> str:
    """The inverse of parse_year_text: one line per day, runs of the same kind as a range."""
    lines = [f"# {NOTE_PREFIX}：{note}"] if note else []
    runs: list[list[CalendarDay]] = []
    for day in sorted(days, key=lambda item: item.day):
        run = runs[-1] if runs else None
        if (
            run is not None
            and day.day == run[-1].day + dt.timedelta(days=1)
            and day.workday == run[-1].workday
            and day.name == run[-1].name
        ):
            run.append(day)
        else:
            runs.append([day])
    for run in runs:
        first, last = run[0], run[-1]
        kind = MAKEUP if first.workday else DAY_OFF
        span = str(first.day) if first is last else f"{first.day} 至 {last.day}"
        lines.append(f"{span} {kind} {first.name}")
    return "\n".join(lines) + ("\n" if lines else "")


def coverage_warning(known_years: Iterable[int], today: dt.date) -> str | None:
    """A warning when deadlines will be counted Monday–Friday for lack of a notice: the
    current year unknown, or next year unknown from November on (when its notice is due)."""
    known = set(known_years)
    missing = [today.year] if today.year not in known else []
    if today.month >= 11 and today.year + 1 not in known:
        missing.append(today.year + 1)
    if not missing:
        return None
    years = "、".join(f"{year} 年" for year in missing)
    scope = f"涉及 {years}" if len(missing) == 1 else "涉及这些年份"
    advice = (
        "请按国务院办公厅的通知尽快录入。"
        if today.year in missing
        else "请在国务院办公厅发布通知后录入。"
    )
    return f"{years}的节假日安排尚未录入：{scope}的办理期限将按周一至周五计算。{advice}"
