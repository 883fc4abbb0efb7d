"""`rule_checks` names exactly the (rule, payload) pairs `assess_case` evaluates, so an
evaluator that evaluates them ahead (`prefetch`) leaves nothing to evaluate one by one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from ledger.domain.responsibility import policy_check
from ledger.domain.responsibility.assess import rule_checks
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.rules import RuleOutcome
from ledger.domain.responsibility.tenant import TenantFacts
from tests.support.scenario import LATENESS, SALES_ORG, act, policy, submit, tick
from tests.unit.test_responsibility_rules import worked_examples


class Recording:
    """Evaluates in process and writes down what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Mapping[str, Any]]] = []

    def evaluate(self, rule: str, payload: Mapping[str, Any]) -> RuleOutcome:
        self.asked.append((rule, payload))
        return policy_check.IN_PROCESS.evaluate(rule, payload)


def canonical(pairs: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    return sorted(json.dumps([rule, payload], sort_keys=True) for rule, payload in pairs)


def tenant_of(envelopes: list[dict[str, Any]]) -> TenantFacts:
    facts = TenantFacts("acme", LATENESS)
    for envelope in envelopes:
        facts.add(Fact.from_envelope(envelope))
    return facts


SECOND_ROUND = [
    *SALES_ORG, policy(), policy("payload.return_days <= 5", version=2,
                                 time="2026-03-02T12:00:00+08:00"),
    submit("s1", "SO-1", "2026-03-02T10:00:00+08:00", days=4),
    submit("s2", "SO-1", "2026-03-02T13:00:00+08:00", days=9),
    submit("s3", "SO-2", "2026-03-02T13:30:00+08:00", actor="e-wang", days=1),
    act("a1", "ledger.operation.approved", "SO-1", "2026-03-02T14:00:00+08:00",
        actor_id="e-zhang", target_id="s2"),
    tick("2026-03-05T00:00:00+08:00"),
]


@pytest.mark.parametrize("envelopes", [worked_examples(), SECOND_ROUND],
                         ids=["worked examples", "two policy versions"])
def test_rule_checks_are_the_evaluations_an_assessment_makes(
    envelopes: list[dict[str, Any]],
) -> None:
    tenant = tenant_of(envelopes)
    recording = Recording()
    tenant.view.evaluator = recording
    assert tenant.cases
    for case_id, facts in tenant.cases.items():
        recording.asked.clear()
        tenant.assess(case_id, tenant.watermark)

        assert canonical(rule_checks(facts, tenant.view)) == canonical(recording.asked)
    assert any(rule_checks(facts, tenant.view) for facts in tenant.cases.values())


def test_rule_checks_evaluate_nothing() -> None:
    tenant = tenant_of(SECOND_ROUND)
    recording = Recording()
    tenant.view.evaluator = recording

    assert len(rule_checks(tenant.cases["SO-1"], tenant.view)) == 2
    assert recording.asked == []
