"""What scores are computed from (docs/domain-rules.md, Scores for appraisal): every
liability and positive record with what scoring needs (basis or kind, severity, the unit
at the time, whether it was corrected), and every version of every scoring scheme.

Scores themselves are not stored: `ReadModels.scores` applies the pure rules of
ledger/domain/responsibility/scores.py to these rows, so a scheme that arrives late
rescores what it reaches at the next query.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.events import EntryRecorded
from projections.base import LedgerProjection, derived_key, is_derived
from projections.schema import Column, Row, Table, ViewSchema, ints, local_day, text, utc_key
from projections.views import Changes

SCORING_DEFINED = "ledger.scoring.defined"

SCORE_RECORDS = Table(
    "score_records",
    columns=(
        *text("tenant", "record_id", "record", "employee_id", "unit_id", "case_id", "basis",
              "kind", "severity", "corrected_reason", "at", "at_utc", "day", "entry_id"),
        Column("event_ids", "json"), *ints("position"),
    ),
    key=("tenant", "record_id"),
    indexes=(("tenant", "at_utc", "record_id"), ("tenant", "unit_id", "at_utc")),
)
SCHEMES = Table(
    "scoring_schemes",
    columns=(*text("tenant", "source", "event_id", "scheme_id", "time", "time_utc"),
             *ints("version", "position"), Column("data", "json")),
    key=("tenant", "source", "event_id"),
)
SCHEMA = ViewSchema("appraisal", (SCORE_RECORDS, SCHEMES))


def _record(entry: EntryRecorded) -> Row:
    data = entry.envelope["data"]
    at = data.get("at") or entry.envelope["time"]
    liability = entry.envelope["type"] == "liability.assigned"
    return {
        "tenant": entry.tenant,
        "record_id": data["liability_id"] if liability else "D-" + derived_key(entry.event_id),
        "record": "liability" if liability else "positive",
        "employee_id": data["employee_id"], "unit_id": data.get("unit_id"),
        "case_id": data["case_id"], "basis": data.get("basis"), "kind": data.get("duty"),
        "severity": data.get("severity"), "corrected_reason": None,
        "at": at, "at_utc": utc_key(at), "day": local_day(at),
        "event_ids": list(data.get("event_ids", [])), "entry_id": entry.event_id,
        "position": entry.position,
    }


class AppraisalProjection(LedgerProjection):
    name = "appraisal"
    schema = SCHEMA

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        rows: dict[tuple[str, str], Row] = {}
        wanted: dict[str, set[str]] = {}
        for entry in entries:
            if is_derived(entry, "liability.corrected"):
                wanted.setdefault(entry.tenant, set()).add(entry.envelope["data"]["liability_id"])
        for row in self.view.load("score_records", "record_id", wanted):
            rows[(row["tenant"], row["record_id"])] = row
        for entry in entries:
            type_ = entry.envelope.get("type")
            if is_derived(entry, "liability.assigned") or is_derived(entry, "duty.fulfilled"):
                row = _record(entry)
                # Assigned again (new details, or reinstated): the ledger's latest word
                # wins, as in the liabilities view; the engine repeats a correction that holds.
                rows[(entry.tenant, row["record_id"])] = row
                changes.upsert("score_records", row)
            elif is_derived(entry, "liability.corrected"):
                key = (entry.tenant, entry.envelope["data"]["liability_id"])
                if key in rows:
                    reason = entry.envelope["data"].get("reason") or "corrected"
                    rows[key] = {**rows[key], "corrected_reason": reason}
                    changes.upsert("score_records", rows[key])
            elif entry.kind == "inbound" and type_ == SCORING_DEFINED:
                data = entry.envelope["data"]
                changes.upsert("scoring_schemes", {
                    "tenant": entry.tenant, "source": entry.source, "event_id": entry.event_id,
                    "scheme_id": data["scheme_id"], "version": int(data["version"]),
                    "time": entry.envelope["time"], "time_utc": utc_key(entry.envelope["time"]),
                    "data": dict(data), "position": entry.position,
                })
