"""Due dates against the real holiday calendar (the chinesecalendar package's 2025 and 2026).

The expected dates are worked out by hand from the State Council's notices:
- 2025 National Day and Mid-Autumn (国办发明电〔2024〕12号): 10-01 to 10-08 off; Sunday 09-28
  and Saturday 10-11 are make-up working days.
- 2026 Spring Festival (国办发明电〔2025〕7号): 02-15 (Sunday) to 02-23 (Monday) off; Saturday
  02-14 and Saturday 02-28 are make-up working days.
"""

from __future__ import annotations

import datetime as dt

import pytest
from chinese_calendar import constants

from server.calendar.actions import coverage_warning, parse_year_text, year_as_text
from server.calendar.models import CalendarDay
from server.calendar.rules import LOCAL_TZ, Due, WorkCalendar
from server.forms import ValidationFailed

UTC = dt.UTC


def package_calendar(years: tuple[int, ...] = (2025, 2026)) -> WorkCalendar:
    holidays: dict[dt.date, str] = constants.holidays
    workdays: dict[dt.date, str] = constants.workdays
    overrides = {day: False for day in holidays if day.year in years}
    overrides |= {day: True for day in workdays if day.year in years}
    return WorkCalendar(overrides=overrides, known_years=frozenset(years))


CAL = package_calendar()


