"""The semantics (docs/domain-rules.md, Semantics) applied to one case: verdicts and the
responsibility chain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger.domain.responsibility import appeals, obligations, permissions, policy_check
from ledger.domain.responsibility.appeals import Appeals
from ledger.domain.responsibility.cooperation import StepWindow, assess_contributions, party_unit
from ledger.domain.responsibility.escalation import climb
from ledger.domain.responsibility.facts import Fact, FactIndex
from ledger.domain.responsibility.org import OrgChart, Process, RuleBook, Step
from ledger.domain.responsibility.powers import Powers
from ledger.domain.responsibility.rules import RuleEvaluator
from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    ContributionMark,
    DeadlineMissed,
    DutyFulfilled,
    Liability,
    Link,
    Obligation,
    ObligationEscalated,
    Source,
    Violation,
)

DISCHARGING_DECISIONS = frozenset({"upheld", "corrected"})
#: Flags that make a link a candidate responsibility source, in order of precedence.
FAILURE_FLAGS = (
    "violation",
    "missed_deadline",
    "missed_contribution",
    "failed_inspection",
    "missed_inspection",
    "defect",
    "override",
)


@dataclass(slots=True)
class TenantView:
    """What a case's assessment may consult beyond its own facts."""

    org: OrgChart = field(default_factory=OrgChart)
    rules: RuleBook = field(default_factory=RuleBook)
    index: FactIndex = field(default_factory=FactIndex)
    #: Runs policy rules; the composition root gives real processes an isolated one.
    evaluator: RuleEvaluator = policy_check.IN_PROCESS
    #: Role definitions and grants over time (who may approve, who answers for what).
    powers: Powers = field(default_factory=Powers)
    appeals: Appeals = field(default_factory=Appeals)
    #: How long before a due time an obligation is announced as due soon.
    reminder_lead: timedelta = obligations.DEFAULT_LEAD


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
    step_marks = _assess_steps(case_id, ordered, tenant, watermark, result, flags, liable, pending)
    unauthorised = permissions.assess_permissions(case_id, ordered, tenant, result, flags)
    reviewable = permissions.unauthorised_removed(ordered, unauthorised)
    _assess_violations(case_id, reviewable, tenant, watermark, result, flags, pending)
    _assess_inspections(case_id, ordered, tenant, result, flags)
    _assess_overrides(case_id, ordered, tenant, result, flags)
    result.links = _links(
        ordered, tenant, step_marks, flags, liable, result.misses, result.contributions
    )
    result.source = _source(result.links)
    result.next_due = min(pending) if pending else None
    permissions.with_roles(result, tenant)
    result.appeals = appeals.judge_all(result.liabilities, tenant.appeals)
    obligations.judge(result, tenant.reminder_lead, watermark)
    return result


# --- policies and supervisor duty (5.2, 5.3) ---------------------------------------------


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


def _targets(fact: Fact, tenant: TenantView, field_name: str = "target_id") -> Fact | None:
    return tenant.index.resolve(fact.data.get(field_name))


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
        if _targets(approval, tenant) == violation.fact and approval.actor_id:
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


# --- step deadlines (5.4) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepMark:
    due: datetime
    lead: str | None
    completed: Fact | None
    on_time: bool | None


