"""Verdicts into derived events, and corrections when they change (docs/domain-rules.md,
Derived entries).

Each derived event's id is `<type>:<key>:<digest>`: the same conclusion always gives the
same event (so re-deriving is a harmless duplicate), a changed conclusion a new one.
A liability that no longer follows from the facts is corrected, never deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ledger.domain.catalog import (
    APPEAL_JUDGED,
    DEADLINE_MISSED,
    DUTY_FULFILLED,
    LIABILITY_ASSIGNED,
    LIABILITY_CORRECTED,
    OBLIGATION_ESCALATED,
    VIOLATION_FLAGGED,
)
from ledger.domain.envelope import content_digest
from ledger.domain.responsibility.emitted import CaseEmitted, Emitted, digest_of, key_of
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.verdicts import (
    CaseAssessment,
    Liability,
    ObligationEscalated,
    short_hash,
)

ENGINE_SOURCE = "ledger/engine"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _envelope(
    tenant: str,
    type_: str,
    key: str,
    at: datetime,
    case_id: str,
    data: dict[str, Any],
    cause: Fact | None,
) -> dict[str, Any]:
    digest = content_digest(data)[:16]
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"{type_}:{short_hash(key)}:{digest}",
        "source": ENGINE_SOURCE,
        "type": type_,
        "time": _iso(at),
        "tenant": tenant,
        "subject": case_id,
        "data": data,
    }
    if cause is not None and cause.traceparent:
        envelope["traceparent"] = cause.traceparent
    return envelope


def _ids(facts: Iterable[Fact]) -> list[str]:
    return [f.event_id for f in facts]


def _refs(facts: Iterable[Fact]) -> list[str]:
    return [f.ref for f in facts]


def liability_data(liability: Liability) -> dict[str, Any]:
    data: dict[str, Any] = {
        "liability_id": liability.liability_id,
        "employee_id": liability.employee_id,
        "kind": liability.kind,
        "basis": liability.basis,
        "case_id": liability.case_id,
        "event_ids": _ids(liability.facts),
        "event_refs": _refs(liability.facts),
        "at": _iso(liability.at),
        "claim": liability.claim,
    }
    for name in ("unit_id", "role", "violation_id", "step", "severity"):
        value = getattr(liability, name)
        if value is not None:
            data[name] = value
    data["roles"] = list(liability.roles)
    return data


def _escalation(e: ObligationEscalated) -> dict[str, Any]:
    if e.obligation == "step":
        return {
            "obligation": "step",
            "case_id": e.case_id,
            "step": e.step,
            "from_id": e.from_id,
            "to_id": e.to_id,
            "due": _iso(e.review_due),
        }
    return {
        "violation_id": e.violation_id,
        "from_id": e.from_id,
        "to_id": e.to_id,
        "review_due": _iso(e.review_due),
    }


def assessment_events(tenant: str, a: CaseAssessment) -> list[dict[str, Any]]:
    """Every derived event that the assessment of one case implies, in business-time order."""
    out: list[dict[str, Any]] = []
    for v in a.violations:
        out.append(
            _envelope(
                tenant,
                VIOLATION_FLAGGED,
                v.violation_id,
                v.fact.time,
                a.case_id,
                {
                    "violation_id": v.violation_id,
                    "event_id": v.fact.event_id,
                    "event_ref": v.fact.ref,
                    "employee_id": v.employee_id,
                    "policy_id": v.policy_id,
                    "policy_version": v.policy_version,
                    "severity": v.severity,
                    "supervisor_id": v.supervisor_id,
                    "review_due": _iso(v.review_due),
                    "reason": v.reason,
                },
                v.fact,
            )
        )
    for m in a.misses:
        data: dict[str, Any] = {
            "obligation": m.obligation,
            "case_id": m.case_id,
            "due": _iso(m.due),
        }
        for name in ("step", "violation_id", "owner_id", "unit_id", "party"):
            if getattr(m, name) is not None:
                data[name] = getattr(m, name)
        out.append(_envelope(tenant, DEADLINE_MISSED, m.key, m.due, a.case_id, data, m.cause))
    for e in a.escalations:
        out.append(
            _envelope(tenant, OBLIGATION_ESCALATED, e.key, e.at, a.case_id, _escalation(e), e.cause)
        )
    for li in a.liabilities:
        out.append(
            _envelope(
                tenant,
                LIABILITY_ASSIGNED,
                li.liability_id,
                li.at,
                a.case_id,
                liability_data(li),
                li.facts[0],
            )
        )
    for d in a.duties:
        duty: dict[str, Any] = {
            "duty": d.duty,
            "employee_id": d.employee_id,
            "case_id": d.case_id,
            "event_ids": _ids(d.facts),
            "event_refs": _refs(d.facts),
            "at": _iso(d.at),
        }
        if d.step is not None:
            duty["step"] = d.step
        if d.violation_id is not None:
            duty["violation_id"] = d.violation_id
        if d.unit_id is not None:
            duty["unit_id"] = d.unit_id
        out.append(_envelope(tenant, DUTY_FULFILLED, d.key, d.at, a.case_id, duty, d.facts[0]))
    out += notice_events(tenant, a) + appeal_events(tenant, a)
    out.sort(key=_derivation_order)
    return out


#: At one business time, an obligation is opened before it is due soon: the order a
#: batch derives in must be the order separate batches would (ids alone sort it last).
_CAUSAL_RANK = {"obligation.opened": 0, "obligation.due_soon": 1}


def _derivation_order(event: dict[str, Any]) -> tuple[datetime, int, str]:
    rank = _CAUSAL_RANK.get(str(event["type"]).removeprefix("ledger."), 2)
    return datetime.fromisoformat(event["time"]), rank, event["id"]


def notice_events(tenant: str, a: CaseAssessment) -> list[dict[str, Any]]:
    """`obligation.opened` / `.due_soon` / `.done` for every obligation of the case."""
    out = []
    for notice in a.notices:
        o = notice.obligation
        data: dict[str, Any] = {
            "obligation_id": o.obligation_id,
            "obligation": o.obligation,
            "case_id": o.case_id,
            "holder_id": o.holder_id,
            "opened_at": _iso(o.start),
            "due": _iso(o.due),
            "level": o.level,
        }
        for name in ("step", "violation_id", "unit_id", "party"):
            if getattr(o, name) is not None:
                data[name] = getattr(o, name)
        if notice.notice == "done" and o.done is not None:
            data["event_id"] = o.done.event_id
            data["event_ref"] = o.done.ref
        type_ = f"obligation.{notice.notice}"
        out.append(_envelope(tenant, type_, f"{type_}:{o.obligation_id}", notice.at,
                             a.case_id, data, o.cause))
    return out


def appeal_events(tenant: str, a: CaseAssessment) -> list[dict[str, Any]]:
    """`appeal.judged`: each appealed liability's history and status."""
    out = []
    for outcome in a.appeals:
        history = []
        for step in outcome.history:
            entry: dict[str, Any] = {
                "event_id": step.fact.event_id,
                "event_ref": step.fact.ref,
                "type": step.fact.type,
                "actor_id": step.fact.actor_id,
                "at": _iso(step.fact.time),
                "reason": step.fact.data.get("reason"),
                "effective": step.effective,
            }
            if step.fact.data.get("decision"):
                entry["decision"] = step.fact.data["decision"]
            if step.flag:
                entry["flag"] = step.flag
            history.append(entry)
        last = outcome.history[-1].fact
        out.append(_envelope(tenant, APPEAL_JUDGED, f"appeal:{outcome.liability_id}",
                             last.time, a.case_id, {
                                 "liability_id": outcome.liability_id,
                                 "case_id": outcome.case_id,
                                 "employee_id": outcome.employee_id,
                                 "status": outcome.status,
                                 "history": history,
                             }, last))
    return out