def at(day: str, clock: str = "10:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=LOCAL_TZ)


def end_of(day: str) -> dt.datetime:
    return at(day, "23:59:59")


def days(first: str, last: str) -> list[dt.date]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


# --- the data the hand computations rest on --------------------------------------------------


def test_the_package_has_the_2025_national_day_notice() -> None:
    assert [d for d in days("2025-09-26", "2025-10-12") if not CAL.is_workday(d)] == [
        dt.date(2025, 9, 27),
        *days("2025-10-01", "2025-10-08"),
        dt.date(2025, 10, 12),
    ]
    assert CAL.is_workday(dt.date(2025, 9, 28))  # Sunday, make-up
    assert CAL.is_workday(dt.date(2025, 10, 11))  # Saturday, make-up


def test_the_package_has_the_2026_spring_festival_notice() -> None:
    off = [d for d in days("2026-02-09", "2026-03-01") if not CAL.is_workday(d)]
    assert off == [*days("2026-02-15", "2026-02-23"), dt.date(2026, 3, 1)]
    assert dt.date(2026, 2, 14).weekday() == 5 and CAL.is_workday(dt.date(2026, 2, 14))
    assert dt.date(2026, 2, 28).weekday() == 5 and CAL.is_workday(dt.date(2026, 2, 28))


# --- working days ----------------------------------------------------------------------------


def test_five_working_days_across_national_day_2025() -> None:
    # Accepted Friday 09-26 (not counted): 09-28 Sun make-up (1), 09-29 (2), 09-30 (3),
    # 10-01..10-08 off, 10-09 (4), 10-10 (5).
    due = CAL.due(at("2025-09-26"), 5, "working_days")
    assert due == Due(end_of("2025-10-10"), dt.date(2025, 10, 10), frozenset())


def test_the_start_is_taken_in_local_time() -> None:
    # 2025-09-25 20:00 UTC is already Friday 09-26 04:00 in China: the same limit as above.
    utc_evening = dt.datetime(2025, 9, 25, 20, 0, tzinfo=UTC)
    due = CAL.due(utc_evening, 5, "working_days")
    assert due.last_day == dt.date(2025, 10, 10)
    assert due.moment == end_of("2025-10-10")
    assert due.moment.utcoffset() == dt.timedelta(hours=8)


def test_three_working_days_across_spring_festival_2026() -> None:
    # Accepted Thursday 02-12: 02-13 Fri (1), 02-14 Sat make-up (2), 02-15..02-23 off, 02-24 (3).
    due = CAL.due(at("2026-02-12"), 3, "working_days")
    assert due.last_day == dt.date(2026, 2, 24)
    assert due.moment == end_of("2026-02-24")


def test_twenty_working_days_across_spring_festival_2026() -> None:
    # Accepted Monday 02-09: 02-10..02-13 (1-4), 02-14 Sat (5), 02-24..02-27 (6-9),
    # 02-28 Sat (10), 03-02..03-06 (11-15), 03-09..03-13 (16-20).
    due = CAL.due(at("2026-02-09", "16:45"), 20, "working_days")
    assert due.last_day == dt.date(2026, 3, 13)
    assert due.unknown_years == frozenset()


def test_zero_working_days_is_the_same_day() -> None:
    due = CAL.due(at("2025-10-03", "09:00"), 0, "working_days")  # even on a holiday
    assert due == Due(end_of("2025-10-03"), dt.date(2025, 10, 3), frozenset())


def test_working_days_match_a_day_by_day_count() -> None:
    def walk(start: dt.date, amount: int) -> dt.date:
        day = start
        while amount:
            day += dt.timedelta(days=1)
            amount -= CAL.is_workday(day)
        return day

    for start in days("2025-01-01", "2026-12-31")[::3]:
        for amount in (1, 4, 5, 6, 11, 20, 60):
            due = CAL.due(at(start.isoformat()), amount, "working_days")
            assert due.last_day == walk(start, amount), (start, amount)


def test_sixty_working_days_look_at_few_days(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[dt.date] = []
    original = WorkCalendar.is_workday

    def counting(self: WorkCalendar, day: dt.date) -> bool:
        looked.append(day)
        return original(self, day)

    monkeypatch.setattr(WorkCalendar, "is_workday", counting)
    # From Monday 09-01: 19 days to 09-26, 09-28 Sun (20), 09-29..30 (22), 10-09..11 (25),
    # then five full weeks to 11-14 (50), 11-17..21 (55), 11-24..28 (60).
    assert CAL.due(at("2025-09-01"), 60, "working_days").last_day == dt.date(2025, 11, 28)
    assert len(looked) < 100
    looked.clear()
    CAL.due(at("2025-01-02"), 2000, "working_days")  # years ahead, mostly unknown: still cheap
    assert len(looked) < 400


# --- calendar days ---------------------------------------------------------------------------


def test_calendar_days_ending_in_a_holiday_roll_to_the_next_working_day() -> None:
    # 09-26 + 7 days = 10-03, inside the holiday: the period ends on 10-09.
    due = CAL.due(at("2025-09-26"), 7, "calendar_days")
    assert due == Due(end_of("2025-10-09"), dt.date(2025, 10, 9), frozenset())


def test_calendar_days_ending_on_a_working_day_stay() -> None:
    assert CAL.due(at("2025-09-26"), 2, "calendar_days").last_day == dt.date(2025, 9, 28)
    assert CAL.due(at("2025-11-14"), 1, "calendar_days").last_day == dt.date(2025, 11, 17)
    assert CAL.due(at("2026-02-09"), 30, "calendar_days").last_day == dt.date(2026, 3, 11)


# --- working hours ---------------------------------------------------------------------------


def test_one_working_hour_over_lunch() -> None:
    # 11:40–12:00 is 20 minutes; the other 40 run from 14:30, so it ends at 15:10.
    due = CAL.due(at("2025-11-13", "11:40"), 1, "working_hours")
    assert due == Due(at("2025-11-13", "15:10"), dt.date(2025, 11, 13), frozenset())


def test_one_working_hour_from_friday_evening_ends_monday() -> None:
    # 17:20–17:30 is 10 minutes; the other 50 run from Monday 08:30.
    due = CAL.due(at("2025-11-14", "17:20"), 1, "working_hours")
    assert due.moment == at("2025-11-17", "09:20")
    assert due.last_day == dt.date(2025, 11, 17)


def test_one_working_hour_from_friday_evening_before_a_make_up_sunday() -> None:
    due = CAL.due(at("2025-09-26", "17:20"), 1, "working_hours")
    assert due.moment == at("2025-09-28", "09:20")  # Sunday 09-28 is a working day


def test_working_hours_outside_office_hours_start_at_the_next_period() -> None:
    assert CAL.due(at("2025-11-13", "12:30"), 1, "working_hours").moment == at(
        "2025-11-13", "15:30"
    )
    assert CAL.due(at("2025-11-13", "07:00"), 2, "working_hours").moment == at(
        "2025-11-13", "10:30"
    )
    assert CAL.due(at("2025-11-13", "11:00"), 1, "working_hours").moment == at(
        "2025-11-13", "12:00"
    )
    # Tuesday 09-30 17:00: 30 minutes, then the holiday, then Thursday 10-09 from 08:30.
    assert CAL.due(at("2025-09-30", "17:00"), 2, "working_hours").moment == at(
        "2025-10-09", "10:00"
    )


def test_working_hours_from_an_instant_in_utc() -> None:
    start = dt.datetime(2025, 11, 13, 3, 40, tzinfo=UTC)  # 11:40 in China
    assert CAL.due(start, 1, "working_hours").moment == at("2025-11-13", "15:10")


# --- counting spent working days -------------------------------------------------------------


def test_working_days_between_across_a_holiday() -> None:
    assert CAL.working_days_between(at("2025-09-30", "10:00"), at("2025-10-10", "09:00")) == 2
    assert CAL.working_days_between(at("2025-09-26"), at("2025-10-10")) == 5
    assert CAL.working_days_between(at("2025-09-26"), at("2025-09-28")) == 1  # Sunday make-up
    assert CAL.working_days_between(at("2026-02-13"), at("2026-02-24")) == 2
    assert CAL.working_days_between(at("2025-10-10"), at("2025-10-10", "17:00")) == 0
    assert CAL.working_days_between(at("2025-10-10"), at("2025-09-26")) == 0


# --- a year nobody entered -------------------------------------------------------------------


def test_an_unknown_year_falls_back_to_monday_to_friday() -> None:
    due = CAL.due(at("2027-03-01"), 5, "working_days")  # Monday
    assert due.last_day == dt.date(2027, 3, 8)
    assert due.unknown_years == frozenset({2027})
    # Crossing into 2027: 2027-01-01 (a Friday) is counted as a working day.
    crossing = CAL.due(at("2026-12-28"), 10, "working_days")
    assert crossing.last_day == dt.date(2027, 1, 11)
    assert crossing.unknown_years == frozenset({2027})
    hours = CAL.due(at("2026-12-31", "17:00"), 1, "working_hours")
    assert hours.moment == at("2027-01-01", "09:00")
    assert hours.unknown_years == frozenset({2027})
    assert CAL.due(at("2026-12-30"), 1, "calendar_days").unknown_years == frozenset()
    assert CAL.unknown_years_between(dt.date(2024, 5, 1), dt.date(2027, 1, 1)) == {2024, 2027}


def test_negative_amounts_and_naive_starts_are_programmer_errors() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.due(at("2025-09-26"), -1, "working_days")
    with pytest.raises(ValueError, match="naive"):
        CAL.due(dt.datetime(2025, 9, 26, 10, 0), 1, "working_days")  # noqa: DTZ001


# --- the county's text, and the coverage warning ---------------------------------------------


def test_the_county_text_parses_and_round_trips() -> None:
    text = (
        "# 依据：国办发明电〔2026〕9号\n"
        "2027-01-01 休 元旦\n"
        "\n"
        "# 春节\n"
        "2027-02-06 至 2027-02-12 休 春节\n"
        "2027-02-14 班 春节调休上班\n"
        "2027年2月20日 班 春节调休上班\n"
    )
    entered = parse_year_text(2027, text)
    assert entered.note == "国办发明电〔2026〕9号"
    assert [(d.day, d.workday, d.name) for d in entered.days] == [
        (dt.date(2027, 1, 1), False, "元旦"),
        *[(day, False, "春节") for day in days("2027-02-06", "2027-02-12")],
        (dt.date(2027, 2, 14), True, "春节调休上班"),
        (dt.date(2027, 2, 20), True, "春节调休上班"),
    ]
    rows = [
        CalendarDay(day=d.day, workday=d.workday, name=d.name, source="county")
        for d in entered.days
    ]
    again = year_as_text(rows, note=entered.note)
    assert again == (
        "# 依据：国办发明电〔2026〕9号\n"
        "2027-01-01 休 元旦\n"
        "2027-02-06 至 2027-02-12 休 春节\n"
        "2027-02-14 班 春节调休上班\n"
        "2027-02-20 班 春节调休上班\n"
    )
    assert parse_year_text(2027, again) == entered


def test_every_bad_line_is_named_with_its_fix() -> None:
    text = (
        "2027-01-01 休 元旦\n"
        "2027-02-10 班 春节调休上班\n"
        "2026-12-31 休 元旦\n"
        "2027-02-30 休 春节\n"
        "明天放假\n"
        "2027-01-01 休 元旦\n"
        "2027-02-12 至 2027-02-06 休 春节\n"
    )
    with pytest.raises(ValidationFailed) as failed:
        parse_year_text(2027, text)
    problems = failed.value.errors["text"].split("；")
    assert problems == [
        "第 2 行：2027-02-10 是星期三，本来就是工作日，不需要写‘班’",
        "第 3 行：2026-12-31 不在 2027 年，这里只能填写 2027 年的日期",
        "第 4 行：2027-02-30 不是有效的日期，请检查月份和日子",
        "第 5 行：看不懂“明天放假”，请写成“2027-01-01 休 元旦”、“2027-02-06 至 2027-02-12 休 春节”"
        "或“2027-02-14 班 春节调休上班”",
        "第 6 行：2027-01-01 在第 1 行已经写过，同一天只能写一次",
        "第 7 行：开始日期 2027-02-12 晚于结束日期 2027-02-06，请把两个日期对调",
    ]


def test_an_empty_entry_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="请至少填写一天"):
        parse_year_text(2027, "# 依据：通知\n\n")


def test_coverage_warning() -> None:
    known = {2025, 2026}
    assert coverage_warning(known, dt.date(2026, 10, 31)) is None
    assert coverage_warning(known, dt.date(2026, 11, 1)) == (
        "2027 年的节假日安排尚未录入：涉及 2027 年的办理期限将按周一至周五计算。"
        "请在国务院办公厅发布通知后录入。"
    )
    assert coverage_warning(known | {2027}, dt.date(2026, 12, 20)) is None
    current = coverage_warning(known, dt.date(2027, 1, 4))
    assert current is not None and current.startswith("2027 年的节假日安排尚未录入")
    both = coverage_warning({2025}, dt.date(2026, 11, 20))
    assert both is not None and both.startswith("2026 年、2027 年的节假日安排尚未录入")