def _assess_steps(
    case_id: str,
    facts: Sequence[Fact],
    tenant: TenantView,
    watermark: datetime | None,
    result: CaseAssessment,
    flags: dict[str, list[str]],
    liable: dict[str, str],
    pending: list[datetime],
) -> dict[str, StepMark]:
    opened = next((f for f in facts if f.type == "ledger.case.opened"), None)
    if opened is None or not opened.data.get("process_id"):
        return {}
    version = opened.data.get("process_version")
    process = tenant.rules.process(
        str(opened.data["process_id"]), int(version) if version is not None else None, opened.time
    )
    if process is None:
        return {}
    completions = _completions(process, facts)
    marks: dict[str, StepMark] = {}
    for step in _in_dependency_order(process):
        start = _start_of(step, opened, completions)
        if start is None:
            continue
        unit = party_unit(step.lead, start, tenant.org)
        due = tenant.rules.calendars.deadline(start, step.due, step.counting, unit, tenant.org)
        leads = _leads(step, due, tenant.org)
        done = completions.get(step.step)
        on_time = done is not None and done.time <= due
        marks[step.step] = StepMark(due, leads[0] if leads else None, done, on_time)
        window = StepWindow(case_id, step, start, due, opened)
        assess_contributions(window, facts, tenant, watermark, result, flags, liable, pending)
        for employee in leads:
            result.obligations.append(Obligation(
                "step", case_id, employee, start, due, step=step.step,
                unit_id=tenant.org.unit_of(employee, start), done=done, cause=opened))
        if on_time:
            assert done is not None
            for employee in leads or ([done.actor_id] if done.actor_id else []):
                result.duties.append(
                    DutyFulfilled(
                        "step_on_time",
                        employee,
                        case_id,
                        (done,),
                        done.time,
                        step=step.step,
                        unit_id=tenant.org.unit_of(employee, done.time),
                    )
                )
            continue
        if done is None and (watermark is None or due > watermark):
            pending.append(due)
            continue
        _step_missed(case_id, step, due, leads, done, opened, tenant, result, flags, liable)
        climb(window, leads[0] if leads else None, done, tenant, watermark, result, pending)
    return marks


def _step_missed(
    case_id: str,
    step: Step,
    due: datetime,
    leads: list[str],
    done: Fact | None,
    opened: Fact,
    tenant: TenantView,
    result: CaseAssessment,
    flags: dict[str, list[str]],
    liable: dict[str, str],
) -> None:
    lead_unit = step.lead.get("unit_id") or (tenant.org.unit_of(leads[0], due) if leads else None)
    result.misses.append(
        DeadlineMissed(
            "step",
            case_id,
            due,
            step=step.step,
            owner_id=leads[0] if leads else None,
            unit_id=lead_unit,
            cause=done or opened,
        )
    )
    evidence = (opened, done) if done else (opened,)
    for employee in leads:
        result.liabilities.append(
            Liability(
                employee,
                "direct",
                "missed_deadline",
                case_id,
                evidence,
                due,
                tenant.org.unit_of(employee, due) or lead_unit,
                step=step.step,
            )
        )
    if done is not None:
        flags.setdefault(done.ref, []).append("missed_deadline")
        if leads:
            liable[done.ref] = leads[0]


def _completions(process: Process, facts: Sequence[Fact]) -> dict[str, Fact]:
    """The first completion of each step that carries its required outputs; one without
    them does not complete the step."""
    done: dict[str, Fact] = {}
    for fact in facts:
        if fact.type != "ledger.step.completed" or fact.step is None or fact.step in done:
            continue
        step = process.step(fact.step)
        outputs = fact.data.get("outputs") or {}
        if step is not None and all(name in outputs for name in step.required_outputs):
            done[fact.step] = fact
    return done


def _start_of(step: Step, opened: Fact, completions: dict[str, Fact]) -> datetime | None:
    if not step.after:
        return opened.time
    before = [completions.get(name) for name in step.after]
    if any(f is None for f in before):
        return None
    return max(f.time for f in before if f is not None)


def _in_dependency_order(process: Process) -> list[Step]:
    placed: list[Step] = []
    names: set[str] = set()
    remaining = list(process.steps)
    while remaining:
        ready = [s for s in remaining if all(a in names for a in s.after)]
        if not ready:  # a cycle or an unknown `after`: validation refuses these; be safe
            return placed
        for s in ready:
            placed.append(s)
            names.add(s.step)
            remaining.remove(s)
    return placed


def _leads(step: Step, when: datetime, org: OrgChart) -> list[str]:
    """Who answers for a step: the named employee, else the lead unit's head at that time,
    else the lead role's holders."""
    lead = step.lead
    if lead.get("employee_id"):
        return [lead["employee_id"]]
    if lead.get("unit_id"):
        head = org.head_of(lead["unit_id"], when)
        return [head] if head else []
    if lead.get("role"):
        return org.holders(lead["role"], when)
    return []