def _overturned(tenant: str, a: CaseAssessment, emitted: CaseEmitted) -> list[dict[str, Any]]:
    """`liability.corrected {reason: appeal_overturned}` for liabilities an appeal overturned."""
    out = []
    for outcome in a.appeals:
        if outcome.status != "overturned" or outcome.liability_id in emitted.corrected:
            continue
        decided = outcome.decided_by
        assert decided is not None
        data = emitted.correction({
            "liability_id": outcome.liability_id, "case_id": a.case_id,
            "reason": "appeal_overturned", "decided_by": decided.event_id,
            "decided_by_ref": decided.ref})
        out.append(_envelope(tenant, LIABILITY_CORRECTED, outcome.liability_id, decided.time,
                             a.case_id, data, decided))
    return out


def derive(
    tenant: str, assessment: CaseAssessment, emitted: Emitted, at: datetime
) -> list[dict[str, Any]]:
    """The derived events not yet in the ledger, plus corrections of liabilities that no
    longer follow from the facts (`at`: the business time of the news that changed them)."""
    wanted = assessment_events(tenant, assessment)
    said = emitted.of(assessment.case_id)
    new = [e for e in wanted if said.digests.get(key_of(e)) != digest_of(e)]
    new += _reinstated(wanted, new, assessment, said)
    for envelope in new:  # assignments first: one may put a corrected liability back
        if envelope["type"] == LIABILITY_ASSIGNED:
            said.observe(envelope)
    current = {li.liability_id: li for li in assessment.liabilities}
    by_claim = {li.claim: li.liability_id for li in assessment.liabilities}
    for liability_id, (claim, _employee) in sorted(said.liabilities.items()):
        if liability_id in current or liability_id in said.corrected:
            continue
        data: dict[str, Any] = {
            "liability_id": liability_id,
            "case_id": assessment.case_id,
            "reason": "later or corrected data no longer supports it",
        }
        if claim in by_claim:
            data["replaced_by"] = by_claim[claim]
            data["reason"] = "later or corrected data names someone else"
        new.append(
            _envelope(
                tenant, LIABILITY_CORRECTED, liability_id, at, assessment.case_id,
                said.correction(data), None
            )
        )
    new += _overturned(tenant, assessment, said)
    for envelope in new:
        if envelope["type"] != LIABILITY_ASSIGNED:
            said.observe(envelope)
    return new


def _reinstated(
    wanted: list[dict[str, Any]], new: list[dict[str, Any]], a: CaseAssessment,
    emitted: CaseEmitted,
) -> list[dict[str, Any]]:
    """Liabilities corrected before that the facts support again (a late revocation after
    a late grant), unchanged: assigned again, naming the correction they reverse. One an
    appeal overturned stays corrected."""
    overturned = {o.liability_id for o in a.appeals if o.status == "overturned"}
    fresh = {key_of(e) for e in new}
    out = []
    for envelope in wanted:
        data = envelope["data"]
        liability_id = data.get("liability_id")
        if envelope["type"] != LIABILITY_ASSIGNED or key_of(envelope) in fresh \
                or liability_id not in emitted.corrected or liability_id in overturned:
            continue
        again = {**data, "reinstates": emitted.corrected[liability_id]}
        type_, key = key_of(envelope)
        out.append({**envelope, "id": f"{type_}:{key}:{content_digest(again)[:16]}",
                    "data": again})
    return out
