"""The semantics (docs/domain-rules.md, Semantics) applied to one case: verdicts and the
responsibility chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ledger.domain.responsibility import appeals, obligations, permissions, policy_check
from ledger.domain.responsibility.chain_links import links, source
from ledger.domain.responsibility.controls import assess_inspections, assess_overrides
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.rules import RuleOutcome, Verdict
from ledger.domain.responsibility.steps import assess_steps
from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    DeadlineMissed,
    DutyFulfilled,
    Liability,
    Obligation,
    ObligationEscalated,
    Violation,
)
from ledger.domain.responsibility.view import TenantView, targets

DISCHARGING_DECISIONS = frozenset({"upheld", "corrected"})


def assess_case(
    case_id: str, facts: Sequence[Fact], tenant: TenantView, watermark: datetime | None
) -> CaseAssessment:
    """All verdicts for one case, judged as of `watermark` (absent events are only judged
    missing once the watermark has passed their due time)."""
    ordered = sorted(facts, key=lambda f: f.order)
    result = CaseAssessment(case_id)
    flags: dict[str, list[str]] = {}
    liable: dict[str, str] = {}
    pending: list[datetime] = []
    step_marks = assess_steps(case_id, ordered, tenant, watermark, result, flags, liable, pending)
    unauthorised = permissions.assess_permissions(case_id, ordered, tenant, result, flags)
    reviewable = permissions.unauthorised_removed(ordered, unauthorised)
    _assess_violations(case_id, reviewable, tenant, watermark, result, flags, pending)
    assess_inspections(case_id, ordered, tenant, result, flags)
    assess_overrides(case_id, ordered, tenant, result, flags)
    result.links = links(
        ordered, tenant, step_marks, flags, liable, result.misses, result.contributions
    )
    result.source = source(result.links)
    result.next_due = min(pending) if pending else None
    permissions.with_roles(result, tenant)
    result.appeals = appeals.judge_all(result.liabilities, tenant.appeals)
    obligations.judge(result, tenant.reminder_lead, watermark)
    return result


def unchanged_since(
    assessed_at: datetime | None, next_due: datetime | None, watermark: datetime | None
) -> bool:
    """Whether an assessment made at `assessed_at`, whose `next_due` it gave, is still what
    `assess_case` returns at `watermark`, the facts and the tenant's view being unchanged.

    The watermark decides one thing only: whether a due time has passed. Every due still
    ahead of the assessment's watermark is in its `next_due` (the earliest of them), so a
    higher watermark that stays short of `next_due` passes none of them (None: before all).
    """
    if watermark == assessed_at:
        return True
    if watermark is None or (assessed_at is not None and watermark < assessed_at):
        return False
    return next_due is None or watermark < next_due


# --- policies and supervisor duty (5.2, 5.3) ---------------------------------------------


def rule_checks(facts: Sequence[Fact], tenant: TenantView) -> list[tuple[str, Mapping[str, Any]]]:
    """The (rule, payload) pairs `assess_case` evaluates for these facts, so an evaluator
    can evaluate them ahead, all at once. Found by running `_assess_violations` itself with
    an evaluator that writes them down (and lets every rule hold), so the two cannot
    disagree; facts that `assess_case` leaves out first (unauthorised acts) are never
    submissions, so they change nothing here."""
    asked = _AskedRules()
    _assess_violations("", facts, replace(tenant, evaluator=asked), None,
                       CaseAssessment(""), {}, [])
    return asked.pairs


class _AskedRules:
    """A `RuleEvaluator` that records what it is asked, and says every rule holds."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, Mapping[str, Any]]] = []

    def evaluate(self, rule: str, payload: Mapping[str, Any]) -> RuleOutcome:
        self.pairs.append((rule, payload))
        return RuleOutcome(Verdict.HOLDS)


def _assess_violations(
    case_id: str,
    facts: Sequence[Fact],
    tenant: TenantView,
    watermark: datetime | None,
    result: CaseAssessment,
    flags: dict[str, list[str]],
    pending: list[datetime],
) -> None:
    for fact in facts:
        if fact.type != "ledger.operation.submitted" or not fact.actor_id:
            continue
        for policy in tenant.rules.policies_for(str(fact.data["operation"]), fact.time):
            reason = policy_check.check(
                policy.rule, fact.data.get("payload", {}), tenant.evaluator
            )
            if reason is None:
                continue
            violation = Violation(
                violation_id=f"{policy.policy_id}@v{policy.version}:{fact.ref}",
                case_id=case_id,
                fact=fact,
                employee_id=fact.actor_id,
                policy_id=policy.policy_id,
                policy_version=policy.version,
                severity=policy.severity,
                supervisor_id=(supervisor := tenant.org.supervisor_of(fact.actor_id, fact.time)),
                review_due=_counted(
                    tenant, fact.time, policy.review_within, policy.review_counting, supervisor
                ),
                reason=reason,
            )
            result.violations.append(violation)
            flags.setdefault(fact.ref, []).append("violation")
            result.liabilities.append(
                Liability(
                    fact.actor_id,
                    "direct",
                    "violated_policy",
                    case_id,
                    (fact,),
                    fact.time,
                    tenant.org.unit_of(fact.actor_id, fact.time),
                    violation_id=violation.violation_id,
                )
            )
            _supervisor_duty(
                violation,
                policy.review_within,
                policy.escalate_levels,
                facts,
                tenant,
                watermark,
                result,
                flags,
                pending,
                counting=policy.review_counting,
            )


