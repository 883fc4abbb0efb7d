"""Appeals against liabilities (docs/domain-rules.md, Appeals).

A liability is appealed by its employee (or by HR for them) and decided by someone else:
a decision by an appellant or by the liable employee takes no effect and is flagged. The
first effective `overturned` decision (in business time) corrects the liability; a
correction is final, so a later decision does not bring it back. Appeals and decisions
may arrive in any order: the outcome depends only on which facts exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.verdicts import AppealOutcome, AppealStep, Liability

APPEALED = "ledger.liability.appealed"
DECIDED = "ledger.appeal.decided"
APPEAL_TYPES = frozenset({APPEALED, DECIDED})
SELF_DECISION = "self_decision"
NOT_APPEALED = "not_appealed"


class Appeals:
    """Appeals and decisions of a tenant, by the liability they name."""

    def __init__(self) -> None:
        self._by_liability: dict[str, dict[str, Fact]] = {}

    def add(self, fact: Fact) -> str:
        liability_id = str(fact.data["liability_id"])
        self._by_liability.setdefault(liability_id, {})[fact.ref] = fact
        return liability_id

    def of(self, liability_id: str) -> list[Fact]:
        facts = self._by_liability.get(liability_id, {}).values()
        return sorted(facts, key=lambda f: f.order)

    def appellants(self, liability_id: str) -> set[str]:
        return {str(f.actor_id) for f in self.of(liability_id) if f.type == APPEALED}


def self_decision(decider: str, appellants: Iterable[str], liable: str | None) -> bool:
    return decider in set(appellants) or decider == liable


def judge(liability: Liability, facts: list[Fact]) -> AppealOutcome | None:
    """The appeal history of one liability and its status; None without any appeal fact."""
    if not facts:
        return None
    appeals = [f for f in facts if f.type == APPEALED]
    appellants = {str(f.actor_id) for f in appeals}
    history: list[AppealStep] = []
    decided: Fact | None = None
    overturned: Fact | None = None
    for fact in facts:
        if fact.type == APPEALED:
            history.append(AppealStep(fact, True))
            continue
        if not appeals:
            history.append(AppealStep(fact, False, NOT_APPEALED))
        elif self_decision(str(fact.actor_id), appellants, liability.employee_id):
            history.append(AppealStep(fact, False, SELF_DECISION))
        else:
            history.append(AppealStep(fact, True))
            if overturned is None:
                decided = fact
                if fact.data.get("decision") == "overturned":
                    overturned = fact
    if overturned is not None:
        status, decided = "overturned", overturned
    elif decided is not None:
        status = str(decided.data.get("decision"))
    else:
        status = "appealed" if appeals else NOT_APPEALED
    return AppealOutcome(liability.liability_id, liability.case_id, liability.employee_id,
                         status, tuple(history), decided)


def judge_all(liabilities: Iterable[Liability], appeals: Appeals) -> list[AppealOutcome]:
    outcomes = []
    for liability in liabilities:
        outcome = judge(liability, appeals.of(liability.liability_id))
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes
