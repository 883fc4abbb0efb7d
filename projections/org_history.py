"""Org history: who belonged to which unit and reported to whom, from when to when; and
each unit's name, parent and head over time (from the inbound `ledger.org.*` entries).

Each assignment, departure or unit definition is a row valid from its business time until
the next one of the same employee (unit) in business-time order (time, then source, then
id: the order the responsibility rules use). A late-arriving entry is slotted into its
place and its neighbours' `valid_to` follow, so the view answers "as of t" correctly
whatever the arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.events import EntryRecorded
from projections.base import LedgerProjection
from projections.schema import Row, Table, ViewSchema, ints, text, utc_key
from projections.views import Changes

ASSIGNMENTS = Table(
    "org_assignments",
    columns=(*text("tenant", "employee_id", "source", "event_id", "event", "name", "unit_id",
                   "supervisor_id", "title", "valid_from", "valid_from_utc", "valid_to",
                   "valid_to_utc"), *ints("position")),
    key=("tenant", "employee_id", "source", "event_id"),
    indexes=(("tenant", "unit_id", "valid_from_utc"), ("tenant", "supervisor_id")),
)
UNITS = Table(
    "org_units",
    columns=(*text("tenant", "unit_id", "source", "event_id", "name", "parent_id", "head_id",
                   "valid_from", "valid_from_utc", "valid_to", "valid_to_utc"),
             *ints("position")),
    key=("tenant", "unit_id", "source", "event_id"),
)
SCHEMA = ViewSchema("org_history", (ASSIGNMENTS, UNITS))

_EMPLOYEE_TYPES = {"ledger.org.employee.assigned": "assigned",
                   "ledger.org.employee.departed": "departed"}
_UNIT_TYPE = "ledger.org.unit.defined"


def _order(row: Row) -> tuple[str, str, str]:
    return (row["valid_from_utc"], row["source"], row["event_id"])


def _row(entry: EntryRecorded) -> tuple[str, str, Row] | None:
    """(table, subject id, row) of an org entry; None for any other entry."""
    envelope = entry.envelope
    if entry.kind != "inbound" or not (
        envelope["type"] in _EMPLOYEE_TYPES or envelope["type"] == _UNIT_TYPE
    ):
        return None
    data = envelope["data"]
    common = {"tenant": entry.tenant, "source": entry.source, "event_id": entry.event_id,
              "valid_from": envelope["time"], "valid_from_utc": utc_key(envelope["time"]),
              "valid_to": None, "valid_to_utc": None, "position": entry.position}
    if envelope["type"] in _EMPLOYEE_TYPES:
        event = _EMPLOYEE_TYPES[envelope["type"]]
        return ("org_assignments", data["employee_id"], {
            **common, "employee_id": data["employee_id"], "event": event,
            "name": data.get("name"), "unit_id": data.get("unit_id"),
            "supervisor_id": data.get("supervisor_id"), "title": data.get("title")})
    return ("org_units", data["unit_id"], {
        **common, "unit_id": data["unit_id"], "name": data.get("name"),
        "parent_id": data.get("parent_id"), "head_id": data.get("head_id")})


class OrgHistoryProjection(LedgerProjection):
    name = "org_history"
    schema = SCHEMA

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        new: dict[tuple[str, str, str], list[Row]] = {}
        for entry in entries:
            found = _row(entry)
            if found is not None:
                table, subject, row = found
                new.setdefault((table, entry.tenant, subject), []).append(row)
        wanted: dict[str, dict[str, set[str]]] = {}
        for table, tenant, subject in new:
            wanted.setdefault(table, {}).setdefault(tenant, set()).add(subject)
        timelines: dict[tuple[str, str, str], dict[tuple[str, str], Row]] = {}
        for table, subjects in wanted.items():
            column = "employee_id" if table == "org_assignments" else "unit_id"
            for row in self.view.load(table, column, subjects):
                timeline = timelines.setdefault((table, row["tenant"], row[column]), {})
                timeline[(row["source"], row["event_id"])] = row
        for key, rows in new.items():
            timeline = timelines.setdefault(key, {})
            before = {k: dict(v) for k, v in timeline.items()}
            for row in rows:
                timeline.setdefault((row["source"], row["event_id"]), row)
            ordered = sorted(timeline.values(), key=_order)
            for current, following in zip(ordered, [*ordered[1:], None], strict=True):
                current["valid_to"] = following["valid_from"] if following else None
                current["valid_to_utc"] = following["valid_from_utc"] if following else None
            for identity, row in timeline.items():
                if before.get(identity) != row:
                    changes.upsert(key[0], row)
