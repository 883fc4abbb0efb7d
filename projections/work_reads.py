"""The queries of a manager's and HR's work (docs/domain-rules.md, Obligations and
reminders; Scores for appraisal; Power and responsibility): the obligation queue, scores
and permission holders. `ReadModels` (projections/reads.py) is their one entry point.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.powers import Powers
from ledger.domain.responsibility.scores import (
    LIABILITY,
    Item,
    Record,
    Scheme,
    Tally,
    number,
    score_all,
)
from projections.schema import Row, parse_time, utc_key
from projections.views import AllOf, AnyOf, Cond, Op, RowView, Term, eq

Bound = date | datetime
Cursor = tuple[str, str]

OBLIGATION_FIELDS = ("obligation_id", "obligation", "case_id", "holder_id", "unit_id", "step",
                     "violation_id", "party", "level", "opened_at", "due", "status",
                     "due_soon", "due_soon_at", "done_at", "done_event_id", "missed_at",
                     "escalated_to", "escalated_at", "position")


def obligations(
    view: RowView, tenant: str, *, holder_id: str | None, unit_id: str | None,
    status: str | None, due_before: Bound | None, limit: int, after: Cursor | None,
    employees: Collection[str] | None, units: Collection[str] | None,
) -> tuple[list[Row], Cursor | None]:
    """Obligations by due time (then id); `due_before` is exclusive. `employees`/`units`:
    only obligations held by these employees or owed in these units (a manager's scope)."""
    where: list[Term] = [eq("tenant", tenant)]
    for column, value in (("holder_id", holder_id), ("unit_id", unit_id), ("status", status)):
        if value is not None:
            where.append(eq(column, value))
    if isinstance(due_before, datetime):
        where.append(Cond("due_utc", "<", utc_key(due_before)))
    elif due_before is not None:
        where.append(Cond("due_day", "<", due_before.isoformat()))
    if employees is not None:
        where.append(AnyOf((Cond("holder_id", "in", sorted(employees)),
                            Cond("unit_id", "in", sorted(units or ())))))
    if after is not None:
        where.append(AnyOf((Cond("due_utc", ">", after[0]), AllOf((
            eq("due_utc", after[0]), Cond("obligation_id", ">", after[1]))))))
    rows = view.select("obligations", where, order_by=("due_utc", "obligation_id"),
                       limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (rows[-1]["due_utc"], rows[-1]["obligation_id"]) if more and rows else None
    items = [{name: row.get(name) for name in OBLIGATION_FIELDS} | {
        "due_soon": row["due_soon_at"] is not None and row["status"] == "open"} for row in rows]
    return items, cursor


def _bounds(start: Bound | None, end: Bound | None) -> list[Term]:
    terms: list[Term] = []
    limits: tuple[tuple[Bound | None, Op], ...] = ((start, ">="), (end, "<="))
    for bound, op in limits:
        if isinstance(bound, datetime):
            terms.append(Cond("at_utc", op, utc_key(bound)))
        elif bound is not None:
            terms.append(Cond("day", op, bound.isoformat()))
    return terms


def _record(row: Row) -> Record:
    return Record(row["record"], row["record_id"], row["employee_id"], row["unit_id"],
                  row["case_id"], parse_time(row["at"]), basis=row["basis"], kind=row["kind"],
                  severity=row["severity"], corrected_reason=row["corrected_reason"],
                  event_ids=tuple(row["event_ids"] or ()))


def _item(item: Item) -> dict[str, Any]:
    r, scheme = item.record, item.scheme
    out: dict[str, Any] = {
        "record": r.record, "record_id": r.record_id,
        "liability_id": r.record_id if r.record == LIABILITY else None,
        "basis": r.basis, "kind": r.kind, "severity": r.severity, "case_id": r.case_id,
        "unit_id": r.unit_id, "at": r.at.isoformat(), "points": number(item.points),
        "status": item.status, "scheme_id": scheme.scheme_id if scheme else None,
        "scheme_version": scheme.version if scheme else None, "event_ids": list(r.event_ids),
    }
    return out


def _sums(tally: Tally) -> dict[str, Any]:
    return {"penalty": number(tally.penalty), "bonus": number(tally.bonus),
            "total": number(tally.total)}


def schemes(view: RowView, tenant: str) -> list[Scheme]:
    rows = view.select("scoring_schemes", [eq("tenant", tenant)],
                       order_by=("time_utc", "source", "event_id"))
    return [Scheme.from_data(row["data"], parse_time(row["time"]), row["event_id"])
            for row in rows]


def scores(
    view: RowView, tenant: str, *, start: Bound | None, end: Bound | None,
    unit_id: str | None, scheme_id: str | None, employees: Collection[str] | None,
    units: Collection[str] | None,
) -> dict[str, Any]:
    """Per employee and per unit (the unit at each record's time) over the period: every
    record scored on the scheme in force at its own time (`scheme_id`: that scheme only)."""
    where: list[Term] = [eq("tenant", tenant), *_bounds(start, end)]
    if unit_id is not None:
        where.append(eq("unit_id", unit_id))
    if employees is not None:
        where.append(AnyOf((Cond("employee_id", "in", sorted(employees)),
                            Cond("unit_id", "in", sorted(units or ())))))
    rows = view.select("score_records", where, order_by=("at_utc", "record_id"))
    versions = schemes(view, tenant)
    result = score_all([_record(r) for r in rows], versions, scheme_id)
    people = []
    for employee_id in sorted(result.employees):
        tally = result.employees[employee_id]
        people.append({"employee_id": employee_id, "unit_id": tally.items[-1].record.unit_id,
                       **_sums(tally), "items": [_item(i) for i in tally.items]})
    return {
        "tenant": tenant, "from": _text(start), "to": _text(end), "unit_id": unit_id,
        "scheme_id": scheme_id,
        "schemes": [{"scheme_id": s.scheme_id, "version": s.version,
                     "since": s.since.isoformat(), "event_id": s.event_id} for s in versions],
        "employees": people,
        "units": [{"unit_id": unit, "members": len({i.record.employee_id for i in t.items}),
                   **_sums(t)} for unit, t in sorted(result.units.items())],
    }


def _text(bound: Bound | None) -> str | None:
    return None if bound is None else bound.isoformat()


def permission_holders(view: RowView, tenant: str, permission: str,
                       at: datetime) -> list[dict[str, Any]]:
    """Who held `permission` at `at`, each through the grant and the role definition in
    force then (by business time, whatever order they arrived in)."""
    rows = view.select("role_facts", [eq("tenant", tenant), Cond("time_utc", "<=", utc_key(at))],
                       order_by=("time_utc", "source", "event_id"))
    powers = Powers()
    for row in rows:
        powers.add(Fact(row["source"], row["event_id"], row["type"], parse_time(row["time"]),
                        row["subject"], row["data"], row["traceparent"]))
    holders = []
    for holding in powers.holders(permission, at):
        defined = powers.definition_fact(holding.role, at)
        holders.append({
            "employee_id": holding.employee_id, "role": holding.role,
            "granted_at": holding.grant.time.isoformat(),
            "grant_event_id": holding.grant.event_id, "grant_event_ref": holding.grant.ref,
            "role_defined_event_id": defined.event_id if defined else None,
            "event_ids": [holding.grant.event_id, *([defined.event_id] if defined else [])],
        })
    return holders
