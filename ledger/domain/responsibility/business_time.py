"""Business-time arithmetic: a due time counted in working days or working hours.

Pure functions over a `WorkCalendar` (docs/domain-rules.md, Business calendars). Days and
hours are judged on the calendar's wall clock (its time zone, or the start's own offset
when it has none); the answer is given back in the start's offset, so a due time reads
like the event it was counted from.

- Business days (`PnD`, `PnW` = n full workweeks): the n-th working day after the start's
  date, at the start's time of day. A count started on a day off starts at the beginning
  of the next working day, so a later start never gives an earlier due time.
- Business hours (`PTnH`, minutes, seconds): only the working hours of working days run.
  A count that ends exactly at a day's closing time is due at that closing time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import isodate

from ledger.domain.responsibility.durations import parse_duration
from ledger.errors import LedgerError

BUSINESS = "business"
DEFAULT_START = time(9, 0)
DEFAULT_END = time(18, 0)
MONDAY_TO_FRIDAY = frozenset({1, 2, 3, 4, 5})


class NotCountable(LedgerError, ValueError):
    """A duration business counting cannot take (years or months: they are not a number
    of working days)."""

    code = "not-countable"


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which days are worked and when. A date in both `holidays` and `workdays` is a
    holiday: a day off announced for a date is never silently worked."""

    workweek: frozenset[int] = MONDAY_TO_FRIDAY
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    timezone: tzinfo | None = None
    _extra: tuple[date, ...] = field(init=False, repr=False, compare=False)
    _off: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.workweek:
            raise ValueError("a workweek has at least one working day")
        if not self.start < self.end:
            raise ValueError("working hours end after they start")
        # Dates that differ from the workweek's rule, sorted for counting by bisection.
        extra = sorted(
            d for d in self.workdays - self.holidays if d.isoweekday() not in self.workweek
        )
        off = sorted(d for d in self.holidays if d.isoweekday() in self.workweek)
        object.__setattr__(self, "_extra", tuple(extra))
        object.__setattr__(self, "_off", tuple(off))

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day.isoweekday() in self.workweek or day in self.workdays

    def workdays_between(self, first: date, last: date) -> int:
        """Working days in first..last, both included (0 when last < first)."""
        if last < first:
            return 0
        span = (last - first).days + 1
        weeks, rest = divmod(span, 7)
        count = weeks * len(self.workweek)
        count += sum(
            1 for i in range(rest) if (first + timedelta(days=i)).isoweekday() in self.workweek
        )
        count += _in_range(self._extra, first, last)
        count -= _in_range(self._off, first, last)
        return count

    def nth_workday_after(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n >= 1), found by bisection on the count."""
        if n < 1:
            raise ValueError("n counts from 1")
        low = day + timedelta(days=1)
        high = day + timedelta(days=7 * (n + len(self._off) + 1))
        while low < high:
            middle = low + (high - low) // 2
            if self.workdays_between(day + timedelta(days=1), middle) >= n:
                high = middle
            else:
                low = middle + timedelta(days=1)
        return low

    @property
    def day_length(self) -> timedelta:
        return _on(date(2000, 1, 3), self.end) - _on(date(2000, 1, 3), self.start)


def _in_range(days: tuple[date, ...], first: date, last: date) -> int:
    return bisect_right(days, last) - bisect_left(days, first)


def _on(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment)


def _local(day: date, moment: time, zone: tzinfo) -> datetime:
    """Wall-clock `moment` on `day` in `zone` (a wall time skipped by a clock change is
    read as the same wall time before it, zoneinfo's fold 0)."""
    return datetime.combine(day, moment, tzinfo=zone)


def business_due(start: datetime, iso_duration: str, calendar: WorkCalendar) -> datetime:
    """`start` plus `iso_duration` counted in business time on `calendar`."""
    zone = calendar.timezone or start.tzinfo
    assert zone is not None, "event times carry an offset"
    local = start.astimezone(zone)
    weeks_days, rest = _weeks_and_days(iso_duration, calendar)
    if weeks_days:
        if not calendar.is_workday(local.date()):
            opening = calendar.nth_workday_after(local.date(), 1)
            local = _local(opening, time(0), zone)
        day = calendar.nth_workday_after(local.date(), weeks_days)
        local = _local(day, local.time().replace(tzinfo=None), zone)
    if rest:
        local = add_working_time(local, rest, calendar, zone)
    return local.astimezone(start.tzinfo)


def _weeks_and_days(iso_duration: str, calendar: WorkCalendar) -> tuple[int, timedelta]:
    """(working days, working time) of a duration. Its date part and time part are read
    apart: PT24H is twenty-four working hours, not a working day."""
    date_part, _, time_part = iso_duration.upper().partition("T")
    days = 0
    if date_part != "P":
        parsed = parse_duration(date_part)
        if isinstance(parsed, isodate.Duration):
            if parsed.years or parsed.months:
                raise NotCountable(f"{iso_duration}: years and months are not working days")
            parsed = parsed.tdelta
        days = parsed.days
        if "W" in date_part:  # isodate reads a week as 7 days; here it is one workweek
            days = days // 7 * len(calendar.workweek)
    hours = parse_duration("PT" + time_part) if time_part else timedelta(0)
    assert isinstance(hours, timedelta)
    return days, hours


def add_working_time(
    local: datetime, amount: timedelta, calendar: WorkCalendar, zone: tzinfo
) -> datetime:
    """`local` (a wall time in `zone`) plus `amount` of working hours."""
    day, at = local.date(), local.time().replace(tzinfo=None)
    if not calendar.is_workday(day) or at >= calendar.end:
        day, at = calendar.nth_workday_after(day, 1), calendar.start
    at = max(at, calendar.start)
    available = _on(day, calendar.end) - _on(day, at)
    if amount <= available:
        return _local(day, at, zone) + amount  # aware + timedelta: wall-clock arithmetic
    remaining = amount - available
    length = calendar.day_length
    whole, part = divmod(remaining, length)
    if not part:  # ends at the closing time of the whole-th working day after this one
        return _local(calendar.nth_workday_after(day, whole), calendar.end, zone)
    target = calendar.nth_workday_after(day, whole + 1)
    return _local(target, (_on(target, calendar.start) + part).time(), zone)


def calendar_from(
    workweek: Iterable[int],
    holidays: Iterable[str],
    workdays: Iterable[str],
    hours: dict[str, str] | None,
    timezone: str | None,
) -> WorkCalendar:
    """A WorkCalendar from the fields of `ledger.calendar.defined`."""
    start, end = DEFAULT_START, DEFAULT_END
    if hours:
        start, end = time.fromisoformat(hours["start"]), time.fromisoformat(hours["end"])
    return WorkCalendar(
        workweek=frozenset(int(d) for d in workweek),
        holidays=frozenset(date.fromisoformat(d) for d in holidays),
        workdays=frozenset(date.fromisoformat(d) for d in workdays),
        start=start,
        end=end,
        timezone=ZoneInfo(timezone) if timezone else None,
    )
