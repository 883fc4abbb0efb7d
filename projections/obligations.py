"""Obligations (docs/domain-rules.md, Obligations and reminders): one row per obligation,
who owes it, when it is due and where it stands (`open`, `missed`, `done`): a manager's
queue.

Built from the engine's own entries: `obligation.opened` (and `.due_soon`, `.done`),
`deadline.missed`, `obligation.escalated`, and the `escalation_ignored` liability that
marks an escalated step missed. Every one of them names the obligation by the same key
(`obligation_id`, or the parts it is made of), so the row is the same whichever entry
comes first; of `done` and `missed`, the later entry's word stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger.domain.events import EntryRecorded
from ledger.domain.responsibility.verdicts import obligation_key
from projections.base import LedgerProjection, is_derived
from projections.schema import Row, Table, ViewSchema, ints, local_day, text, utc_key
from projections.views import Changes

OBLIGATIONS = Table(
    "obligations",
    columns=(
        *text("tenant", "obligation_id", "obligation", "case_id", "holder_id", "unit_id",
              "step", "violation_id", "party", "opened_at", "due", "due_utc", "due_day", "status",
              "due_soon_at", "done_at", "done_event_id", "missed_at", "escalated_to",
              "escalated_at", "entry_id"),
        *ints("level", "position"),
    ),
    key=("tenant", "obligation_id"),
    indexes=(("tenant", "due_utc", "obligation_id"), ("tenant", "holder_id", "due_utc"),
             ("tenant", "unit_id", "due_utc")),
)
SCHEMA = ViewSchema("obligations", (OBLIGATIONS,))

OPENED, DUE_SOON, DONE = "obligation.opened", "obligation.due_soon", "obligation.done"
MISSED, ESCALATED = "deadline.missed", "obligation.escalated"
LIABILITY = "liability.assigned"
TYPES = (OPENED, DUE_SOON, DONE, MISSED, ESCALATED, LIABILITY)


def _identity(type_: str, data: Mapping[str, Any]) -> str | None:
    """The obligation an entry speaks of (None: it speaks of none)."""
    if type_ in (OPENED, DUE_SOON, DONE):
        return str(data["obligation_id"])
    if type_ == MISSED:
        if not data.get("owner_id"):
            return None
        return obligation_key(data["obligation"], data["case_id"], data.get("step"),
                              data.get("violation_id"), data["owner_id"], data.get("party"))
    if type_ == ESCALATED:
        kind = data.get("obligation", "review")
        return obligation_key(kind, str(data.get("case_id", "")), data.get("step"),
                              data.get("violation_id"), data["from_id"])
    if type_ == LIABILITY and data.get("basis") == "escalation_ignored" and data.get("step"):
        return obligation_key("step", data["case_id"], data["step"], None, data["employee_id"])
    return None


def _blank(tenant: str, obligation_id: str) -> Row:
    row: Row = {name: None for name in (c.name for c in OBLIGATIONS.columns)}
    return {**row, "tenant": tenant, "obligation_id": obligation_id, "status": "open",
            "level": 1}


def _apply(row: Row, entry: EntryRecorded) -> Row:
    envelope, data = entry.envelope, entry.envelope["data"]
    type_, at = envelope["type"], envelope["time"]
    row = {**row, "position": entry.position}
    if type_ in (OPENED, DUE_SOON, DONE):
        row.update(obligation=data["obligation"], case_id=data["case_id"],
                   holder_id=data["holder_id"], unit_id=data.get("unit_id"),
                   step=data.get("step"), violation_id=data.get("violation_id"),
                   party=data.get("party"), opened_at=data["opened_at"], due=data["due"],
                   due_utc=utc_key(data["due"]), due_day=local_day(data["due"]),
                   level=data.get("level", 1))
    if type_ == OPENED:
        row["entry_id"] = entry.event_id
    elif type_ == DUE_SOON:
        row["due_soon_at"] = at
    elif type_ == DONE:
        row.update(status="done", done_at=at, done_event_id=data.get("event_id"))
    elif type_ == MISSED:
        row.update(status="missed", missed_at=data["due"])
        for name, value in (("obligation", data["obligation"]), ("case_id", data["case_id"]),
                            ("holder_id", data["owner_id"]), ("unit_id", data.get("unit_id")),
                            ("step", data.get("step")), ("party", data.get("party")),
                            ("violation_id", data.get("violation_id")), ("due", data["due"])):
            row[name] = row[name] if row[name] is not None else value
        row["due_utc"], row["due_day"] = utc_key(row["due"]), local_day(row["due"])
    elif type_ == ESCALATED:
        row.update(escalated_to=data["to_id"], escalated_at=at)
    elif type_ == LIABILITY:
        row.update(status="missed", missed_at=data.get("at") or at)
    return row


class ObligationsProjection(LedgerProjection):
    name = "obligations"
    schema = SCHEMA

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        touched: list[tuple[str, str, EntryRecorded]] = []
        for entry in entries:
            if not is_derived(entry) or entry.envelope.get("type") not in TYPES:
                continue
            identity = _identity(entry.envelope["type"], entry.envelope["data"])
            if identity is not None:
                touched.append((entry.tenant, identity, entry))
        wanted: dict[str, set[str]] = {}
        for tenant, identity, _ in touched:
            wanted.setdefault(tenant, set()).add(identity)
        rows: dict[tuple[str, str], Row] = {}
        for row in self.view.load("obligations", "obligation_id", wanted):
            rows[(row["tenant"], row["obligation_id"])] = row
        for tenant, identity, entry in touched:
            current = rows.get((tenant, identity)) or _blank(tenant, identity)
            rows[(tenant, identity)] = _apply(current, entry)
        for row in rows.values():
            if row["case_id"] is not None:  # an escalation alone names no due time yet
                changes.upsert("obligations", row)
