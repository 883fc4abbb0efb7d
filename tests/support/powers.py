"""Events of power and responsibility (roles, grants, approvals) and appeals, for the
scenarios of docs/domain-rules.md (Power and responsibility; Appeals)."""

from __future__ import annotations

from typing import Any

from tests.support.scenario import act, event

GRANTED = "2026-01-02T00:00:00+08:00"


def role(name: str, permissions: list[str], responsibilities: list[str]) -> dict[str, Any]:
    return event(f"role-{name}", "ledger.access.role.defined", "2026-01-01T00:00:00+08:00",
                 {"role": name, "permissions": permissions, "responsibilities": responsibilities})


def access(employee: str, name: str, time: str, kind: str = "granted") -> dict[str, Any]:
    return event(f"{kind}-{name}-{employee}-{time}", f"ledger.access.role.{kind}", time,
                 {"employee_id": employee, "role": name})


def approve(case: str, actor: str, time: str) -> dict[str, Any]:
    return act(f"{case}-approved", "ledger.operation.approved", case, time, actor_id=actor,
               target_id=case)


def appeal(liability_id: str, actor: str, time: str, eid: str) -> dict[str, Any]:
    return event(eid, "ledger.liability.appealed", time,
                 {"liability_id": liability_id, "actor_id": actor, "reason": "approved orally"},
                 source="hr/appeals")


def decide(liability_id: str, actor: str, decision: str, time: str, eid: str) -> dict[str, Any]:
    return event(eid, "ledger.appeal.decided", time,
                 {"liability_id": liability_id, "actor_id": actor, "decision": decision,
                  "reason": "checked"}, source="hr/appeals")
