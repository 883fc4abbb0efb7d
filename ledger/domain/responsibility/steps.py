"""Step deadlines (docs/domain-rules.md, Semantics: step deadlines): who led a step, when it
was due, and what missing it gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger.domain.responsibility.cooperation import (
    StepWindow,
    answerable,
    assess_contributions,
    party_unit,
)
from ledger.domain.responsibility.escalation import climb
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.org import Process, Step
from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    DeadlineMissed,
    DutyFulfilled,
    Liability,
    Obligation,
)
from ledger.domain.responsibility.view import TenantView

# --- step deadlines (5.4) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepMark:
    due: datetime
    lead: str | None
    completed: Fact | None
    on_time: bool | None


def assess_steps(
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
        leads = answerable(step.lead, due, tenant.org)
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
