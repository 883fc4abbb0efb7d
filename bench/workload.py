"""Realistic inbound events for benchmarks: an org chart, a policy, a process, and many
cases with submissions (some violating), approvals, reviews and step completions."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.envelopes import make_envelope

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def _env(
    eid: str,
    type_: str,
    at: datetime,
    data: dict[str, Any],
    tenant: str,
    subject: str | None = None,
    source: str = "erp/orders",
) -> dict[str, Any]:
    return make_envelope(eid, type_, at, data, tenant=tenant, source=source, subject=subject)


def org_events(tenant: str, units: int = 20, per_unit: int = 10) -> list[dict[str, Any]]:
    events = []
    for u in range(units):
        head = f"e-{u}-0"
        events.append(
            _env(
                f"unit-{u}",
                "ledger.org.unit.defined",
                START - timedelta(days=30),
                {"unit_id": f"u-{u}", "name": f"Unit {u}", "head_id": head},
                tenant,
                source="oa/hr",
            )
        )
        for p in range(per_unit):
            data = {"employee_id": f"e-{u}-{p}", "name": f"员工 {u}-{p}", "unit_id": f"u-{u}"}
            if p:
                data["supervisor_id"] = head
            events.append(
                _env(
                    f"assign-{u}-{p}",
                    "ledger.org.employee.assigned",
                    START - timedelta(days=30),
                    data,
                    tenant,
                    source="oa/hr",
                )
            )
    events.append(
        _env(
            "policy-1",
            "ledger.policy.defined",
            START - timedelta(days=10),
            {
                "policy_id": "return-window",
                "version": 1,
                "applies_to": "sales_order",
                "rule": "payload.return_days <= 3",
                "severity": "major",
            },
            tenant,
            source="oa/policy",
        )
    )
    events.append(
        _env(
            "process-1",
            "ledger.process.defined",
            START - timedelta(days=10),
            {
                "process_id": "order",
                "version": 1,
                "steps": [
                    {"step": "check", "title": "Check", "lead": {"unit_id": "u-0"}, "due": "PT8H"},
                    {
                        "step": "ship",
                        "title": "Ship",
                        "lead": {"unit_id": "u-1"},
                        "after": ["check"],
                        "due": "P2D",
                    },
                ],
            },
            tenant,
            source="oa/process",
        )
    )
    return events


def case_events(
    tenant: str, count: int, seed: int = 7, units: int = 20, per_unit: int = 10
) -> Iterator[dict[str, Any]]:
    """About 5 events per case, in business-time order per case, cases interleaved."""
    rng = random.Random(seed)
    produced = 0
    case = 0
    while produced < count:
        case += 1
        cid = f"SO-{case:07d}"
        at = START + timedelta(minutes=7 * case)
        u, p = rng.randrange(units), rng.randrange(1, per_unit)
        actor, head = f"e-{u}-{p}", f"e-{u}-0"
        batch = [
            _env(
                f"{cid}-open",
                "ledger.case.opened",
                at,
                {
                    "title": f"Order {cid}",
                    "opened_by": actor,
                    "process_id": "order",
                    "process_version": 1,
                },
                tenant,
                cid,
            ),
            _env(
                f"{cid}-submit",
                "ledger.operation.submitted",
                at + timedelta(minutes=5),
                {
                    "actor_id": actor,
                    "operation": "sales_order",
                    "payload": {
                        "return_days": rng.choice([1, 2, 3, 3, 7]),
                        "amount": rng.randrange(100, 99999),
                    },
                },
                tenant,
                cid,
            ),
            _env(
                f"{cid}-approve",
                "ledger.operation.approved",
                at + timedelta(minutes=50),
                {"actor_id": head, "target_id": f"{cid}-submit"},
                tenant,
                cid,
            ),
            _env(
                f"{cid}-check",
                "ledger.step.completed",
                at + timedelta(hours=rng.choice([1, 2, 9])),
                {"step": "check", "actor_id": "e-0-0"},
                tenant,
                cid,
            ),
            _env(
                f"{cid}-ship",
                "ledger.step.completed",
                at + timedelta(hours=rng.choice([20, 60])),
                {"step": "ship", "actor_id": "e-1-0"},
                tenant,
                cid,
            ),
        ]
        yield from batch[: count - produced]
        produced += len(batch)


def workload(tenant: str, count: int, seed: int = 7) -> list[dict[str, Any]]:
    org = org_events(tenant)
    return org + list(case_events(tenant, count - len(org), seed))
