"""Assessments as the JSON documents of the chain query (docs/domain-rules.md, Queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    ContributionMark,
    Link,
    ObligationEscalated,
)


def link_document(link: Link) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": link.event_id,
        "type": link.type,
        "actor_id": link.actor_id,
        "unit_id": link.unit_id,
        "at": link.at.isoformat(),
        "flags": list(link.flags),
    }
    if link.ref:
        doc["event_ref"] = link.ref
    if link.step is not None:
        doc["step"] = link.step
    if link.expected_lead is not None:
        doc["expected_lead"] = link.expected_lead
    if link.due is not None:
        doc["due"] = link.due.isoformat()
    if link.on_time is not None:
        doc["on_time"] = link.on_time
    return doc


def chain_document(
    assessment: CaseAssessment, liabilities: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """`GET /v1/cases/{case_id}/chain`: links in business-time order, the responsibility
    source (the earliest failed link) and the case's liabilities as the ledger records them
    (corrected ones included and marked)."""
    source = assessment.source
    return {
        "case_id": assessment.case_id,
        "links": [link_document(link) for link in assessment.links],
        "responsibility_source": None
        if source is None
        else {
            "event_id": source.event_id,
            "employee_id": source.employee_id,
            "unit_id": source.unit_id,
            "reason": source.reason,
        },
        "liabilities": list(liabilities),
        "escalations": [_escalation_document(e) for e in assessment.escalations],
        "contributions": [_contribution_document(c) for c in assessment.contributions],
    }


def _escalation_document(e: ObligationEscalated) -> dict[str, Any]:
    """One hand-over up the supervisor line: the review or step path of the case."""
    doc: dict[str, Any] = {
        "obligation": e.obligation,
        "from_id": e.from_id,
        "to_id": e.to_id,
        "at": e.at.isoformat(),
        "due": e.review_due.isoformat(),
    }
    if e.obligation == "step":
        doc["step"] = e.step
    else:
        doc["violation_id"] = e.violation_id
    return doc


def _contribution_document(c: ContributionMark) -> dict[str, Any]:
    """A cooperating party's part in a step: who answers, when due, what came."""
    return {
        "step": c.step,
        "party": c.party,
        "owner_ids": list(c.owners),
        "unit_id": c.unit_id,
        "due": c.due.isoformat(),
        "event_id": c.contribution.event_id if c.contribution else None,
        "at": c.contribution.time.isoformat() if c.contribution else None,
        "on_time": c.on_time,
    }
