"""The working-day calendar: seeding, the county's entry of a year, who may edit, the warning,
and the due dates that follow from what the county entered.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from chinese_calendar import constants
from sqlmodel import col, select
from starlette.applications import Starlette

from server.audit.models import AuditLog
from server.auth.models import User
from server.calendar import views as calendar_views
from server.calendar.actions import do_seed_calendar
from server.calendar.models import CalendarDay, CalendarYear
from server.calendar.queries import days_of_year, load_calendar, year_summaries
from server.calendar.rules import LOCAL_TZ
from server.db import Database
from tests.conftest import post_form, signed_in
from tests.factories import Personas

COUNTY = "990102"
COUNTY_ADMIN = "county.admin"
PACKAGE_YEARS = sorted({day.year for day in [*constants.holidays, *constants.workdays]})

# The Spring Festival typed a day per line; the form shows it back as one range.
TYPED_2027 = "\n".join(
    [
        "# 依据：国办发明电〔2026〕9号",
        "2027-01-01 休 元旦",
        *[f"2027-02-{day:02d} 休 春节" for day in range(6, 13)],
        "2027-02-14 班 春节调休上班",
        "2027-02-20 班 春节调休上班",
    ]
)
SHOWN_2027 = (
    "# 依据：国办发明电〔2026〕9号\n"
    "2027-01-01 休 元旦\n"
    "2027-02-06 至 2027-02-12 休 春节\n"
    "2027-02-14 班 春节调休上班\n"
    "2027-02-20 班 春节调休上班\n"
)


def textarea(html: str) -> str:
    found = re.search(r'<textarea[^>]*name="text"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, "no calendar text field on the page"
    return unescape(found.group(1))


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=LOCAL_TZ)


async def seed(app: Starlette) -> int:
    async with app.state.db.session() as session:
        return await do_seed_calendar(session=session)


async def test_seeding_is_idempotent_and_never_overwrites_a_county_year(
    county_app: Starlette,
) -> None:
    db: Database = county_app.state.db
    assert await seed(county_app) == len(PACKAGE_YEARS) == 23
    assert await seed(county_app) == 0
    async with db.session() as session:
        calendar = await load_calendar(session)
        national_day = {d.day: d for d in await days_of_year(session, 2025)}
        summaries = {s.year: s for s in await year_summaries(session)}
    assert calendar.known_years == frozenset(range(2004, 2027))
    assert len(calendar.overrides) == len(constants.holidays) + len(constants.workdays)
    assert national_day[dt.date(2025, 10, 1)].name == "国庆节"
    assert national_day[dt.date(2025, 10, 6)].name == "中秋节"
    assert national_day[dt.date(2025, 9, 28)].workday
    assert national_day[dt.date(2025, 9, 28)].name == "国庆节调休上班"
    assert summaries[2025].source == "package"
    assert summaries[2025].note == "来自 chinesecalendar 1.11.0"
    assert (summaries[2025].days_off, summaries[2025].makeup_days) == (28, 5)

    async with signed_in(county_app, COUNTY_ADMIN) as client:
        text = "# 依据：县里核对过的通知\n2026-01-01 休 元旦\n"
        response = await post_form(client, "/admin/calendar/2026", {"text": text})
        assert response.status_code == 303
    assert await seed(county_app) == 0  # the county's 2026 stands
    async with db.session() as session:
        days_2026 = await days_of_year(session, 2026)
        row_2026 = await session.get(CalendarYear, 2026)
        # A year that lost its row (its days left behind) is seeded again, cleanly.
        row_2005 = await session.get(CalendarYear, 2005)
        assert row_2005 is not None
        await session.delete(row_2005)
        await session.commit()
    assert [(d.day, d.workday, d.name, d.source) for d in days_2026] == [
        (dt.date(2026, 1, 1), False, "元旦", "county")
    ]
    assert row_2026 is not None and (row_2026.source, row_2026.note) == (
        "county",
        "县里核对过的通知",
    )
    assert await seed(county_app) == 1
    async with db.session() as session:
        days_2005 = await days_of_year(session, 2005)
    assert [d.day for d in days_2005] == sorted(
        day for day in [*constants.holidays, *constants.workdays] if day.year == 2005
    )


async def test_the_county_admin_enters_2027_and_due_dates_follow(county_app: Starlette) -> None:
    db: Database = county_app.state.db
    async with db.session() as session:
        before = (await load_calendar(session)).due(at("2027-02-04"), 3, "working_days")
    assert before.last_day == dt.date(2027, 2, 9)  # Monday to Friday: nobody entered 2027
    assert before.unknown_years == frozenset({2027})

    async with signed_in(county_app, COUNTY_ADMIN) as client:
        empty = await client.get("/admin/calendar/2027")
        assert empty.status_code == 200
        assert "2027 年的节假日安排尚未录入" in empty.text
        assert textarea(empty.text) == ""
        response = await post_form(client, "/admin/calendar/2027", {"text": TYPED_2027})
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/calendar"
        listing = await client.get("/admin/calendar")
        assert "已保存 2027 年的节假日安排（共 10 天）" in listing.text
        row = re.search(
            r"<tr>\s*<td[^>]*><a href=\"/admin/calendar/2027\">.*?</tr>", listing.text, re.S
        )
        assert row, listing.text
        cells = [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]
        assert cells[1:5] == ["县级录入", "8 天", "2 天", "国办发明电〔2026〕9号"]
        assert ">编辑</a>" in row.group(0)
        shown = await client.get("/admin/calendar/2027")
        assert textarea(shown.text) == SHOWN_2027
        assert "星期日" in shown.text and "调休上班" in shown.text

    async with db.session() as session:
        calendar = await load_calendar(session)
        audit = (
            await session.exec(select(AuditLog).where(AuditLog.action == "calendar.replace_year"))
        ).all()
        admin = (await session.exec(select(User).where(User.username == COUNTY_ADMIN))).one()
        row_2027 = await session.get(CalendarYear, 2027)
    # Thursday 02-04: 02-05 Fri (1), 02-06..02-12 off, 02-14 Sun make-up (2), 02-15 Mon (3).
    after = calendar.due(at("2027-02-04"), 3, "working_days")
    assert after.last_day == dt.date(2027, 2, 15)
    assert after.unknown_years == frozenset()
    assert calendar.working_days_between(at("2027-02-04"), at("2027-02-20")) == 8
    assert [(a.actor_id, a.target) for a in audit] == [(admin.id, "calendar_year:2027")]
    assert row_2027 is not None and row_2027.updated_by_id == admin.id


async def test_bad_lines_are_named_and_the_text_kept(county_app: Starlette) -> None:
    async with signed_in(county_app, COUNTY_ADMIN) as client:
        response = await post_form(client, "/admin/calendar/2027", {"text": TYPED_2027})
        assert response.status_code == 303
        bad = "2027-01-01 休 元旦\n2027-02-10 班 春节调休上班\n\n明天放假\n2028-01-01 休 元旦"
        response = await post_form(client, "/admin/calendar/2027", {"text": bad})
        assert response.status_code == 422
        page = unescape(response.text)
        assert "第 2 行：2027-02-10 是星期三，本来就是工作日，不需要写‘班’" in page
        assert "第 4 行：看不懂“明天放假”，请写成“2027-01-01 休 元旦”" in page
        assert "第 5 行：2028-01-01 不在 2027 年，这里只能填写 2027 年的日期" in page
        assert "第 1 行" not in page
        assert textarea(response.text) == bad
    async with county_app.state.db.session() as session:
        days = await days_of_year(session, 2027)  # nothing of the bad entry was stored
    assert len(days) == 10


async def test_a_township_reads_the_calendar_but_cannot_edit_it(
    app: Starlette, personas: Personas
) -> None:
    await seed(app)
    async with signed_in(app, personas.admin.username) as client:
        listing = await client.get("/admin/calendar")
        assert listing.status_code == 200
        assert "工作日历由县政务服务中心统一维护" in listing.text
        assert "录入新的年度" not in listing.text and ">编辑</a>" not in listing.text
        assert "国家安排" in listing.text
        year = await client.get("/admin/calendar/2026")
        assert year.status_code == 200 and 'name="text"' not in year.text
        response = await post_form(client, "/admin/calendar/2027", {"text": TYPED_2027})
        assert response.status_code == 403
    async with signed_in(app, personas.township_officer.username) as client:
        assert (await client.get("/admin/calendar")).status_code == 200
    async with signed_in(app, personas.village_clerk.username) as client:
        assert (await client.get("/admin/calendar")).status_code == 403
    async with app.state.db.session() as session:
        assert await session.get(CalendarYear, 2027) is None
        assert (
            await session.exec(
                select(CalendarDay).where(col(CalendarDay.day) > dt.date(2026, 12, 31))
            )
        ).all() == []


async def test_the_warning_shows_while_next_year_is_missing(
    county_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calendar_views, "_today", lambda: dt.date(2026, 11, 5))
    await seed(county_app)
    warning = (
        "2027 年的节假日安排尚未录入：涉及 2027 年的办理期限将按周一至周五计算。"
        "请在国务院办公厅发布通知后录入。"
    )
    async with signed_in(county_app, COUNTY_ADMIN) as client:
        listing = await client.get("/admin/calendar")
        assert warning in listing.text
        assert 'name="year" type="number" value="2027"' in listing.text  # the year to enter
        response = await post_form(client, "/admin/calendar/2027", {"text": TYPED_2027})
        assert response.status_code == 303
        listing = await client.get("/admin/calendar")
        assert "尚未录入" not in listing.text
        assert 'value="2028"' in listing.text


async def test_the_add_form_goes_to_the_year(county_app: Starlette) -> None:
    async with signed_in(county_app, COUNTY_ADMIN) as client:
        response = await client.get("/admin/calendar?year=2028")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/calendar/2028"
        response = await client.get("/admin/calendar?year=28")
        assert response.status_code == 422
        assert "请填写 2000–2100 之间的年份" in response.text
        assert (await client.get("/admin/calendar/1999")).status_code == 404
        response = await post_form(client, "/admin/calendar/1999", {"text": TYPED_2027})
        assert response.status_code == 404
