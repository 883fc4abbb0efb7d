"""The responsibility chain of a case and its source (docs/domain-rules.md, Semantics 8)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.steps import StepMark
from ledger.domain.responsibility.verdicts import (
    ContributionMark,
    DeadlineMissed,
    Link,
    Source,
)
from ledger.domain.responsibility.view import TenantView

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


# --- the chain (5.8) ------------------------------------------------------------------


def links(
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


def source(links: Sequence[Link]) -> Source | None:
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
