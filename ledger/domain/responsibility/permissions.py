"""Approvals and overrides by someone without the permission (docs/domain-rules.md, Power
and responsibility), and the roles every liability falls under.

An act is judged against the roles its actor held at the act's business time; a role
granted or revoked late reaches every case that looked it up, so the verdict follows
as a correction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.verdicts import CaseAssessment, Liability, Violation

if TYPE_CHECKING:
    from ledger.domain.responsibility.view import TenantView

PERMISSION_POLICY = "@permission"
GUARDED_ACTS = ("ledger.operation.approved", "ledger.decision.overridden")
SUBMITTED = "ledger.operation.submitted"
#: How far an act's target is followed to the operation it concerns (an override of a
#: rejection of an operation is two hops).
MAX_HOPS = 3


def operation_behind(act: Fact, tenant: TenantView) -> Fact | None:
    """The submitted operation an approval or override is about, if any."""
    reference = act.data.get("target_id")
    for _ in range(MAX_HOPS):
        target = tenant.index.resolve(reference)
        if target is None and isinstance(reference, str) and ":" in reference:
            # a violation id `<policy>@v<n>:<source#id>` names the violating event
            target = tenant.index.resolve(reference.split(":", 1)[1])
        if target is None:
            return None
        if target.type == SUBMITTED:
            return target
        reference = target.data.get("target_id")
    return None


def required_permissions(act: Fact, tenant: TenantView) -> list[tuple[str, str, int]]:
    """(permission, policy id, version) the act's actor needed at the act's time."""
    operation = operation_behind(act, tenant)
    if operation is None:
        return []
    policies = tenant.rules.policies_for(str(operation.data.get("operation")), act.time)
    return [(p.approver_permission, p.policy_id, p.version) for p in policies
            if p.approver_permission]


def assess_permissions(
    case_id: str,
    facts: Sequence[Fact],
    tenant: TenantView,
    result: CaseAssessment,
    flags: dict[str, list[str]],
) -> set[str]:
    """Flag every guarded act done without the permission; return their refs (an
    unauthorised approval counts as no review)."""
    unauthorised: set[str] = set()
    for act in facts:
        if act.type not in GUARDED_ACTS or not act.actor_id:
            continue
        for permission, policy_id, version in required_permissions(act, tenant):
            if tenant.powers.permitted(act.actor_id, permission, act.time):
                continue
            unauthorised.add(act.ref)
            violation = Violation(
                violation_id=f"{PERMISSION_POLICY}:{permission}:{act.ref}",
                case_id=case_id,
                fact=act,
                employee_id=act.actor_id,
                policy_id=PERMISSION_POLICY,
                policy_version=version,
                severity="major",
                supervisor_id=tenant.org.supervisor_of(act.actor_id, act.time),
                review_due=act.time,
                reason=(f"{act.actor_id} held no role granting {permission!r} at "
                        f"{act.time.isoformat()} (required by policy {policy_id} v{version})"),
            )
            result.violations.append(violation)
            flags.setdefault(act.ref, []).extend(("violation", "acted_without_permission"))
            target = operation_behind(act, tenant)
            result.liabilities.append(Liability(
                act.actor_id, "direct", "acted_without_permission", case_id,
                tuple(f for f in (act, target) if f is not None), act.time,
                tenant.org.unit_of(act.actor_id, act.time),
                violation_id=violation.violation_id,
            ))
    return unauthorised


def with_roles(result: CaseAssessment, tenant: TenantView) -> None:
    """Every liability lists the roles its employee held at its business time whose
    responsibilities name the operation it concerns or its step; a violation's
    liabilities carry the policy's severity."""
    severities = {v.violation_id: v.severity for v in result.violations}
    listed = []
    for liability in result.liabilities:
        names = {str(f.data["operation"]) for f in liability.facts
                 if f.type == SUBMITTED and f.data.get("operation")}
        if liability.step:
            names.add(liability.step)
        roles = tenant.powers.responsible_roles(liability.employee_id, liability.at, names)
        severity = severities.get(liability.violation_id or "")
        listed.append(replace(liability, roles=roles, severity=severity))
    result.liabilities = listed


def unauthorised_removed(facts: Sequence[Fact], unauthorised: set[str]) -> list[Fact]:
    return [f for f in facts if f.ref not in unauthorised]


__all__ = ["Liability", "assess_permissions", "unauthorised_removed", "with_roles"]
