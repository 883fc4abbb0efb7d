"""Queries on the read models, always within one tenant: the one read API of the views.
The HTTP API and the command line read through `ReadModels` only, never the views' tables.

Lists are in a stable order (business time, then id) and paged by keyset: `after` is the
(time, id) of the last item of the previous page, so a page never repeats or skips an item
however many are added meanwhile. Time bounds are inclusive; a `date` bound compares the
business date (the event's own local date), a `datetime` bound the instant.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.domain.access import unit_subtree
from projections import work_reads
from projections.base import public_liability
from projections.runner import Projections
from projections.schema import Row, utc_key
from projections.unit_stats import COUNTERS, NO_UNIT
from projections.views import AllOf, AnyOf, Cond, Op, RowView, Term, eq

Bound = date | datetime


#: The two shapes a bound may have; Python's ISO parsers take many more (week dates such
#: as 2026-W10-1, ordinal dates, basic format), which a client would not mean.
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
                         r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?")


def bound_from_text(value: str) -> Bound:
    """A period bound as the queries take it: `YYYY-MM-DD` compares the business date, an
    RFC 3339 time (it must carry its offset) the instant. ValueError says what is wrong;
    the API and the CLI turn it into their own errors."""
    try:
        if not (_DATE_SHAPE.fullmatch(value) or _TIME_SHAPE.fullmatch(value)):
            raise ValueError(value)
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD) or an RFC 3339 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"a time needs an offset, e.g. +08:00: {value!r}")
    return moment


Cursor = tuple[str, str]

VIOLATION_FIELDS = (
    "violation_id", "case_id", "event_id", "event_ref", "employee_id", "supervisor_id",
    "flagged_supervisor_id", "unit_id", "severity", "policy_id", "policy_version", "reason",
    "at", "review_due", "status", "decision", "reviewed_by", "reviewed_at", "approved_by",
    "approved_at", "missed_due", "escalated_to", "escalated_at", "position",
)

DUTY_FIELDS = ("duty", "case_id", "at", "step", "violation_id", "unit_id", "event_ids",
               "event_refs", "position")


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Row]
    after: Cursor | None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a unit-scoped reader (a manager) may see: the units of their unit's subtree
    and the employees assigned to those units, both as the org chart stood at one time."""

    units: frozenset[str]
    employees: frozenset[str]


def _in_force(when: datetime) -> list[Term]:
    """Org-history rows valid at `when` (valid_from <= when < valid_to)."""
    key = utc_key(when)
    return [Cond("valid_from_utc", "<=", key),
            AnyOf((eq("valid_to_utc", None), Cond("valid_to_utc", ">", key)))]


def _bounds(start: Bound | None, end: Bound | None, instant: str = "at_utc") -> list[Term]:
    terms: list[Term] = []
    limits: tuple[tuple[Bound | None, Op], ...] = ((start, ">="), (end, "<="))
    for bound, op in limits:
        if isinstance(bound, datetime):
            terms.append(Cond(instant, op, utc_key(bound)))
        elif bound is not None:
            terms.append(Cond("day", op, bound.isoformat()))
    return terms


def _after(cursor: Cursor | None, id_column: str) -> list[Term]:
    if cursor is None:
        return []
    at, identity = cursor
    return [AnyOf((Cond("at_utc", ">", at),
                   AllOf((eq("at_utc", at), Cond(id_column, ">", identity)))))]


def _page(rows: list[Row], limit: int, id_column: str) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    after = (rows[-1]["at_utc"], rows[-1][id_column]) if more and rows else None
    return Page(rows, after)


