"""Writes the section 8 scenario (docs/domain-rules.md, section 8 of the contract) as JSON
Lines (examples/section-8.jsonl), on top of the worked examples' organisation.

- 8.1 a business calendar (Mainland China, Labour Day holidays, a make-up Sunday) as the
  tenant's default;
- 8.2 and 8.3 a rectification case FIX-1: its plan step (lead e-lin, escalating to e-zhou,
  counted in business days) is never completed, QA contributes in time and market never
  does;
- 8.4 an approval by someone whose approver role was revoked the day before (SO-2001);
- 8.6 a scoring scheme.

`make demo` loads it after the worked examples. Run from the repository root:
`python -m examples.make_section8_examples`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from examples.make_worked_examples import ev

OUT = Path(__file__).with_name("section-8.jsonl")


def organisation() -> list[dict[str, Any]]:
    t0 = "2026-01-01T00:00:00+08:00"
    return [
        ev("unit-hr", "ledger.org.unit.defined", t0,
           {"unit_id": "hr", "name": "人力资源部 HR", "head_id": "e-hr-chen"}),
        *[ev(f"assign-{pid}-1", "ledger.org.employee.assigned", t0, data) for pid, data in (
            ("e-hr-chen", {"employee_id": "e-hr-chen", "name": "陈红 Chen Hong", "unit_id": "hr"}),
            ("e-lin", {"employee_id": "e-lin", "name": "林涛 Lin Tao", "unit_id": "tech",
                       "supervisor_id": "e-zhou", "title": "工程师 Engineer"}),
            ("e-qin", {"employee_id": "e-qin", "name": "秦月 Qin Yue", "unit_id": "market",
                       "supervisor_id": "e-zhao"}),
        )],
    ]


def calendar() -> list[dict[str, Any]]:
    """8.1: working days Monday to Friday, 1-5 May off, Sunday 26 April a make-up day."""
    return [
        ev("cal-cn-2026-v1", "ledger.calendar.defined", "2026-01-01T00:00:00+08:00", {
            "calendar_id": "cn-mainland", "version": 1, "timezone": "Asia/Shanghai",
            "workweek": [1, 2, 3, 4, 5],
            "holidays": ["2026-05-01", "2026-05-04", "2026-05-05"],
            "workdays": ["2026-04-26"],
            "hours": {"start": "09:00", "end": "18:00"},
        }, source="hr/calendars"),
        ev("cal-default", "ledger.calendar.assigned", "2026-01-01T00:00:00+08:00",
           {"calendar_id": "cn-mainland"}, source="hr/calendars"),
    ]


def rectification() -> list[dict[str, Any]]:
    """8.2 and 8.3: the plan is led by e-lin, QA and market cooperate; nobody finishes it."""
    steps = [{
        "step": "plan", "title": "整改方案 Rectification plan",
        "lead": {"employee_id": "e-lin"}, "due": "P3D", "counting": "business",
        "escalate_levels": 2, "escalate_after": "P2D",
        "output_standard": ("方案写明根因、措施、责任人和完成日期 "
                            "Root cause, measures, owners, dates"),
        "cooperating": [
            {"unit_id": "qa", "due": "P2D", "counting": "business", "outputs": ["test_plan"]},
            {"unit_id": "market", "due": "P2D", "counting": "business",
             "outputs": ["customer_feedback"]},
        ],
    }]
    case = "FIX-1"
    return [
        ev("process-fix-v1", "ledger.process.defined", "2026-02-01T00:00:00+08:00",
           {"process_id": "fix", "version": 1, "steps": steps}, source="oa/process"),
        ev("FIX-1-opened", "ledger.case.opened", "2026-04-20T09:00:00+08:00",
           {"title": "投诉整改 Complaint rectification", "opened_by": "e-zhou",
            "process_id": "fix", "process_version": 1}, case, "oa/projects"),
        ev("FIX-1-plan-started", "ledger.step.started", "2026-04-20T09:30:00+08:00",
           {"step": "plan", "actor_id": "e-lin"}, case, "oa/projects"),
        ev("FIX-1-plan-qa", "ledger.step.contributed", "2026-04-21T16:00:00+08:00",
           {"step": "plan", "actor_id": "e-qian", "outputs": {"test_plan": "dms://qa/fix-1.docx"}},
           case, "oa/projects"),
    ]


def permission() -> list[dict[str, Any]]:
    """8.4: Zhang's discount-approver role is revoked on 14 April; he approves on the 15th."""
    return [
        ev("role-discount-approver", "ledger.access.role.defined", "2026-01-01T00:00:00+08:00",
           {"role": "discount-approver", "permissions": ["approve_discounts"],
            "responsibilities": ["discount_order"]}, source="oa/access"),
        ev("grant-zhang-discount", "ledger.access.role.granted", "2026-03-01T09:00:00+08:00",
           {"employee_id": "e-zhang", "role": "discount-approver"}, source="oa/access"),
        ev("revoke-zhang-discount", "ledger.access.role.revoked", "2026-04-14T09:00:00+08:00",
           {"employee_id": "e-zhang", "role": "discount-approver"}, source="oa/access"),
        ev("policy-discount-cap-v1", "ledger.policy.defined", "2026-02-01T00:00:00+08:00", {
            "policy_id": "discount-cap", "version": 1, "applies_to": "discount_order",
            "rule": "payload.discount_pct <= 20", "severity": "minor", "review_within": "PT24H",
            "approver_permission": "approve_discounts",
            "description": "折扣不超过20% Discount at most 20 percent",
        }, source="oa/policy"),
        ev("SO-2001-opened", "ledger.case.opened", "2026-04-15T09:50:00+08:00",
           {"title": "Discount order SO-2001", "opened_by": "e-li"}, "SO-2001", "erp/orders"),
        ev("SO-2001-submitted", "ledger.operation.submitted", "2026-04-15T10:00:00+08:00",
           {"actor_id": "e-li", "operation": "discount_order", "payload": {"discount_pct": 35}},
           "SO-2001", "erp/orders"),
        ev("SO-2001-approved", "ledger.operation.approved", "2026-04-15T15:00:00+08:00",
           {"actor_id": "e-zhang", "target_id": "SO-2001-submitted"},
           "SO-2001", "erp/orders"),
    ]


def scoring() -> list[dict[str, Any]]:
    """8.6: the appraisal scheme, and a late event that moves the watermark past the dues."""
    return [
        ev("scoring-kpi-v1", "ledger.scoring.defined", "2026-01-01T00:00:00+08:00", {
            "scheme_id": "kpi", "version": 1,
            "penalties": {"violated_policy": 5, "review_missed": 3, "missed_deadline": 2,
                          "approved_violation": 3, "passed_defect": 4,
                          "missed_contribution": 2, "escalation_ignored": 2,
                          "acted_without_permission": 4},
            "severity_factor": {"minor": 0.5, "major": 1, "critical": 2},
            "bonuses": {"step_on_time": 1, "review_done": 1},
        }, source="hr/appraisal"),
        ev("FIX-2-opened", "ledger.case.opened", "2026-05-11T09:00:00+08:00",
           {"title": "季度复盘 Quarterly review", "opened_by": "e-zhou"}, "FIX-2", "oa/projects"),
    ]


def build() -> list[dict[str, Any]]:
    return [*organisation(), *calendar(), *rectification(), *permission(), *scoring()]


def main() -> None:
    OUT.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in build()))


if __name__ == "__main__":
    main()
