"""Lead and cooperating parties (docs/domain-rules.md, Lead and cooperating parties):
each cooperating party of a step owes a complete contribution by its own due time.

A `ledger.step.contributed` counts for a party when its actor was that party at the
contribution's time: the named employee, a member of the unit (or of a unit below it),
or a holder of the role. A party with no complete contribution by its due gives
`deadline.missed {obligation: contribution}` and a `cooperating` liability
`missed_contribution` for whoever answers for the party at the due time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ledger.domain.catalog import STEP_CONTRIBUTED
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.org import Cooperating, OrgChart, Step
from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    ContributionMark,
    DeadlineMissed,
    Liability,
    Obligation,
)

if TYPE_CHECKING:
    from ledger.domain.responsibility.view import TenantView


def party_name(party: Mapping[str, str]) -> str:
    """`employee:e-li`, `unit:tech` or `role:qa`."""
    for kind in ("employee_id", "unit_id", "role"):
        if party.get(kind):
            return f"{kind.removesuffix('_id')}:{party[kind]}"
    return "nobody"


def answerable(party: Mapping[str, str], when: datetime, org: OrgChart) -> list[str]:
    """Who answers for a party at `when`: the named employee, else the unit's head, else
    the role's holders."""
    if party.get("employee_id"):
        return [party["employee_id"]]
    if party.get("unit_id"):
        head = org.head_of(party["unit_id"], when)
        return [head] if head else []
    if party.get("role"):
        return org.holders(party["role"], when)
    return []


def party_unit(party: Mapping[str, str], when: datetime, org: OrgChart) -> str | None:
    """The unit whose calendar a party's count runs on: the named unit, else the unit of
    the (first) person answering for it at `when`."""
    if party.get("unit_id"):
        return party["unit_id"]
    people = answerable(party, when, org)
    return org.unit_of(people[0], when) if people else None


def counts_for(party: Mapping[str, str], actor: str | None, when: datetime, org: OrgChart) -> bool:
    if actor is None:
        return False
    if party.get("employee_id"):
        return actor == party["employee_id"]
    if party.get("unit_id"):
        unit = org.unit_of(actor, when)
        return unit is not None and unit in org.subtree(party["unit_id"], when)
    if party.get("role"):
        return actor in org.holders(party["role"], when)
    return False


@dataclass(frozen=True, slots=True)
class StepWindow:
    """A started step: when its count began and when the lead's part is due."""

    case_id: str
    step: Step
    start: datetime
    due: datetime
    opened: Fact


def assess_contributions(
    window: StepWindow,
    facts: Sequence[Fact],
    tenant: TenantView,
    watermark: datetime | None,
    result: CaseAssessment,
    flags: dict[str, list[str]],
    liable: dict[str, str],
    pending: list[datetime],
) -> None:
    """Marks, misses and liabilities of every cooperating party of one started step."""
    for cooperating in window.step.cooperating:
        _one_party(window, cooperating, facts, tenant, watermark, result, flags, liable, pending)


def _one_party(
    window: StepWindow,
    cooperating: Cooperating,
    facts: Sequence[Fact],
    tenant: TenantView,
    watermark: datetime | None,
    result: CaseAssessment,
    flags: dict[str, list[str]],
    liable: dict[str, str],
    pending: list[datetime],
) -> None:
    org, party = tenant.org, cooperating.party
    unit = party_unit(party, window.start, org)
    due = window.due
    if cooperating.due is not None:
        due = tenant.rules.calendars.deadline(
            window.start, cooperating.due, cooperating.counting, unit, org
        )
    owners = tuple(answerable(party, due, org))
    given = next(
        (
            f
            for f in facts
            if f.type == STEP_CONTRIBUTED
            and f.step == window.step.step
            and all(name in (f.data.get("outputs") or {}) for name in cooperating.outputs)
            and counts_for(party, f.actor_id, f.time, org)
        ),
        None,
    )
    on_time: bool | None = given is not None and given.time <= due
    if given is None and (watermark is None or due > watermark):
        on_time = None
        pending.append(due)
    name = party_name(party)
    result.contributions.append(
        ContributionMark(window.step.step, name, owners, unit, due, given, on_time)
    )
    for employee in owners:  # announced like any obligation (8.7)
        result.obligations.append(Obligation(
            "contribution", window.case_id, employee, window.start, due, step=window.step.step,
            unit_id=org.unit_of(employee, window.start) or unit, done=given,
            cause=window.opened, party=name))
    if on_time is not False:
        return
    result.misses.append(
        DeadlineMissed(
            "contribution",
            window.case_id,
            due,
            step=window.step.step,
            owner_id=owners[0] if owners else None,
            unit_id=unit,
            cause=given or window.opened,
            party=name,
        )
    )
    evidence = (window.opened, given) if given else (window.opened,)
    for employee in owners:
        result.liabilities.append(
            Liability(
                employee,
                "cooperating",
                "missed_contribution",
                window.case_id,
                evidence,
                due,
                org.unit_of(employee, due) or unit,
                step=window.step.step,
            )
        )
    if given is not None:
        flags.setdefault(given.ref, []).append("missed_contribution")
        if owners:
            liable[given.ref] = owners[0]
