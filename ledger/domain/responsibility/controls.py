"""Inspections, incidents and overrides (docs/domain-rules.md, Semantics 5 and 6)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    Liability,
)
from ledger.domain.responsibility.view import TenantView, targets

# --- inspections, incidents (5.5) and overrides (5.6) --------------------------------------


def assess_inspections(
    case_id: str,
    facts: Sequence[Fact],
    tenant: TenantView,
    result: CaseAssessment,
    flags: dict[str, list[str]],
) -> None:
    for fact in facts:
        if fact.type == "ledger.inspection.recorded" and fact.data.get("result") == "fail":
            flags.setdefault(fact.ref, []).append("failed_inspection")
        if fact.type != "ledger.incident.reported":
            continue
        for related in _resolve_all(fact.data.get("related_ids", []), tenant):
            item, inspection = related, None
            if related.type == "ledger.inspection.recorded":
                inspection, item = related, targets(related, tenant) or related
            elif (passed := _passed_inspection(item, tenant, fact.time)) is not None:
                inspection = passed
            evidence = tuple(f for f in (fact, item, inspection) if f is not None)
            if item.actor_id and item is not inspection:
                result.liabilities.append(
                    _passed_defect(item, "producer", case_id, fact, evidence, tenant)
                )
                flags.setdefault(item.ref, []).append("defect")
            if inspection is not None and inspection.actor_id:
                result.liabilities.append(
                    _passed_defect(inspection, "inspector", case_id, fact, evidence, tenant)
                )
                flags.setdefault(inspection.ref, []).append("passed_defect")


def _passed_defect(
    who: Fact,
    role: str,
    case_id: str,
    incident: Fact,
    evidence: tuple[Fact, ...],
    tenant: TenantView,
) -> Liability:
    """`passed_defect` for the actor of `who` (the producer or the inspector), dated at
    the incident, in the unit they belonged to when they acted."""
    assert who.actor_id is not None
    return Liability(
        who.actor_id,
        "direct",
        "passed_defect",
        case_id,
        evidence,
        incident.time,
        tenant.org.unit_of(who.actor_id, who.time),
        role=role,
    )


def _resolve_all(references: Iterable[object], tenant: TenantView) -> list[Fact]:
    resolved = (tenant.index.resolve(r) for r in references)
    return [f for f in resolved if f is not None]


def _passed_inspection(item: Fact, tenant: TenantView, before: datetime) -> Fact | None:
    inspections = tenant.index.inspections_of(item.ref)
    passed = [i for i in inspections if i.data.get("result") == "pass" and i.time <= before]
    return min(passed, key=lambda f: f.order) if passed else None


def assess_overrides(
    case_id: str,
    facts: Sequence[Fact],
    tenant: TenantView,
    result: CaseAssessment,
    flags: dict[str, list[str]],
) -> None:
    violations = {v.violation_id: v for v in result.violations}
    for fact in facts:
        if fact.type != "ledger.decision.overridden" or not fact.actor_id:
            continue
        target_id = fact.data.get("target_id")
        target = targets(fact, tenant)
        stopped: Fact | None = None
        if isinstance(target_id, str) and target_id in violations:
            target = stopped = violations[target_id].fact
        elif target is None:
            continue
        elif target.type == "ledger.operation.rejected" or (
            target.type == "ledger.inspection.recorded" and target.data.get("result") == "fail"
        ):
            stopped = targets(target, tenant)
        elif target.type == "ledger.operation.submitted" and any(
            v.fact == target for v in result.violations
        ):
            stopped = target
        else:
            continue
        evidence = tuple(f for f in (fact, target, stopped) if f is not None)
        result.liabilities.append(
            Liability(
                fact.actor_id,
                "direct",
                "overrode_control",
                case_id,
                tuple(dict.fromkeys(evidence)),
                fact.time,
                tenant.org.unit_of(fact.actor_id, fact.time),
            )
        )
        flags.setdefault(fact.ref, []).append("override")


