"""What a case's assessment may consult beyond its own facts: the tenant's view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from ledger.domain.responsibility import obligations, policy_check
from ledger.domain.responsibility.appeals import Appeals
from ledger.domain.responsibility.facts import Fact, FactIndex
from ledger.domain.responsibility.org import OrgChart, RuleBook
from ledger.domain.responsibility.powers import Powers
from ledger.domain.responsibility.rules import RuleEvaluator


@dataclass(slots=True)
class TenantView:
    """What a case's assessment may consult beyond its own facts."""

    org: OrgChart = field(default_factory=OrgChart)
    rules: RuleBook = field(default_factory=RuleBook)
    index: FactIndex = field(default_factory=FactIndex)
    #: Runs policy rules; the composition root gives real processes an isolated one.
    evaluator: RuleEvaluator = policy_check.IN_PROCESS
    #: Role definitions and grants over time (who may approve, who answers for what).
    powers: Powers = field(default_factory=Powers)
    appeals: Appeals = field(default_factory=Appeals)
    #: How long before a due time an obligation is announced as due soon.
    reminder_lead: timedelta = obligations.DEFAULT_LEAD


def targets(fact: Fact, tenant: TenantView, field_name: str = "target_id") -> Fact | None:
    return tenant.index.resolve(fact.data.get(field_name))
