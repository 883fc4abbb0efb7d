"""Example answers for the OpenAPI document, taken from worked example E1 (docs/domain-rules.md).

Kept apart from the routes so the routes stay readable; `ok(example)` turns one into the
`responses` entry of a route's success answer.
"""

from __future__ import annotations

from typing import Any

ENVELOPE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "so-1001-submitted",
    "source": "erp/orders",
    "type": "ledger.operation.submitted",
    "time": "2026-03-02T10:00:00+08:00",
    "tenant": "acme",
    "subject": "SO-1001",
    "data": {"actor_id": "e-li", "operation": "sales_order", "payload": {"return_days": 7}},
}

LIABILITY: dict[str, Any] = {
    "liability_id": "L-5d1f0c2a9b7e", "employee_id": "e-zhang", "kind": "supervisor",
    "basis": "review_missed", "case_id": "SO-1001", "unit_id": "sales", "role": None,
    "violation_id": "SO-1001-submitted", "step": None, "at": "2026-03-03T10:00:00+08:00",
    "event_ids": ["SO-1001-submitted"], "event_refs": ["erp/orders#SO-1001-submitted"],
    "position": 41, "corrected": False, "corrected_reason": None, "replaced_by": None,
    "corrected_at": None,
}

CHAIN: dict[str, Any] = {
    "case_id": "SO-1001",
    "links": [
        {"event_id": "SO-1001-opened", "type": "ledger.case.opened", "actor_id": "e-li",
         "unit_id": "sales", "at": "2026-03-02T09:55:00+08:00", "flags": []},
        {"event_id": "SO-1001-submitted", "type": "ledger.operation.submitted",
         "actor_id": "e-li", "unit_id": "sales", "at": "2026-03-02T10:00:00+08:00",
         "flags": ["violation"]},
    ],
    "responsibility_source": {"event_id": "SO-1001-submitted", "employee_id": "e-li",
                              "unit_id": "sales", "reason": "violation"},
    "liabilities": [LIABILITY],
}

VIOLATIONS: dict[str, Any] = {
    "items": [{
        "violation_id": "SO-1001-submitted", "case_id": "SO-1001",
        "event_id": "SO-1001-submitted", "event_ref": "erp/orders#SO-1001-submitted",
        "employee_id": "e-li", "supervisor_id": "e-zhang", "flagged_supervisor_id": "e-zhang",
        "unit_id": "sales", "severity": "major", "policy_id": "return-window",
        "policy_version": 1, "reason": "payload.return_days <= 3 does not hold",
        "at": "2026-03-02T10:00:00+08:00", "review_due": "2026-03-03T10:00:00+08:00",
        "status": "missed", "decision": None, "reviewed_by": None, "reviewed_at": None,
        "approved_by": None, "approved_at": None, "missed_due": "2026-03-03T10:00:00+08:00",
        "escalated_to": None, "escalated_at": None, "position": 38,
    }],
    "next_cursor": None,
}

LIABILITIES: dict[str, Any] = {"items": [LIABILITY], "next_cursor": "WyIyMDI2LTAzLTAzIiwiTCJd"}

UNIT_REPORT: dict[str, Any] = {
    "tenant": "acme", "from": "2026-03-01", "to": "2026-05-31",
    "units": [
        {"unit_id": "product", "name": "产品部 Product", "steps_due": 1, "steps_on_time": 1,
         "steps_overdue": 0, "violations": 0, "liabilities": 0, "completion_rate": 1.0,
         "rank": 1},
        {"unit_id": "market", "name": "市场部 Market", "steps_due": 1, "steps_on_time": 0,
         "steps_overdue": 1, "violations": 0, "liabilities": 1, "completion_rate": 0.0,
         "rank": 2},
    ],
}

UNIT_REPORT_CSV = ("rank,unit_id,name,steps_due,steps_on_time,steps_overdue,completion_rate,"
                   "violations,liabilities\r\n1,product,产品部 Product,1,1,0,1.0,0,0\r\n")

EVIDENCE: dict[str, Any] = {
    "tenant": "acme", "employee_id": "e-zhang", "name": "张伟 Zhang Wei", "unit_id": "sales",
    "from": "2026-03-01", "to": "2026-03-31", "generated_at": "2026-06-01T08:00:00+00:00",
    "liabilities": [{**LIABILITY, "status": "active"}],
    "positive_records": [],
    "events": [{"position": 22, "event_id": "SO-1001-submitted", "source": "erp/orders",
                "type": "ledger.operation.submitted", "time": "2026-03-02T10:00:00+08:00",
                "entry_hash": "9c1d…"}],
    "proofs": None,
}

EVIDENCE_CSV = ("record,employee_id,liability_id,kind,basis,case_id,at,status,...\r\n"
                "liability,e-zhang,L-5d1f0c2a9b7e,supervisor,review_missed,SO-1001,...\r\n")

