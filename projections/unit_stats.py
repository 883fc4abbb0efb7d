"""Unit statistics: per tenant, unit and business day, steps on time and overdue,
violations and liabilities; completion rates and rankings are computed at query time over
any `from`..`to` (projections.reads).

Counting must survive re-derivations and corrections, so every counted thing is an item
(`unit_items`: a step of a case, a liability, a violation) with its current unit, day and
outcome, and the daily counters (`unit_stats`) move by the difference when an item
changes: a liability re-derived with a new unit moves, a corrected one stops counting, a
step first judged overdue and later found on time (a late-arriving completion) counts as
on time. A step counts once however many leads it had.

Sources: `duty.fulfilled` (`step_on_time`) and `deadline.missed` (obligation `step`) for
steps; `liability.assigned` / `liability.corrected` for liabilities; a violation is
counted through its `violated_policy` liability, which carries the violator's unit at the
time (and is corrected with it). `duty.fulfilled` carries no unit, so the projection keeps
each tenant's org chart in memory (replayed on start) and takes the unit of the employee
at the duty's time.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ledger.domain.events import EntryRecorded
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.org import ORG_TYPES, OrgChart
from projections.base import LedgerProjection, ProjectionContext
from projections.schema import Column, Row, Table, ViewSchema, ints, local_day, parse_time, text
from projections.views import Changes, RowView

COUNTERS = ("steps_on_time", "steps_overdue", "violations", "liabilities")
ITEMS = Table(
    "unit_items",
    columns=(*text("tenant", "item_key", "kind", "unit_id", "day", "outcome"),
             Column("active", "bool")),
    key=("tenant", "item_key"),
)
STATS = Table(
    "unit_stats",
    columns=(*text("tenant", "unit_id", "day"), *ints(*COUNTERS)),
    key=("tenant", "unit_id", "day"),
    indexes=(("tenant", "day"),),
    counters=COUNTERS,
)
SCHEMA = ViewSchema("unit_stats", (ITEMS, STATS))
NO_UNIT = ""


def _step_key(case_id: str, step: str) -> str:
    return "step:" + orjson.dumps([case_id, step]).decode()


def _counter(item: Row) -> str | None:
    if not item["active"]:
        return None
    if item["kind"] == "step":
        return "steps_on_time" if item["outcome"] == "on_time" else "steps_overdue"
    return "violations" if item["kind"] == "violation" else "liabilities"


class UnitStatsProjection(LedgerProjection):
    name = "unit_stats"
    schema = SCHEMA
    stateful = True

    def __init__(self, view: RowView, context: ProjectionContext | None = None) -> None:
        super().__init__(view, context)
        self._orgs: dict[str, OrgChart] = {}

    def reset(self) -> None:
        super().reset()
        self._orgs = {}

    def warm(self, entries: Sequence[EntryRecorded]) -> None:
        for entry in entries:
            if entry.kind != "derived" and entry.envelope["type"] in ORG_TYPES:
                self._org(entry.tenant).add(Fact.from_envelope(entry.envelope))

    def _org(self, tenant: str) -> OrgChart:
        if tenant not in self._orgs:
            self._orgs[tenant] = OrgChart()
        return self._orgs[tenant]

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        wanted: dict[str, set[str]] = {}
        for entry in entries:
            wanted.setdefault(entry.tenant, set()).update(self._keys(entry))
        items: dict[tuple[str, str], Row] = {}
        for row in self.view.load("unit_items", "item_key", wanted):
            items[(row["tenant"], row["item_key"])] = row
        for entry in entries:
            self._take(entry, items, changes)

    @staticmethod
    def _keys(entry: EntryRecorded) -> list[str]:
        if entry.kind != "derived":
            return []
        data = entry.envelope["data"]
        match entry.envelope["type"]:
            case "duty.fulfilled" | "deadline.missed" if data.get("step"):
                return [_step_key(data["case_id"], data["step"])]
            case "liability.assigned" | "liability.corrected":
                return [f"liability:{data['liability_id']}", f"violation:{data['liability_id']}"]
        return []

    def _take(self, entry: EntryRecorded, items: dict[tuple[str, str], Row],
              changes: Changes) -> None:
        tenant, envelope = entry.tenant, entry.envelope
        if entry.kind != "derived":
            if envelope["type"] in ORG_TYPES:
                self._org(tenant).add(Fact.from_envelope(envelope))
            return
        data = envelope["data"]
        type_ = envelope["type"]
        if type_ == "duty.fulfilled" and data.get("duty") == "step_on_time" and data.get("step"):
            key = _step_key(data["case_id"], data["step"])
            current = items.get((tenant, key))
            if current is not None and current["active"] and current["outcome"] == "on_time":
                return  # another lead of the same step: the step counts once
            at = data.get("at") or envelope["time"]
            unit = data.get("unit_id") or self._org(tenant).unit_of(
                data["employee_id"], parse_time(at))
            self._set(tenant, key, "step", unit, local_day(at), "on_time", items, changes)
        elif type_ == "deadline.missed" and data.get("obligation") == "step" and data.get("step"):
            key = _step_key(data["case_id"], data["step"])
            current = items.get((tenant, key))
            if current is not None and current["active"] and current["outcome"] == "on_time":
                return  # judged on time (a completion arrived late): on time it stays
            unit = data.get("unit_id") or self._org(tenant).unit_of(
                data.get("owner_id"), parse_time(data["due"]))
            self._set(tenant, key, "step", unit, local_day(data["due"]), "overdue", items,
                      changes)
        elif type_ == "liability.assigned":
            at = data.get("at") or envelope["time"]
            liability_id = data["liability_id"]
            unit, day = data.get("unit_id"), local_day(at)
            self._set(tenant, f"liability:{liability_id}", "liability", unit, day, "", items,
                      changes)
            if data.get("basis") == "violated_policy":
                self._set(tenant, f"violation:{liability_id}", "violation", unit, day, "",
                          items, changes)
        elif type_ == "liability.corrected":
            for key in (f"liability:{data['liability_id']}", f"violation:{data['liability_id']}"):
                current = items.get((tenant, key))
                if current is not None:
                    self._set(tenant, key, current["kind"], current["unit_id"], current["day"],
                              current["outcome"], items, changes, active=False)

    @staticmethod
    def _set(
        tenant: str, key: str, kind: str, unit: str | None, day: str | None, outcome: str,
        items: dict[tuple[str, str], Row], changes: Changes, *, active: bool = True,
    ) -> None:
        new: Row = {"tenant": tenant, "item_key": key, "kind": kind,
                    "unit_id": unit or NO_UNIT, "day": day or "", "outcome": outcome,
                    "active": active}
        old = items.get((tenant, key))
        if old == new:
            return
        for item, delta in ((old, -1), (new, 1)):
            counter = _counter(item) if item is not None else None
            if item is not None and counter is not None:
                changes.increment("unit_stats", {"tenant": tenant, "unit_id": item["unit_id"],
                                                 "day": item["day"]}, {counter: delta})
        items[(tenant, key)] = new
        changes.upsert("unit_items", new)
