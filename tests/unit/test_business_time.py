"""Business-time arithmetic (docs/domain-rules.md, Business calendars), case by case and
against a naive day-by-day count."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.responsibility.business_time import (
    NotCountable,
    WorkCalendar,
    business_due,
    calendar_from,
)

GOLDEN_WEEK = [f"2026-10-0{i}" for i in range(1, 8)]
CHINA_2026 = calendar_from([1, 2, 3, 4, 5], GOLDEN_WEEK, ["2026-09-27", "2026-10-10"], None,
                           "Asia/Shanghai")
PLAIN = WorkCalendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_contract_example_counts_friday_the_make_up_sunday_and_monday() -> None:
    assert business_due(at("2026-09-24T15:00:00+08:00"), "P3D", CHINA_2026) == at(
        "2026-09-28T15:00:00+08:00"
    )


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # a Friday plus one working day is the Monday
        ("2026-03-06T10:00:00+08:00", "P1D", "2026-03-09T10:00:00+08:00"),
        # a count started on a Saturday starts at the beginning of Monday: a full day
        ("2026-03-07T10:00:00+08:00", "P1D", "2026-03-10T00:00:00+08:00"),
        # a week is a workweek: five working days
        ("2026-03-02T10:00:00+08:00", "P1W", "2026-03-09T10:00:00+08:00"),
        ("2026-03-02T10:00:00+08:00", "P2W", "2026-03-16T10:00:00+08:00"),
        # hours: within the day, to the closing time, across the night, across a weekend
        ("2026-03-02T10:00:00+08:00", "PT4H", "2026-03-02T14:00:00+08:00"),
        ("2026-03-02T10:00:00+08:00", "PT8H", "2026-03-02T18:00:00+08:00"),
        ("2026-03-02T10:00:00+08:00", "PT9H", "2026-03-03T10:00:00+08:00"),
        ("2026-03-06T17:00:00+08:00", "PT2H", "2026-03-09T10:00:00+08:00"),
        ("2026-03-02T10:00:00+08:00", "PT26H", "2026-03-04T18:00:00+08:00"),
        # before opening and after closing: the count starts at the next opening
        ("2026-03-02T07:30:00+08:00", "PT1H", "2026-03-02T10:00:00+08:00"),
        ("2026-03-02T20:00:00+08:00", "PT1H30M", "2026-03-03T10:30:00+08:00"),
        # days then hours
        ("2026-03-02T10:00:00+08:00", "P1DT8H", "2026-03-03T18:00:00+08:00"),
    ],
)
def test_monday_to_friday_nine_to_six_in_the_events_offset(
    start: str, duration: str, due: str
) -> None:
    assert business_due(at(start), duration, PLAIN) == at(due)


def test_a_holiday_on_a_weekend_takes_no_working_day_away() -> None:
    calendar = WorkCalendar(holidays=frozenset({date(2026, 3, 7)}))  # a Saturday
    assert business_due(at("2026-03-06T10:00:00+08:00"), "P1D", calendar) == at(
        "2026-03-09T10:00:00+08:00"
    )
    assert business_due(at("2026-03-06T10:00:00+08:00"), "P1D", PLAIN) == at(
        "2026-03-09T10:00:00+08:00"
    )


def test_a_date_that_is_both_holiday_and_make_up_day_is_a_holiday() -> None:
    sunday = date(2026, 3, 8)
    calendar = WorkCalendar(holidays=frozenset({sunday}), workdays=frozenset({sunday}))
    assert not calendar.is_workday(sunday)


def test_make_up_days_and_holidays_count_for_hours_too() -> None:
    # Wed 30 Sep 17:00 + 2 working hours: 1 h on the 30th, then 1 h on Thu 8 Oct
    assert business_due(at("2026-09-30T17:00:00+08:00"), "PT2H", CHINA_2026) == at(
        "2026-10-08T10:00:00+08:00"
    )
    # Sat 26 Sep is off, Sun 27 is a make-up day
    assert business_due(at("2026-09-26T10:00:00+08:00"), "PT3H", CHINA_2026) == at(
        "2026-09-27T12:00:00+08:00"
    )


def test_days_are_judged_on_the_calendars_clock_and_answered_in_the_starts_offset() -> None:
    # 23:00 UTC on Thursday is already Friday 07:00 in Shanghai
    due = business_due(at("2026-09-24T23:00:00+00:00"), "P1D", CHINA_2026)
    assert due == at("2026-09-27T07:00:00+08:00")
    assert due.utcoffset() == timedelta(0)


def test_working_hours_follow_a_clock_change() -> None:
    berlin = WorkCalendar(timezone=ZoneInfo("Europe/Berlin"))
    # Friday 27 March 2026 17:00 CET; clocks go forward on Sunday the 29th
    due = business_due(at("2026-03-27T17:00:00+01:00"), "PT2H", berlin)
    assert due == at("2026-03-30T10:00:00+02:00")


def test_custom_hours_and_a_six_day_week() -> None:
    calendar = WorkCalendar(
        workweek=frozenset({1, 2, 3, 4, 5, 6}), start=time(8, 0), end=time(12, 0)
    )
    assert business_due(at("2026-03-06T11:00:00+08:00"), "PT2H", calendar) == at(
        "2026-03-07T09:00:00+08:00"
    )
    assert business_due(at("2026-03-06T11:00:00+08:00"), "P1W", calendar) == at(
        "2026-03-13T11:00:00+08:00"
    )


def test_years_and_months_are_not_working_days() -> None:
    with pytest.raises(NotCountable):
        business_due(at("2026-03-02T10:00:00+08:00"), "P1M", PLAIN)


def test_a_calendar_without_working_days_or_hours_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkCalendar(workweek=frozenset())
    with pytest.raises(ValueError):
        WorkCalendar(start=time(18, 0), end=time(9, 0))


# --- against a naive count ----------------------------------------------------------------

BASE = date(2026, 1, 1)
UTC8 = timezone(timedelta(hours=8))


def naive_days(start: datetime, n: int, calendar: WorkCalendar) -> datetime:
    while not calendar.is_workday(start.date()):
        start = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=start.tzinfo)
    day, counted = start.date(), 0
    while counted < n:
        day += timedelta(days=1)
        counted += calendar.is_workday(day)
    return datetime.combine(day, start.timetz())


def naive_hours(start: datetime, amount: timedelta, calendar: WorkCalendar) -> datetime:
    day, moment = start.date(), start
    while True:
        if calendar.is_workday(day):
            opens = datetime.combine(day, calendar.start, tzinfo=start.tzinfo)
            closes = datetime.combine(day, calendar.end, tzinfo=start.tzinfo)
            begin = max(opens, moment)
            if begin < closes:
                if begin + amount <= closes:
                    return begin + amount
                amount -= closes - begin
        day += timedelta(days=1)
        moment = datetime.combine(day, time(0), tzinfo=start.tzinfo)


calendars = st.builds(
    WorkCalendar,
    workweek=st.frozensets(st.integers(1, 7), min_size=1),
    holidays=st.frozensets(st.dates(BASE, BASE + timedelta(days=120)), max_size=30),
    workdays=st.frozensets(st.dates(BASE, BASE + timedelta(days=120)), max_size=10),
    start=st.sampled_from([time(8, 0), time(9, 0), time(9, 30)]),
    end=st.sampled_from([time(12, 0), time(17, 30), time(18, 0)]),
)
starts = st.builds(
    lambda day, minute: datetime.combine(day, time(0), tzinfo=UTC8) + timedelta(minutes=minute),
    st.dates(BASE, BASE + timedelta(days=60)),
    st.integers(0, 24 * 60 - 1),
)


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=starts, n=st.integers(1, 40))
def test_business_days_agree_with_a_day_by_day_count(
    calendar: WorkCalendar, start: datetime, n: int
) -> None:
    assert business_due(start, f"P{n}D", calendar) == naive_days(start, n, calendar)


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=starts, minutes=st.integers(1, 60 * 40))
def test_business_hours_agree_with_a_day_by_day_count(
    calendar: WorkCalendar, start: datetime, minutes: int
) -> None:
    amount = timedelta(minutes=minutes)
    expected = naive_hours(start, amount, calendar)
    assert business_due(start, f"PT{minutes}M", calendar) == expected


@settings(max_examples=200, deadline=None)
@given(
    calendar=calendars,
    start=starts,
    later=st.integers(0, 60 * 24 * 10),
    n=st.integers(0, 30),
    m=st.integers(0, 30),
    unit=st.sampled_from(["D", "H"]),
)
def test_counting_is_monotonic_in_the_start_and_the_duration(
    calendar: WorkCalendar, start: datetime, later: int, n: int, m: int, unit: str
) -> None:
    def due(moment: datetime, k: int) -> datetime:
        if k == 0:
            return moment
        return business_due(moment, f"P{k}D" if unit == "D" else f"PT{k}H", calendar)

    small, big = sorted((n, m))
    assert due(start, small) <= due(start, big)
    assert due(start, n) <= due(start + timedelta(minutes=later), n)
