"""Warning levels and paused time against the real 2026 calendar (chinesecalendar's data).

2026 Mid-Autumn and National Day (国办发明电〔2025〕7号): 09-25 (Friday) off, and 10-01 to
10-07 off; Sunday 09-20 and Saturday 10-10 are make-up working days.
"""

from __future__ import annotations

import datetime as dt

import pytest

from server.cases.deadlines import (
    LEVEL_NAMES,
    days_left,
    moved_due,
    paused_working_days,
    relay_due,
    warning_level,
)
from tests.unit.server.test_calendar_rules import at, end_of, package_calendar

CAL = package_calendar((2026,))
ACCEPTED = at("2026-11-16", "09:30")
DUE = end_of("2026-11-30")  # 10 working days after Monday 16 November


def level(
    now: dt.datetime,
    *,
    accepted: dt.datetime = ACCEPTED,
    due: dt.datetime = DUE,
    state: str = "in_review",
    percent: int = 80,
    **over: object,
) -> str:
    return warning_level(
        state=state,
        accepted_at=accepted,
        due_at=due,
        now=now,
        calendar=CAL,
        warning_percent=percent,
        **over,  # type: ignore[arg-type]
    )


def test_the_calendar_has_the_2026_national_day() -> None:
    assert not CAL.is_workday(dt.date(2026, 9, 25)) and not CAL.is_workday(dt.date(2026, 10, 7))
    assert CAL.is_workday(dt.date(2026, 10, 10))  # Saturday, make-up
    assert CAL.due(at("2026-11-16", "09:30"), 10, "working_days").moment == end_of("2026-11-30")


def test_yellow_from_80_percent_of_the_limit() -> None:
    assert level(at("2026-11-16", "17:00")) == "none"  # the day of acceptance is not counted
    assert level(at("2026-11-25")) == "none"  # 7 of 10 working days
    assert level(at("2026-11-26", "08:00")) == "yellow"  # 8 of 10: exactly 80 %
    assert level(end_of("2026-11-30")) == "yellow"  # the last moment of the last day


def test_red_once_the_due_moment_has_passed() -> None:
    assert level(end_of("2026-11-30") + dt.timedelta(seconds=1)) == "red"
    assert level(at("2027-01-04")) == "red"


def test_the_county_setting_moves_the_yellow_point() -> None:
    assert level(at("2026-11-24"), percent=60) == "yellow"  # 6 of 10
    assert level(at("2026-11-24"), percent=70) == "none"
    assert level(at("2026-11-27"), percent=95) == "none"  # 9 of 10


@pytest.mark.parametrize("state", ["decided", "delivered", "rated", "refused", "withdrawn"])
def test_no_warning_after_the_end(state: str) -> None:
    assert level(at("2027-01-04"), state=state) == "none"


def test_no_warning_before_acceptance_or_after_completion() -> None:
    assert (
        warning_level(
            state="submitted",
            accepted_at=None,
            due_at=None,
            now=at("2027-01-04"),
            calendar=CAL,
            warning_percent=80,
        )
        == "none"
    )
    assert level(at("2027-01-04"), completed_at=at("2026-11-20")) == "none"


def test_a_stopped_clock_neither_warns_nor_runs_out() -> None:
    paused = at("2026-11-18")  # 2 of 10 working days spent
    assert level(at("2026-11-27"), paused_at=paused) == "none"
    assert level(at("2027-01-04"), paused_at=paused) == "none"
    # Paused when already overdue: it stays red.
    assert level(at("2027-01-04"), paused_at=at("2026-12-01")) == "red"


def test_paused_days_do_not_count_as_spent() -> None:
    # Suspended 18 to 20 November (3 working days), so the due date moved to 3 December.
    due = moved_due(CAL, end_of("2026-11-30"), 3)
    assert due == end_of("2026-12-03")
    assert level(at("2026-11-30"), due=due, paused_days=3) == "none"  # 10 - 3 = 7 of 10
    assert level(at("2026-12-01"), due=due, paused_days=3) == "yellow"  # 8 of 10
    assert level(due + dt.timedelta(seconds=1), due=due, paused_days=3) == "red"


