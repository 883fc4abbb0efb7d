"""Step escalation (docs/domain-rules.md, Step escalation): a missed step climbs to the
lead's supervisors in turn.

Level 1 is the lead alone. From level 2 on, each missed window hands the step to the
supervisor (as of the miss) of whoever held it, due `escalate_after` later (counted like
the step's own due, on the new holder's calendar). A holder whose window passes with the
step still not completed has missed it (`deadline.missed`, owner: that holder) and takes
`supervisor` liability `escalation_ignored`. Completing the
step ends the climb; what was missed before stays missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ledger.domain.responsibility.cooperation import StepWindow
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    DeadlineMissed,
    Liability,
    Obligation,
    ObligationEscalated,
)

if TYPE_CHECKING:
    from ledger.domain.responsibility.view import TenantView


def climb(
    window: StepWindow,
    lead: str | None,
    done: Fact | None,
    tenant: TenantView,
    watermark: datetime | None,
    result: CaseAssessment,
    pending: list[datetime],
) -> None:
    """Escalations and `escalation_ignored` liabilities of a step missed at `window.due`."""
    step, org = window.step, tenant.org
    if step.escalate_levels <= 1 or lead is None:
        return
    duration = step.escalate_after or step.due
    evidence = (window.opened, done) if done else (window.opened,)
    holder, missed_at = lead, window.due
    for level in range(2, step.escalate_levels + 1):
        successor = org.supervisor_of(holder, missed_at)
        if successor is None or successor == holder:
            return
        due = tenant.rules.calendars.deadline(
            missed_at, duration, step.counting, org.unit_of(successor, missed_at), org
        )
        result.escalations.append(
            ObligationEscalated(
                "",
                window.case_id,
                holder,
                successor,
                due,
                missed_at,
                done or window.opened,
                obligation="step",
                step=step.step,
            )
        )
        result.obligations.append(Obligation(
            "step", window.case_id, successor, missed_at, due, step=step.step,
            unit_id=org.unit_of(successor, missed_at), done=done, level=level,
            cause=window.opened))
        if done is not None and done.time <= due:
            return
        if done is None and (watermark is None or due > watermark):
            pending.append(due)
            return
        # The escalated obligation is missed like any other (8.7: every miss is announced),
        # also at the top of the climb, where nobody is left to hand it to.
        result.misses.append(DeadlineMissed(
            "step", window.case_id, due, step=step.step, owner_id=successor,
            unit_id=org.unit_of(successor, due), cause=done or window.opened))
        result.liabilities.append(
            Liability(
                successor,
                "supervisor",
                "escalation_ignored",
                window.case_id,
                evidence,
                due,
                org.unit_of(successor, due),
                step=step.step,
            )
        )
        holder, missed_at = successor, due