EMPLOYEES: dict[str, Any] = {"items": [{
    "employee_id": "e-li", "name": "李娜 Li Na", "unit_id": "sales-2", "supervisor_id": "e-wang",
    "title": None, "departed": False, "since": "2026-03-10T09:00:00+08:00"}]}

CHECKPOINT: dict[str, Any] = {
    "format": "ledger-checkpoint/v1", "tenant": "acme", "tree_size": 1000,
    "root_hash": "5f2b…", "timestamp": "2026-03-02T02:00:00.000000Z",
    "key_id": "ed25519-3c0f9a7d21b4e655", "sequence": 1, "signature": "mC0t…",
}

PROOF: dict[str, Any] = {
    "format": "ledger-proofs/v1", "tenant": "acme",
    "algorithms": {"hash": "sha-256", "tree": "rfc9162", "signature": "ed25519"},
    "checkpoint": CHECKPOINT,
    "entries": [{"position": 22, "recorded_at": "2026-03-02T02:00:00.000000Z",
                 "kind": "inbound", "stream": "case:SO-1001", "envelope": ENVELOPE,
                 "digest": "a1b2…", "prev_hash": "0e4f…", "entry_hash": "9c1d…",
                 "leaf_hash": "77aa…", "inclusion_proof": ["c3d4…", "e5f6…"]}],
}

CONSISTENCY: dict[str, Any] = {
    "format": "ledger-consistency/v1", "tenant": "acme",
    "from": {**CHECKPOINT, "tree_size": 4, "sequence": 1},
    "to": {**CHECKPOINT, "tree_size": 12, "sequence": 3},
    "consistency_proof": ["1a2b…", "3c4d…"],
}

INGEST: dict[str, Any] = {
    "results": [{"index": 0, "status": "recorded", "id": "so-1001-submitted", "position": 22,
                 "reasons": []}],
    "counts": {"recorded": 1, "duplicate": 0, "rejected": 0},
}

INGEST_REFUSED: dict[str, Any] = {
    "type": "about:blank", "title": "Forbidden", "status": 403,
    "detail": "1 of 2 events name another tenant than the token's (acme); they were not "
              "recorded",
    "results": [
        {"index": 0, "status": "recorded", "id": "a", "position": 7, "reasons": []},
        {"index": 1, "status": "rejected", "id": "b", "reasons": [{
            "rule": "tenant_forbidden", "field": "tenant",
            "message": "event b: this token publishes for tenant 'acme' only, not 'globex'"}]},
    ],
    "counts": {"recorded": 1, "duplicate": 0, "rejected": 1},
}

INGEST_REJECTED: dict[str, Any] = {
    "type": "about:blank", "title": "Unprocessable Entity", "status": 422,
    "detail": "1 of 2 events were rejected; the others were recorded as their results say",
    "results": [
        {"index": 0, "status": "recorded", "id": "a", "position": 7, "reasons": []},
        {"index": 1, "status": "rejected", "id": "b", "reasons": [{
            "rule": "pattern", "field": "time", "message": "event b: time must carry an "
            "offset"}]},
    ],
    "counts": {"recorded": 1, "duplicate": 0, "rejected": 1},
}

TOKEN_ISSUED: dict[str, Any] = {
    "token": "lt_3f9a1c0b7d2e_q2V…", "token_id": "3f9a1c0b7d2e", "tenant": "acme",
    "role": "manager", "unit_id": "sales", "issued_at": "2026-03-02T02:00:00+00:00",
    "issued_by": "token:9be01c44d2a1",
}

TOKENS: dict[str, Any] = {"items": [{
    "token_id": "3f9a1c0b7d2e", "tenant": "acme", "role": "manager", "unit_id": "sales",
    "issued_at": "2026-03-02T02:00:00+00:00", "issued_by": "token:9be01c44d2a1",
    "active": True, "revoked_at": None, "revoked_by": None}]}

WHOAMI: dict[str, Any] = {"token_id": "3f9a1c0b7d2e", "tenant": "acme", "role": "manager",
                          "unit_id": "sales", "capabilities": ["read_chains",
                                                               "read_evidence"]}

EVIDENCE_READS: dict[str, Any] = {
    "items": [{"sequence": 1, "at": "2026-03-02T02:00:00+00:00", "token_id": "9be01c44d2a1",
               "role": "hr", "route": "/v1/employees/{employee_id}/evidence",
               "employee_id": "e-zhang", "format": "pdf", "from": "2026-03-01",
               "to": "2026-03-31", "query": "from=2026-03-01&to=2026-03-31&format=pdf"}],
    "next_after": None,
}


def ok(example: Any, description: str = "Successful answer.",
       media_type: str = "application/json") -> dict[str, Any]:
    """The `responses` entry of a success answer with its example."""
    return {"description": description, "content": {media_type: {"example": example}}}