def test_a_pause_across_national_day() -> None:
    # Accepted Wednesday 23 September, 8 working days: 24, 28, 29, 30 September, 8, 9, 10
    # (Saturday, make-up) and 12 October.
    accepted = at("2026-09-23")
    due = CAL.due(accepted, 8, "working_days").moment
    assert due == end_of("2026-10-12")
    # One-time notice on Monday 28 September, supplement on Thursday 8 October: 29, 30
    # September and 8 October stood still; 1 to 7 October are days off anyway.
    days = paused_working_days(CAL, at("2026-09-28"), at("2026-10-08"))
    assert days == 3
    moved = moved_due(CAL, due, days)
    assert moved == end_of("2026-10-15")
    # 9 October: 6 working days since acceptance (24, 28, 29, 30 September, 8, 9 October)
    # minus 3 paused = 3 of 8; 14 October: 10 minus 3 = 7 of 8.
    assert level(at("2026-10-09"), accepted=accepted, due=moved, paused_days=3) == "none"
    assert level(at("2026-10-14"), accepted=accepted, due=moved, paused_days=3) == "yellow"


def test_a_same_day_limit_shares_wall_time() -> None:
    accepted, due = at("2026-11-16", "09:00"), at("2026-11-16", "17:00")
    assert level(at("2026-11-16", "12:00"), accepted=accepted, due=due) == "none"
    assert level(at("2026-11-16", "15:30"), accepted=accepted, due=due) == "yellow"
    assert level(at("2026-11-16", "17:01"), accepted=accepted, due=due) == "red"


def test_moving_by_nothing_keeps_the_due_moment() -> None:
    assert moved_due(CAL, end_of("2026-11-30"), 0) == end_of("2026-11-30")
    assert paused_working_days(CAL, at("2026-11-16", "09:00"), at("2026-11-16", "17:00")) == 0


def test_level_names_are_words_not_colours() -> None:
    assert LEVEL_NAMES == {"none": "正常", "yellow": "黄牌预警", "red": "红牌超期"}


def test_relay_deadline_is_the_countys_share_of_the_running_time() -> None:
    # 10 working days from Monday 16 November: half of them, 5, end on Monday 23 November.
    due = relay_due(accepted_at=ACCEPTED, due_at=DUE, paused_days=0, relay_percent=50, calendar=CAL)
    assert due == end_of("2026-11-23")
    # The share is rounded up to whole working days: 3.3 → 4, ending Friday 20 November.
    share = relay_due(
        accepted_at=ACCEPTED, due_at=DUE, paused_days=0, relay_percent=33, calendar=CAL
    )
    assert share == end_of("2026-11-20")


def test_relay_deadline_moves_on_by_the_paused_days_and_crosses_holidays() -> None:
    # Two days paused moved the due moment to 2 December; the township's 5 days become 7.
    moved = moved_due(CAL, DUE, 2)
    assert moved == end_of("2026-12-02")
    due = relay_due(
        accepted_at=ACCEPTED, due_at=moved, paused_days=2, relay_percent=50, calendar=CAL
    )
    assert due == end_of("2026-11-25")
    # Accepted on Wednesday 23 September with 10 working days: the National Day week and the
    # Mid-Autumn Friday are skipped, Saturday 10 October counts: the limit ends on 14 October,
    # the 5 days (24, 28, 29, 30 September and 8 October) on 8 October.
    accepted = at("2026-09-23", "10:00")
    full = CAL.due(accepted, 10, "working_days").moment
    assert full == end_of("2026-10-14")
    half = relay_due(
        accepted_at=accepted, due_at=full, paused_days=0, relay_percent=50, calendar=CAL
    )
    assert half == end_of("2026-10-08")


def test_a_limit_in_hours_has_no_share() -> None:
    due = ACCEPTED + dt.timedelta(hours=2)
    assert (
        relay_due(accepted_at=ACCEPTED, due_at=due, paused_days=0, relay_percent=50, calendar=CAL)
        == due
    )


def test_days_left_counts_like_the_limit() -> None:
    assert days_left(CAL, at("2026-11-16", "10:00"), DUE) == 10
    assert days_left(CAL, at("2026-11-30", "10:00"), DUE) == 0  # the last day is today
    assert days_left(CAL, at("2026-12-01", "10:00"), DUE) == -1
    assert days_left(CAL, at("2026-12-03", "10:00"), DUE) == -3