# --- inspections, incidents (5.5) and overrides (5.6) --------------------------------------


def _assess_inspections(
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
                inspection, item = related, _targets(related, tenant) or related
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


def _assess_overrides(
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
        target = _targets(fact, tenant)
        stopped: Fact | None = None
        if isinstance(target_id, str) and target_id in violations:
            target = stopped = violations[target_id].fact
        elif target is None:
            continue
        elif target.type == "ledger.operation.rejected" or (
            target.type == "ledger.inspection.recorded" and target.data.get("result") == "fail"
        ):
            stopped = _targets(target, tenant)
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


# --- the chain (5.8) ------------------------------------------------------------------


def _links(
    facts: Sequence[Fact],
    tenant: TenantView,
    marks: dict[str, StepMark],
    flags: dict[str, list[str]],
    liable: dict[str, str],
    misses: Sequence[DeadlineMissed],
    contributions: Sequence[ContributionMark] = (),
) -> list[Link]:
    links = []
    parts = {c.contribution.ref: c for c in contributions if c.contribution is not None}
    for fact in facts:
        mark = marks.get(fact.step) if fact.step else None
        on_time = None
        lead, due = (mark.lead, mark.due) if mark else (None, None)
        if mark is not None and fact.type in (
            "ledger.step.completed",
            "ledger.operation.submitted",
            "ledger.inspection.recorded",
        ):
            on_time = fact.time <= mark.due
        if (part := parts.get(fact.ref)) is not None:  # a contribution answers to its party
            lead = part.owners[0] if part.owners else None
            due, on_time = part.due, fact.time <= part.due
        links.append(
            Link(
                event_id=fact.event_id,
                ref=fact.ref,
                type=fact.type,
                at=fact.time,
                actor_id=fact.actor_id,
                unit_id=tenant.org.unit_of(fact.actor_id, fact.time),
                step=fact.step,
                expected_lead=lead,
                due=due,
                on_time=on_time,
                flags=tuple(dict.fromkeys(flags.get(fact.ref, ()))),
                liable_id=liable.get(fact.ref),
            )
        )
    given = {(c.step, c.party) for c in contributions if c.contribution is not None}
    for miss in misses:  # a step never completed has no link of its own: the miss is one
        if (
            miss.obligation == "step"
            and (mark := marks.get(miss.step or ""))
            and not mark.completed
        ) or (miss.obligation == "contribution" and (miss.step, miss.party) not in given):
            links.append(
                Link(
                    event_id=f"deadline.missed:{miss.key}",
                    ref="",
                    type="deadline.missed",
                    at=miss.due,
                    actor_id=None,
                    unit_id=miss.unit_id,
                    step=miss.step,
                    expected_lead=miss.owner_id,
                    due=miss.due,
                    on_time=False,
                    flags=(
                        "missed_contribution"
                        if miss.obligation == "contribution"
                        else "missed_deadline",
                    ),
                    liable_id=miss.owner_id,
                )
            )
    links.sort(key=lambda link: (link.at, link.ref, link.event_id))
    return links


#: Failures dated by the deadline they missed, not by the late act that shows them.
MISSED_FLAGS = frozenset({"missed_deadline", "missed_contribution"})


def _source(links: Sequence[Link]) -> Source | None:
    """The link that failed first: a missed deadline fails at its due time, so a lead held
    up by a contribution that was due earlier is seen to be, whenever that came."""
    first: tuple[datetime, int] | None = None
    found: Source | None = None
    for position, link in enumerate(links):
        failed = [flag for flag in FAILURE_FLAGS if flag in link.flags]
        if not failed:
            continue
        when = link.at
        if link.due is not None and MISSED_FLAGS & set(failed):
            when = min(when, link.due)
        if first is None or (when, position) < first:
            first = (when, position)
            employee = link.liable_id or link.actor_id
            found = Source(link.event_id, employee, link.unit_id, failed[0])
    return found
