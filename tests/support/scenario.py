"""A small language for responsibility scenarios: send events, let the engine run, ask."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from tests.support.envelopes import TENANT, make_envelope

LATENESS = timedelta(minutes=5)


def event(
    eid: str,
    type_: str,
    time: str,
    data: dict[str, Any],
    subject: str | None = None,
    source: str = "oa/test",
    tenant: str = TENANT,
    **extra: Any,
) -> dict[str, Any]:
    return make_envelope(
        eid, type_, time, data, tenant=tenant, source=source, subject=subject, **extra
    )


def unit(
    unit_id: str,
    head: str | None = None,
    parent: str | None = None,
    time: str = "2026-01-01T00:00:00+08:00",
) -> dict[str, Any]:
    data: dict[str, Any] = {"unit_id": unit_id, "name": unit_id.title()}
    if head:
        data["head_id"] = head
    if parent:
        data["parent_id"] = parent
    return event(f"unit-{unit_id}-{time}", "ledger.org.unit.defined", time, data)


def assign(
    employee: str,
    unit_id: str,
    supervisor: str | None = None,
    time: str = "2026-01-01T00:00:00+08:00",
) -> dict[str, Any]:
    data: dict[str, Any] = {"employee_id": employee, "name": employee, "unit_id": unit_id}
    if supervisor:
        data["supervisor_id"] = supervisor
    return event(f"assign-{employee}-{time}", "ledger.org.employee.assigned", time, data)


def policy(
    rule: str = "payload.return_days <= 3",
    version: int = 1,
    time: str = "2026-02-01T00:00:00+08:00",
    **extra: Any,
) -> dict[str, Any]:
    data = {
        "policy_id": "return-window",
        "version": version,
        "applies_to": "sales_order",
        "rule": rule,
        "severity": "major",
        "review_within": "PT24H",
        **extra,
    }
    return event(f"policy-v{version}", "ledger.policy.defined", time, data)


def submit(
    eid: str, case: str, time: str, actor: str = "e-li", days: int = 7, **extra: Any
) -> dict[str, Any]:
    return event(
        eid,
        "ledger.operation.submitted",
        time,
        {"actor_id": actor, "operation": "sales_order", "payload": {"return_days": days}},
        case,
        "erp/orders",
        **extra,
    )


def act(eid: str, type_: str, case: str, time: str, **data: Any) -> dict[str, Any]:
    return event(eid, type_, time, data, case, "erp/orders")


def tick(time: str) -> dict[str, Any]:
    """Any later event of the tenant moves its watermark; a case opening will do."""
    return event(
        f"tick-{time}",
        "ledger.case.opened",
        time,
        {"title": "unrelated", "opened_by": "e-nobody"},
        f"TICK-{time}",
        "erp/other",
    )


SALES_ORG = [
    unit("hq", head="e-ceo"),
    unit("sales", head="e-zhang", parent="hq"),
    unit("sales-2", head="e-wang", parent="hq"),
    assign("e-ceo", "hq"),
    assign("e-zhang", "sales", "e-boss"),
    assign("e-boss", "hq", "e-ceo"),
    assign("e-wang", "sales-2", "e-boss"),
    assign("e-li", "sales", "e-zhang"),
]


class Scenario:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock)

    def send(self, *events: dict[str, Any]) -> Scenario:
        outcomes = self.ledger.record(list(events))
        bad = [o for o in outcomes if o.status.value == "rejected"]
        assert not bad, bad
        self.engine.run_until_idle()
        return self

    def derived(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [
            e.envelope
            for e in self.ledger.store.iter_entries(TENANT)
            if e.kind == "derived" and (type_ is None or e.envelope["type"] == type_)
        ]

    def active_liabilities(self) -> set[tuple[str, str, str]]:
        corrected = {e["data"]["liability_id"] for e in self.derived("liability.corrected")}
        return {
            (e["data"]["employee_id"], e["data"]["kind"], e["data"]["basis"])
            for e in self.derived("liability.assigned")
            if e["data"]["liability_id"] not in corrected
        }

    def verdicts(self) -> set[tuple[str, ...]]:
        """Active liabilities in full detail: what must not depend on arrival order."""
        corrected = {e["data"]["liability_id"] for e in self.derived("liability.corrected")}
        return {
            (
                d["employee_id"],
                d["kind"],
                d["basis"],
                d["case_id"],
                d.get("violation_id", ""),
                d.get("step", ""),
                d.get("role", ""),
                *sorted(d["event_refs"]),
            )
            for e in self.derived("liability.assigned")
            if (d := e["data"])["liability_id"] not in corrected
        }

    def duties(self) -> set[tuple[str, str]]:
        return {
            (e["data"]["employee_id"], e["data"]["duty"]) for e in self.derived("duty.fulfilled")
        }

    def corrections(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.derived("liability.corrected")]


def ids(events: Iterable[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]