class ReadModels:
    """What the API and the command line ask of the views (the views themselves stay
    behind this class)."""

    def __init__(self, projections: Projections) -> None:
        self._projections = projections

    def _view(self, name: str) -> RowView:
        return self._projections.view(name)

    def chain(self, tenant: str, case_id: str) -> dict[str, Any] | None:
        rows = self._view("case_chains").select(
            "case_chains", [eq("tenant", tenant), eq("case_id", case_id)])
        if not rows:
            return None
        document: dict[str, Any] = rows[0]["document"]
        return document

    def violations(
        self, tenant: str, *, employee_id: str | None = None, supervisor_id: str | None = None,
        unit_id: str | None = None, status: str | None = None, start: Bound | None = None,
        end: Bound | None = None, limit: int = 100, after: Cursor | None = None,
        employees: Collection[str] | None = None,
    ) -> Page:
        """`employees`: only violations by these (a manager's scope); None: all."""
        where: list[Term] = [eq("tenant", tenant), eq("flagged", True)]
        if employees is not None:
            where.append(Cond("employee_id", "in", sorted(employees)))
        for column, value in (("employee_id", employee_id), ("unit_id", unit_id),
                              ("status", status)):
            if value is not None:
                where.append(eq(column, value))
        if supervisor_id is not None:  # the current holder, or the one flagged first
            where.append(AnyOf((eq("supervisor_id", supervisor_id),
                                eq("flagged_supervisor_id", supervisor_id))))
        where += _bounds(start, end) + _after(after, "violation_id")
        rows = self._view("violations").select(
            "violations", where, order_by=("at_utc", "violation_id"), limit=limit + 1)
        page = _page(rows, limit, "violation_id")
        return Page([{k: r[k] for k in VIOLATION_FIELDS} for r in page.items], page.after)

    def liabilities(
        self, tenant: str, *, employee_id: str | None = None, kind: str | None = None,
        basis: str | None = None, unit_id: str | None = None, case_id: str | None = None,
        start: Bound | None = None, end: Bound | None = None, limit: int = 100,
        after: Cursor | None = None, employees: Collection[str] | None = None,
    ) -> Page:
        """`employees`: only liabilities of these (a manager's scope); None: all."""
        where: list[Term] = [eq("tenant", tenant)]
        if employees is not None:
            where.append(Cond("employee_id", "in", sorted(employees)))
        for column, value in (("employee_id", employee_id), ("kind", kind), ("basis", basis),
                              ("unit_id", unit_id), ("case_id", case_id)):
            if value is not None:
                where.append(eq(column, value))
        where += _bounds(start, end) + _after(after, "liability_id")
        rows = self._view("liabilities").select(
            "liabilities", where, order_by=("at_utc", "liability_id"), limit=limit + 1)
        page = _page(rows, limit, "liability_id")
        return Page([public_liability(r) for r in page.items], page.after)

    def unit_report(
        self, tenant: str, start: date | None, end: date | None,
        units: Collection[str] | None = None,
    ) -> list[Row]:
        """Per unit over the business days start..end: steps due (judged on time or
        overdue), on time, overdue, violations, liabilities, completion rate (on time /
        due; null with nothing due) and rank (by completion rate, then fewer violations,
        then fewer liabilities; equal figures share a rank; units with nothing due last).
        `units`: only these, ranked among themselves (a manager's scope); None: all."""
        where: list[Term] = [eq("tenant", tenant), Cond("unit_id", "<>", NO_UNIT)]
        if units is not None:
            where.append(Cond("unit_id", "in", sorted(units)))
        where += _bounds(start, end)
        sums = self._view("unit_stats").sums("unit_stats", where, ("unit_id",), COUNTERS)
        names = self._unit_names(tenant)
        rows: list[Row] = []
        for s in sums:
            due = s["steps_on_time"] + s["steps_overdue"]
            rows.append({
                "unit_id": s["unit_id"], "name": names.get(s["unit_id"]), "steps_due": due,
                "steps_on_time": s["steps_on_time"], "steps_overdue": s["steps_overdue"],
                "violations": s["violations"], "liabilities": s["liabilities"],
                "completion_rate": round(s["steps_on_time"] / due, 4) if due else None,
            })

        def standing(row: Row) -> tuple[int, float, int, int]:
            rate = row["completion_rate"]
            return (rate is None, -(rate or 0.0), row["violations"], row["liabilities"])

        rows.sort(key=lambda r: (standing(r), r["unit_id"]))
        for number, row in enumerate(rows, start=1):
            previous = rows[number - 2] if number > 1 else None
            same = previous is not None and standing(previous) == standing(row)
            row["rank"] = previous["rank"] if same and previous else number
        return rows

    def obligations(
        self, tenant: str, *, holder_id: str | None = None, unit_id: str | None = None,
        status: str | None = None, due_before: Bound | None = None, limit: int = 100,
        after: Cursor | None = None, employees: Collection[str] | None = None,
        units: Collection[str] | None = None,
    ) -> Page:
        """Obligations by due time: who owes what by when, and where it stands (8.7);
        `employees`/`units`: a manager's scope (None: all)."""
        items, cursor = work_reads.obligations(
            self._view("obligations"), tenant, holder_id=holder_id, unit_id=unit_id,
            status=status, due_before=due_before, limit=limit, after=after,
            employees=employees, units=units)
        return Page(items, cursor)

    def scores(
        self, tenant: str, start: Bound | None, end: Bound | None, *,
        unit_id: str | None = None, scheme_id: str | None = None,
        employees: Collection[str] | None = None, units: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Penalty and bonus points per employee and unit over the period (8.6)."""
        document = work_reads.scores(
            self._view("appraisal"), tenant, start=start, end=end, unit_id=unit_id,
            scheme_id=scheme_id, employees=employees, units=units)
        names = self._unit_names(tenant)
        for unit in document["units"]:
            unit["name"] = names.get(unit["unit_id"])
        return document

    def permission_holders(self, tenant: str, permission: str, at: datetime) -> list[Row]:
        """Who held `permission` at `at`, through which grant (8.4)."""
        return work_reads.permission_holders(self._view("access_history"), tenant,
                                             permission, at)

    def unit_names(self, tenant: str) -> dict[str, str]:
        """Each unit's latest name (documents show names, not ids)."""
        return self._unit_names(tenant)

    def _unit_names(self, tenant: str) -> dict[str, str]:
        """Each unit's latest name."""
        names: dict[str, str] = {}
        for row in self._view("org_history").select(
            "org_units", [eq("tenant", tenant)],
            order_by=("unit_id", "valid_from_utc", "source", "event_id"),
        ):
            if row["name"]:
                names[row["unit_id"]] = row["name"]
        return names

    def org_assignments(self, tenant: str, employee_id: str) -> list[Row]:
        """An employee's assignments and departures, in business-time order."""
        return self._view("org_history").select(
            "org_assignments", [eq("tenant", tenant), eq("employee_id", employee_id)],
            order_by=("valid_from_utc", "source", "event_id"))

    def duties(
        self, tenant: str, employee_id: str, start: Bound | None, end: Bound | None,
    ) -> list[Row]:
        """An employee's positive records (`duty.fulfilled`) over the period, in order."""
        rows = self._view("duties").select(
            "duties", [eq("tenant", tenant), eq("employee_id", employee_id),
                       *_bounds(start, end)],
            order_by=("at_utc", "duty_key"))
        return [{name: row.get(name) for name in DUTY_FIELDS} for row in rows]

    def unit_scope(self, tenant: str, unit_id: str, when: datetime) -> Scope:
        """`unit_id`'s subtree and the employees assigned to it, as the org stood at `when`."""
        org = self._view("org_history")
        parents = {row["unit_id"]: row["parent_id"]
                   for row in org.select("org_units", [eq("tenant", tenant), *_in_force(when)])}
        units = unit_subtree(unit_id, parents)
        assigned = org.select("org_assignments", [
            eq("tenant", tenant), eq("event", "assigned"), Cond("unit_id", "in", sorted(units)),
            *_in_force(when)])
        return Scope(units, frozenset(row["employee_id"] for row in assigned))

    def knows_unit(self, tenant: str, unit_id: str) -> bool:
        """Whether the tenant's org history names the unit (defined, or assigned to)."""
        where = [eq("tenant", tenant), eq("unit_id", unit_id)]
        org = self._view("org_history")
        return any(org.select(table, where, limit=1)
                   for table in ("org_units", "org_assignments"))

    def employee_ids(self, tenant: str) -> set[str]:
        """Everyone the tenant has a record of: in the org history (departed included:
        their evidence stays), or with a liability or a positive record."""
        found: set[str] = set()
        for view, table in _EMPLOYEE_TABLES:
            groups = self._view(view).sums(table, [eq("tenant", tenant)], ("employee_id",), ())
            found |= {g["employee_id"] for g in groups if g["employee_id"]}
        return found

    def employees(self, tenant: str) -> list[Row]:
        """The tenant's directory: each employee as the org history stands now."""
        return directory(self._view("org_history").select(
            "org_assignments", [eq("tenant", tenant)]))

    def knows_employee(self, tenant: str, employee_id: str) -> bool:
        """Whether the tenant has any record of the employee: org history, a liability or a
        positive record (an unknown one is a 404, not an empty document)."""
        where = [eq("tenant", tenant), eq("employee_id", employee_id)]
        return any(self._view(view).select(table, where, limit=1)
                   for view, table in _EMPLOYEE_TABLES)


#: (view, table) of every table that names employees.
_EMPLOYEE_TABLES = (("org_history", "org_assignments"), ("liabilities", "liabilities"),
                    ("duties", "duties"))


def directory(assignments: list[Row]) -> list[Row]:
    """Each employee as the org history stands now: the row still in force (no `valid_to`)
    gives unit, supervisor and title; the name is the latest one recorded, since a departure
    or a transfer need not repeat it. Ordered by employee id."""
    ordered = sorted(assignments, key=lambda r: (r["valid_from_utc"], r["source"], r["event_id"]))
    people: dict[str, Row] = {}
    for row in ordered:
        departed = row["event"] == "departed"
        previous = people.get(row["employee_id"])
        people[row["employee_id"]] = {
            "employee_id": row["employee_id"],
            "name": row["name"] or (previous["name"] if previous else None),
            "unit_id": None if departed else row["unit_id"],
            "supervisor_id": None if departed else row["supervisor_id"],
            "title": None if departed else row["title"],
            "departed": departed,
            "since": row["valid_from"],
        }
    return [people[key] for key in sorted(people)]
