"""Duties: the positive records (`duty.fulfilled`): steps done on time, reviews done.

Keyed by the conclusion's key in the derived id, so a duty re-derived with new details
replaces its row instead of counting twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.events import EntryRecorded
from projections.base import LedgerProjection, derived_key, is_derived
from projections.schema import Column, Table, ViewSchema, ints, local_day, text, utc_key
from projections.views import Changes

DUTIES = Table(
    "duties",
    columns=(
        *text("tenant", "duty_key", "duty", "employee_id", "case_id", "step", "violation_id",
              "unit_id", "at", "at_utc", "day"),
        Column("event_ids", "json"), Column("event_refs", "json"),
        *text("entry_id"), *ints("position"),
    ),
    key=("tenant", "duty_key"),
    indexes=(("tenant", "employee_id", "at_utc"), ("tenant", "at_utc", "duty_key")),
)
SCHEMA = ViewSchema("duties", (DUTIES,))


class DutiesProjection(LedgerProjection):
    name = "duties"
    schema = SCHEMA

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        for entry in entries:
            if not is_derived(entry, "duty.fulfilled"):
                continue
            data = entry.envelope["data"]
            at = data.get("at") or entry.envelope["time"]
            changes.upsert("duties", {
                "tenant": entry.tenant, "duty_key": derived_key(entry.event_id),
                "duty": data["duty"], "employee_id": data["employee_id"],
                "case_id": data["case_id"], "step": data.get("step"),
                "violation_id": data.get("violation_id"), "unit_id": data.get("unit_id"),
                "at": at, "at_utc": utc_key(at), "day": local_day(at),
                "event_ids": list(data.get("event_ids", [])),
                "event_refs": list(data.get("event_refs", [])),
                "entry_id": entry.event_id, "position": entry.position,
            })
