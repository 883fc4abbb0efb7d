"""Writes the worked examples E1-E4 (docs/domain-rules.md, Worked examples) as JSON Lines
(examples/worked-examples.jsonl).

Kept as code so the fixture stays readable; the .jsonl it writes is committed and is
what `make demo` and the tests load. Run from the repository root:
`python -m examples.make_worked_examples`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.support.envelopes import make_envelope

TENANT = "acme"


def ev(
    eid: str,
    type_: str,
    time: str,
    data: dict[str, Any],
    subject: str | None = None,
    source: str = "oa/hr",
) -> dict[str, Any]:
    return make_envelope(eid, type_, time, data, tenant=TENANT, source=source, subject=subject)


def org() -> list[dict[str, Any]]:
    t0 = "2026-01-01T00:00:00+08:00"
    units = [
        ("sales", "销售部 Sales", "e-zhang"),
        ("sales-2", "销售二部 Sales II", "e-wang"),
        ("market", "市场部 Market", "e-zhao"),
        ("product", "产品部 Product", "e-sun"),
        ("tech", "技术部 Tech", "e-zhou"),
        ("ops", "运营部 Ops", "e-chen"),
        ("plant", "工厂 Plant", "e-he"),
        ("qa", "质检部 QA", "e-feng"),
    ]
    out = [
        ev(f"unit-{u}", "ledger.org.unit.defined", t0, {"unit_id": u, "name": n, "head_id": h})
        for u, n, h in units
    ]
    people = [
        ("e-zhang", "张伟 Zhang Wei", "sales", None),
        ("e-wang", "王芳 Wang Fang", "sales-2", None),
        ("e-li", "李娜 Li Na", "sales", "e-zhang"),
        ("e-zhao", "赵磊 Zhao Lei", "market", None),
        ("e-sun", "孙丽 Sun Li", "product", None),
        ("e-zhou", "周杰 Zhou Jie", "tech", None),
        ("e-chen", "陈静 Chen Jing", "ops", None),
        ("e-he", "何明 He Ming", "plant", None),
        ("e-wu", "吴强 Wu Qiang", "plant", "e-he"),
        ("e-feng", "冯雪 Feng Xue", "qa", None),
        ("e-qian", "钱坤 Qian Kun", "qa", "e-feng"),
    ]
    for pid, name, unit, sup in people:
        data: dict[str, Any] = {"employee_id": pid, "name": name, "unit_id": unit}
        if sup:
            data["supervisor_id"] = sup
        out.append(ev(f"assign-{pid}-1", "ledger.org.employee.assigned", t0, data))
    return out


def e1() -> list[dict[str, Any]]:
    return [
        ev(
            "policy-return-window-v1",
            "ledger.policy.defined",
            "2026-02-01T00:00:00+08:00",
            {
                "policy_id": "return-window",
                "version": 1,
                "applies_to": "sales_order",
                "rule": "payload.return_days <= 3",
                "severity": "major",
                "review_within": "PT24H",
                "description": "退货承诺不超过3天 Return promise at most 3 days",
            },
            source="oa/policy",
        ),
        ev(
            "SO-1001-opened",
            "ledger.case.opened",
            "2026-03-02T09:55:00+08:00",
            {"title": "Sales order SO-1001", "opened_by": "e-li"},
            "SO-1001",
            "erp/orders",
        ),
        ev(
            "SO-1001-submitted",
            "ledger.operation.submitted",
            "2026-03-02T10:00:00+08:00",
            {"actor_id": "e-li", "operation": "sales_order", "payload": {"return_days": 7}},
            "SO-1001",
            "erp/orders",
        ),
    ]


def e2() -> list[dict[str, Any]]:
    steps = [
        {
            "step": "research",
            "title": "市场调研 Research",
            "lead": {"unit_id": "market"},
            "due": "P7D",
        },
        {
            "step": "prototype",
            "title": "原型 Prototype",
            "lead": {"unit_id": "product"},
            "after": ["research"],
            "due": "P5D",
        },
        {
            "step": "build",
            "title": "开发 Build",
            "lead": {"unit_id": "tech"},
            "after": ["prototype"],
            "due": "P10D",
        },
        {
            "step": "promote",
            "title": "推广 Promote",
            "lead": {"unit_id": "ops"},
            "after": ["build"],
            "due": "P3D",
            "required_outputs": ["campaign_plan"],
        },
    ]
    return [
        ev(
            "process-launch-v1",
            "ledger.process.defined",
            "2026-02-01T00:00:00+08:00",
            {"process_id": "launch", "version": 1, "steps": steps},
            source="oa/process",
        ),
        ev(
            "LAUNCH-1-opened",
            "ledger.case.opened",
            "2026-04-01T09:00:00+08:00",
            {
                "title": "新品上市 Product launch",
                "opened_by": "e-zhao",
                "process_id": "launch",
                "process_version": 1,
            },
            "LAUNCH-1",
            "oa/projects",
        ),
        ev(
            "LAUNCH-1-research-started",
            "ledger.step.started",
            "2026-04-01T10:00:00+08:00",
            {"step": "research", "actor_id": "e-zhao"},
            "LAUNCH-1",
            "oa/projects",
        ),
        ev(
            "LAUNCH-1-research-done",
            "ledger.step.completed",
            "2026-04-10T09:00:00+08:00",
            {"step": "research", "actor_id": "e-zhao", "outputs": {"report": "r-1"}},
            "LAUNCH-1",
            "oa/projects",
        ),
        ev(
            "LAUNCH-1-prototype-done",
            "ledger.step.completed",
            "2026-04-14T09:00:00+08:00",
            {"step": "prototype", "actor_id": "e-sun"},
            "LAUNCH-1",
            "oa/projects",
        ),
    ]


def e3() -> list[dict[str, Any]]:
    steps = [
        {
            "step": "produce",
            "title": "生产 Produce",
            "lead": {"employee_id": "e-wu"},
            "due": "PT8H",
        },
        {
            "step": "inspect",
            "title": "检验 Inspect",
            "lead": {"employee_id": "e-qian"},
            "after": ["produce"],
            "due": "PT4H",
        },
    ]
    return [
        ev(
            "process-batch-qc-v1",
            "ledger.process.defined",
            "2026-02-01T00:00:00+08:00",
            {"process_id": "batch-qc", "version": 1, "steps": steps},
            source="oa/process",
        ),
        ev(
            "B-77-opened",
            "ledger.case.opened",
            "2026-05-06T08:00:00+08:00",
            {
                "title": "批次 Batch B-77",
                "opened_by": "e-he",
                "process_id": "batch-qc",
                "process_version": 1,
            },
            "B-77",
            "mes/batches",
        ),
        ev(
            "B-77-production",
            "ledger.operation.submitted",
            "2026-05-06T12:00:00+08:00",
            {
                "actor_id": "e-wu",
                "operation": "production_record",
                "step": "produce",
                "payload": {"units": 500, "line": "L2"},
            },
            "B-77",
            "mes/batches",
        ),
        ev(
            "B-77-produced",
            "ledger.step.completed",
            "2026-05-06T12:05:00+08:00",
            {"step": "produce", "actor_id": "e-wu"},
            "B-77",
            "mes/batches",
        ),
        ev(
            "B-77-inspection",
            "ledger.inspection.recorded",
            "2026-05-06T14:00:00+08:00",
            {
                "actor_id": "e-qian",
                "result": "pass",
                "step": "inspect",
                "target_id": "B-77-production",
            },
            "B-77",
            "mes/qa",
        ),
        ev(
            "B-77-inspected",
            "ledger.step.completed",
            "2026-05-06T14:05:00+08:00",
            {"step": "inspect", "actor_id": "e-qian"},
            "B-77",
            "mes/qa",
        ),
        ev(
            "B-77-complaint",
            "ledger.incident.reported",
            "2026-05-20T16:00:00+08:00",
            {
                "description": "客户投诉：密封失效 Customer complaint: seal failure",
                "severity": "major",
                "related_ids": ["B-77-production"],
            },
            "B-77",
            "crm/complaints",
        ),
    ]


def e4() -> list[dict[str, Any]]:
    return [
        ev(
            "assign-e-li-2",
            "ledger.org.employee.assigned",
            "2026-03-10T09:00:00+08:00",
            {
                "employee_id": "e-li",
                "name": "李娜 Li Na",
                "unit_id": "sales-2",
                "supervisor_id": "e-wang",
            },
        ),
        ev(
            "SO-1005-opened",
            "ledger.case.opened",
            "2026-03-05T11:00:00+08:00",
            {"title": "Sales order SO-1005", "opened_by": "e-li"},
            "SO-1005",
            "erp/orders",
        ),
        ev(
            "SO-1005-submitted",
            "ledger.operation.submitted",
            "2026-03-05T11:30:00+08:00",
            {"actor_id": "e-li", "operation": "sales_order", "payload": {"return_days": 10}},
            "SO-1005",
            "erp/orders",
        ),
    ]


def main() -> None:
    events = org() + e1() + e2() + e3() + e4()
    out = Path(__file__).with_name("worked-examples.jsonl")
    out.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    print(f"wrote {len(events)} events to {out}")


if __name__ == "__main__":
    main()
