"""Assessments as the JSON documents of the chain query (docs/domain-rules.md, Queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.domain.responsibility.verdicts import CaseAssessment, Link


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
    }
