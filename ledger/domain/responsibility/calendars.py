"""Which business calendar a unit counts on at a given time, and due times counted on it
(docs/domain-rules.md, Business calendars).

Calendar versions apply from their own time; an assignment applies from its time to the
unit and its subtree (a nearer assignment wins), and one without a unit is the tenant's
default. Everything is effective-dated, so a late definition or assignment changes the
answer only for counts that start at or after it, and the engine corrects what follows.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.domain.catalog import CALENDAR_ASSIGNED, CALENDAR_DEFINED
from ledger.domain.responsibility.business_time import (
    BUSINESS,
    WorkCalendar,
    business_due,
    calendar_from,
)
from ledger.domain.responsibility.durations import parse_duration

if TYPE_CHECKING:
    from ledger.domain.responsibility.facts import Fact
    from ledger.domain.responsibility.org import OrgChart

CALENDAR_TYPES = frozenset({CALENDAR_DEFINED, CALENDAR_ASSIGNED})
#: Mon-Fri 09:00-18:00 in the start's own offset: business counting without a calendar.
FALLBACK = WorkCalendar()
_LAST = ("\U0010ffff", "\U0010ffff")

Order = tuple[datetime, str, str]


class CalendarBook:
    """Calendar versions and assignments, each effective from its own business time."""

    def __init__(self) -> None:
        # calendar_id -> [((time, version, source, id), calendar)], in effective order
        self._versions: dict[str, list[tuple[tuple[datetime, int, str, str], WorkCalendar]]] = {}
        # unit_id (None: the tenant default) -> [(order, calendar_id)]
        self._assigned: dict[str | None, list[tuple[Order, str]]] = {}

    def add(self, fact: Fact) -> None:
        data = fact.data
        if fact.type == CALENDAR_DEFINED:
            key = (fact.time, int(data["version"]), fact.source, fact.event_id)
            versions = self._versions.setdefault(str(data["calendar_id"]), [])
            if all(k != key for k, _ in versions):
                insort(versions, (key, _calendar(data)), key=lambda kv: kv[0])
        elif fact.type == CALENDAR_ASSIGNED:
            unit = data.get("unit_id")
            timeline = self._assigned.setdefault(str(unit) if unit else None, [])
            if all(order != fact.order for order, _ in timeline):
                insort(timeline, (fact.order, str(data["calendar_id"])), key=lambda oc: oc[0])

    def calendar(self, calendar_id: str, when: datetime) -> WorkCalendar | None:
        """The version of `calendar_id` in force at `when`."""
        versions = self._versions.get(calendar_id, [])
        at = bisect_right([k[0] for k, _ in versions], when)
        return versions[at - 1][1] if at else None

    def calendar_for(
        self, unit_id: str | None, when: datetime, org: OrgChart
    ) -> WorkCalendar | None:
        """The calendar `unit_id` counts on at `when`: its own, else its nearest parent's,
        else the tenant's default; None when there is none."""
        seen: set[str] = set()
        while unit_id and unit_id not in seen:
            seen.add(unit_id)
            found = self._assigned_calendar(unit_id, when)
            if found is not None:
                return found
            unit = org.unit(unit_id, when)
            parent = unit.get("parent_id") if unit else None
            unit_id = str(parent) if parent else None
        return self._assigned_calendar(None, when)

    def _assigned_calendar(self, unit_id: str | None, when: datetime) -> WorkCalendar | None:
        timeline = self._assigned.get(unit_id, [])
        at = bisect_right([order for order, _ in timeline], (when, *_LAST))
        return self.calendar(timeline[at - 1][1], when) if at else None

    def deadline(
        self,
        start: datetime,
        duration: str,
        counting: str | None,
        unit_id: str | None,
        org: OrgChart,
    ) -> datetime:
        """`start` + `duration`: in calendar time, or in business time on the calendar of
        `unit_id` in force at `start` (the fallback week when it has none)."""
        if counting != BUSINESS:
            result = start + parse_duration(duration)
            assert isinstance(result, datetime)
            return result
        calendar = self.calendar_for(unit_id, start, org) or FALLBACK
        return business_due(start, duration, calendar)


def _calendar(data: Mapping[str, Any]) -> WorkCalendar:
    return calendar_from(
        data["workweek"],
        data.get("holidays", ()),
        data.get("workdays", ()),
        data.get("hours"),
        data.get("timezone"),
    )
