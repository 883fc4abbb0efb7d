"""Violations: one row per violation (`violation.flagged`, latest revision wins), with a
status that follows what happened to it afterwards:

- `open`: flagged, the review is pending;
- `reviewed`: a `ledger.violation.reviewed` names it (by violation id, or by the violating
  event's id or `source#id`), with its decision; a review by the violator does not count,
  as in the engine;
- `approved`: a `ledger.operation.approved` targets the violating event;
- `missed`: `deadline.missed` (obligation review) and nobody acted;
- `escalated`: `obligation.escalated` handed the review to the next supervisor, who is the
  current holder (`supervisor_id`; the one flagged first stays in `flagged_supervisor_id`).

A human act (review, approval) decides the status over the engine's misses, the latest act
by business time winning; a late review leaves `missed_due` visible beside it. Acts are
kept in `violation_acts` by the reference they name, because one may be recorded before
the engine flags the violation it refers to. The violator's unit comes from the
`violated_policy` liability of the same violation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.domain.events import EntryRecorded
from projections.base import LedgerProjection, is_derived
from projections.schema import Column, Row, Table, ViewSchema, ints, local_day, text, utc_key
from projections.views import Changes

VIOLATIONS = Table(
    "violations",
    columns=(
        *text("tenant", "violation_id"), Column("flagged", "bool"),
        *text("case_id", "event_id", "event_ref", "employee_id", "flagged_supervisor_id",
              "supervisor_id", "unit_id", "severity", "policy_id"),
        *ints("policy_version"),
        *text("reason", "at", "at_utc", "day", "flagged_review_due", "review_due", "status",
              "decision", "reviewed_by", "reviewed_at", "reviewed_at_utc", "review_ref",
              "approved_by", "approved_at", "approved_at_utc", "approval_ref",
              "missed_due", "missed_due_utc", "escalated_to", "escalated_at",
              "escalated_at_utc", "escalated_due", "escalated_due_utc", "entry_id"),
        *ints("position"),
    ),
    key=("tenant", "violation_id"),
    indexes=(("tenant", "at_utc", "violation_id"), ("tenant", "employee_id", "at_utc"),
             ("tenant", "supervisor_id", "at_utc"), ("tenant", "flagged_supervisor_id"),
             ("tenant", "unit_id", "at_utc"), ("tenant", "status", "at_utc"),
             ("tenant", "event_id"), ("tenant", "event_ref")),
)
ACTS = Table(
    "violation_acts",
    columns=(*text("tenant", "ref", "act_ref", "kind", "actor_id", "decision", "at",
                   "at_utc"), *ints("position")),
    key=("tenant", "ref", "act_ref"),
)
SCHEMA = ViewSchema("violations", (VIOLATIONS, ACTS))

REVIEWED = "ledger.violation.reviewed"
APPROVED = "ledger.operation.approved"


def _stub(tenant: str, violation_id: str) -> Row:
    row: Row = {name: None for name in VIOLATIONS.column_names}
    row.update(tenant=tenant, violation_id=violation_id, flagged=False)
    return row


def _act(entry: EntryRecorded) -> Row | None:
    envelope = entry.envelope
    data = envelope["data"]
    if envelope["type"] == REVIEWED:
        kind, ref = "review", data.get("violation_id")
    elif envelope["type"] == APPROVED:
        kind, ref = "approval", data.get("target_id")
    else:
        return None
    if not isinstance(ref, str):
        return None
    return {"tenant": entry.tenant, "ref": ref, "act_ref": f"{entry.source}#{entry.event_id}",
            "kind": kind, "actor_id": data.get("actor_id"), "decision": data.get("decision"),
            "at": envelope["time"], "at_utc": utc_key(envelope["time"]),
            "position": entry.position}


def _take_act(row: Row, act: Row) -> None:
    """Keep the latest review and the latest approval (business time, then identity)."""
    if act["kind"] == "review":
        if act["actor_id"] == row["employee_id"]:
            return
        latest = (row["reviewed_at_utc"] or "", row["review_ref"] or "")
        if (act["at_utc"], act["act_ref"]) > latest:
            row.update(reviewed_by=act["actor_id"], reviewed_at=act["at"],
                       reviewed_at_utc=act["at_utc"], review_ref=act["act_ref"],
                       decision=act["decision"])
    elif (act["at_utc"], act["act_ref"]) > (row["approved_at_utc"] or "",
                                            row["approval_ref"] or ""):
        row.update(approved_by=act["actor_id"], approved_at=act["at"],
                   approved_at_utc=act["at_utc"], approval_ref=act["act_ref"])


def _settle(row: Row) -> None:
    """Status, current holder and current due, from what the row has seen."""
    review = (row["reviewed_at_utc"], row["review_ref"]) if row["reviewed_at_utc"] else None
    approval = (row["approved_at_utc"], row["approval_ref"]) if row["approved_at_utc"] else None
    if approval is not None and (review is None or approval > review):
        status = "approved"
    elif review is not None:
        status = "reviewed"
    elif row["escalated_at_utc"] and (
        row["missed_due_utc"] is None or row["escalated_at_utc"] >= row["missed_due_utc"]
    ):
        status = "escalated"
    elif row["missed_due_utc"]:
        status = "missed"
    else:
        status = "open"
    row["status"] = status if row["flagged"] else None
    row["supervisor_id"] = row["escalated_to"] or row["flagged_supervisor_id"]
    row["review_due"] = row["escalated_due"] or row["flagged_review_due"]


class ViolationsProjection(LedgerProjection):
    name = "violations"
    schema = SCHEMA

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        ids: dict[str, set[str]] = {}
        refs: dict[str, set[str]] = {}
        flag_refs: dict[str, set[str]] = {}
        for entry in entries:
            violation_id = self._violation_id(entry)
            if violation_id is not None:
                ids.setdefault(entry.tenant, set()).add(violation_id)
                if is_derived(entry, "violation.flagged"):
                    data = entry.envelope["data"]
                    flag_refs.setdefault(entry.tenant, set()).update(
                        r for r in (violation_id, data.get("event_id"), data.get("event_ref"))
                        if r)
            elif entry.kind != "derived" and (act := _act(entry)) is not None:
                refs.setdefault(entry.tenant, set()).add(act["ref"])
        rows: dict[tuple[str, str], Row] = {}
        index: dict[tuple[str, str], set[str]] = {}
        acts: dict[tuple[str, str], list[Row]] = {}
        loaded = self.view.load("violations", "violation_id", ids)
        loaded += self.view.load("violations", ("violation_id", "event_id", "event_ref"),
                                      refs)
        for row in loaded:
            rows[(row["tenant"], row["violation_id"])] = row
            if row["flagged"]:
                self._index(index, row)
        for act in self.view.load("violation_acts", "ref", flag_refs):
            acts.setdefault((act["tenant"], act["ref"]), []).append(act)
        dirty: set[tuple[str, str]] = set()
        for entry in entries:
            dirty |= self._take(entry, rows, index, acts, changes)
        for key in sorted(dirty):
            _settle(rows[key])
            changes.upsert("violations", rows[key])

    @staticmethod
    def _violation_id(entry: EntryRecorded) -> str | None:
        if entry.kind != "derived":
            return None
        envelope = entry.envelope
        data: dict[str, Any] = envelope["data"]
        type_ = envelope["type"]
        if type_ in ("violation.flagged", "obligation.escalated") or (
            type_ == "deadline.missed" and data.get("obligation") == "review"
        ) or (type_ == "liability.assigned" and data.get("basis") == "violated_policy"):
            violation_id = data.get("violation_id")
            return violation_id if isinstance(violation_id, str) else None
        return None

    @staticmethod
    def _index(index: dict[tuple[str, str], set[str]], row: Row) -> None:
        for ref in (row["violation_id"], row["event_id"], row["event_ref"]):
            if ref:
                index.setdefault((row["tenant"], ref), set()).add(row["violation_id"])

    def _take(
        self, entry: EntryRecorded, rows: dict[tuple[str, str], Row],
        index: dict[tuple[str, str], set[str]], acts: dict[tuple[str, str], list[Row]],
        changes: Changes,
    ) -> set[tuple[str, str]]:
        tenant = entry.tenant
        violation_id = self._violation_id(entry)
        if violation_id is None:
            act = _act(entry) if entry.kind != "derived" else None
            if act is None:
                return set()
            changes.upsert("violation_acts", act)
            acts.setdefault((tenant, act["ref"]), []).append(act)
            touched = {(tenant, v) for v in index.get((tenant, act["ref"]), set())}
            for key in touched:
                _take_act(rows[key], act)
            return touched
        key = (tenant, violation_id)
        row = rows.setdefault(key, _stub(tenant, violation_id))
        envelope = entry.envelope
        data = envelope["data"]
        match envelope["type"]:
            case "violation.flagged":
                was_flagged = row["flagged"]
                row.update(
                    flagged=True, case_id=envelope.get("subject"), event_id=data["event_id"],
                    event_ref=data.get("event_ref"), employee_id=data["employee_id"],
                    flagged_supervisor_id=data.get("supervisor_id"),
                    severity=data["severity"], policy_id=data["policy_id"],
                    policy_version=int(data["policy_version"]), reason=data.get("reason"),
                    at=envelope["time"], at_utc=utc_key(envelope["time"]),
                    day=local_day(envelope["time"]), flagged_review_due=data["review_due"],
                    entry_id=entry.event_id, position=entry.position)
                self._index(index, row)
                if not was_flagged:
                    seen: set[str] = set()
                    for ref in (violation_id, row["event_id"], row["event_ref"]):
                        for act in acts.get((tenant, ref or ""), []):
                            if act["act_ref"] not in seen:
                                seen.add(act["act_ref"])
                                _take_act(row, act)
            case "liability.assigned":
                row["unit_id"] = data.get("unit_id")
            case "deadline.missed":
                due_utc = utc_key(data["due"])
                if row["missed_due_utc"] is None or (due_utc or "") > row["missed_due_utc"]:
                    row.update(missed_due=data["due"], missed_due_utc=due_utc)
            case "obligation.escalated":
                due_utc = utc_key(data["review_due"])
                if row["escalated_due_utc"] is None or (due_utc or "") > row["escalated_due_utc"]:
                    row.update(escalated_to=data["to_id"], escalated_at=envelope["time"],
                               escalated_at_utc=utc_key(envelope["time"]),
                               escalated_due=data["review_due"], escalated_due_utc=due_utc)
        return {key}