def _counted(
    tenant: TenantView, start: datetime, duration: str, counting: str | None, holder: str | None
) -> datetime:
    """`start` + `duration`, in business time on the holder's unit's calendar when asked."""
    unit = tenant.org.unit_of(holder, start)
    return tenant.rules.calendars.deadline(start, duration, counting, unit, tenant.org)


def _reviews_of(violation: Violation, facts: Sequence[Fact], tenant: TenantView) -> list[Fact]:
    names = {violation.violation_id}
    return [
        f
        for f in facts
        if f.type == "ledger.violation.reviewed"
        and (
            f.data.get("violation_id") in names
            or tenant.index.resolve(f.data.get("violation_id")) == violation.fact
        )
    ]


def _supervisor_duty(
    violation: Violation,
    window: str,
    levels: int,
    facts: Sequence[Fact],
    tenant: TenantView,
    watermark: datetime | None,
    result: CaseAssessment,
    flags: dict[str, list[str]],
    pending: list[datetime],
    counting: str | None = None,
) -> None:
    case_id, org = violation.case_id, tenant.org
    acts: list[Fact] = []
    for approval in (f for f in facts if f.type == "ledger.operation.approved"):
        if targets(approval, tenant) == violation.fact and approval.actor_id:
            acts.append(approval)
            _approved_violation(violation, approval, tenant, result, flags)
    for review in _reviews_of(violation, facts, tenant):
        if review.data.get("decision") == "excused" and review.actor_id:
            _approved_violation(violation, review, tenant, result, flags)
        if review.actor_id and review.actor_id != violation.employee_id:
            acts.append(review)
    holder, due = violation.supervisor_id, violation.review_due
    start = violation.fact.time
    for level in range(1, levels + 1):
        if holder is None:
            return
        done = next((a for a in acts if a.time <= due), None)
        result.obligations.append(Obligation(
            "review", case_id, holder, start, due, violation_id=violation.violation_id,
            unit_id=org.unit_of(holder, start), done=done, level=level, cause=violation.fact))
        if done is not None:
            if done.data.get("decision") in DISCHARGING_DECISIONS and done.actor_id:
                result.duties.append(
                    DutyFulfilled(
                        "review_done",
                        done.actor_id,
                        case_id,
                        (violation.fact, done),
                        done.time,
                        violation_id=violation.violation_id,
                        unit_id=org.unit_of(done.actor_id, done.time),
                    )
                )
            return
        if watermark is None or due > watermark:
            pending.append(due)
            return
        result.misses.append(
            DeadlineMissed(
                "review",
                case_id,
                due,
                violation_id=violation.violation_id,
                owner_id=holder,
                unit_id=org.unit_of(holder, due),
                cause=violation.fact,
            )
        )
        result.liabilities.append(
            Liability(
                holder,
                "supervisor",
                "review_missed",
                case_id,
                (violation.fact,),
                due,
                org.unit_of(holder, due),
                violation_id=violation.violation_id,
            )
        )
        flags.setdefault(violation.fact.ref, []).append("review_missed")
        if level == levels:
            return
        successor = org.supervisor_of(holder, violation.fact.time)
        if successor is None:
            return
        next_due = _counted(tenant, due, window, counting, successor)
        result.escalations.append(
            ObligationEscalated(
                violation.violation_id, case_id, holder, successor, next_due, due, violation.fact
            )
        )
        holder, start, due = successor, due, next_due


def _approved_violation(
    violation: Violation,
    act: Fact,
    tenant: TenantView,
    result: CaseAssessment,
    flags: dict[str, list[str]],
) -> None:
    assert act.actor_id is not None
    result.liabilities.append(
        Liability(
            act.actor_id,
            "supervisor",
            "approved_violation",
            violation.case_id,
            (violation.fact, act),
            act.time,
            tenant.org.unit_of(act.actor_id, act.time),
            violation_id=violation.violation_id,
        )
    )
    flags.setdefault(act.ref, []).append("approved_violation")


