"""Liabilities: one row per `liability.assigned`, marked when `liability.corrected` arrives.

A corrected liability stays in the view with its correction (reason, replacement), as the
contract wants the old record visible. The same liability re-derived with new details
(same id, new content) replaces its row: the ledger's latest word on it wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.events import EntryRecorded
from projections.base import LedgerProjection, correct_liability, is_derived, liability_row
from projections.schema import Column, Row, Table, ViewSchema, ints, text
from projections.views import Changes

LIABILITIES = Table(
    "liabilities",
    columns=(
        *text("tenant", "liability_id", "employee_id", "kind", "basis", "case_id", "unit_id",
              "role", "violation_id", "step", "at", "at_utc", "day"),
        Column("event_ids", "json"), Column("event_refs", "json"),
        *text("entry_id"), *ints("position"),
        Column("corrected", "bool"),
        *text("corrected_reason", "replaced_by", "corrected_at"), *ints("corrected_position"),
    ),
    key=("tenant", "liability_id"),
    indexes=(("tenant", "at_utc", "liability_id"), ("tenant", "employee_id", "at_utc"),
             ("tenant", "unit_id", "at_utc"), ("tenant", "case_id")),
)
SCHEMA = ViewSchema("liabilities", (LIABILITIES,))


class LiabilitiesProjection(LedgerProjection):
    name = "liabilities"
    schema = SCHEMA

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        rows: dict[tuple[str, str], Row] = {}
        wanted: dict[str, set[str]] = {}
        for entry in entries:
            if is_derived(entry, "liability.corrected"):
                liability_id = entry.envelope["data"]["liability_id"]
                if (entry.tenant, liability_id) not in rows:
                    wanted.setdefault(entry.tenant, set()).add(liability_id)
            elif is_derived(entry, "liability.assigned"):
                rows[(entry.tenant, entry.envelope["data"]["liability_id"])] = {}
        rows.clear()
        for row in self.view.load("liabilities", "liability_id", wanted):
            rows[(row["tenant"], row["liability_id"])] = row
        for entry in entries:
            if is_derived(entry, "liability.assigned"):
                row = liability_row(entry)
                rows[(entry.tenant, row["liability_id"])] = row
                changes.upsert("liabilities", row)
            elif is_derived(entry, "liability.corrected"):
                key = (entry.tenant, entry.envelope["data"]["liability_id"])
                if key in rows:  # the engine corrects only what it assigned before
                    rows[key] = correct_liability(rows[key], entry)
                    changes.upsert("liabilities", rows[key])
