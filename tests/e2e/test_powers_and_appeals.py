"""Power and responsibility (有权必有责) and appeals (申诉), from the field, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.application.recording import Ledger
from tests.support.scenario import SALES_ORG, Scenario, act, event, policy, submit, tick

T0 = "2026-03-02T10:00:00+08:00"
PAST_DUE = "2026-03-03T10:10:00+08:00"
DAY_BEFORE = "2026-03-01T10:00:00+08:00"


def role(name: str, permissions: list[str], responsibilities: list[str]) -> dict[str, Any]:
    return event(f"role-{name}", "ledger.access.role.defined", "2026-01-01T00:00:00+08:00",
                 {"role": name, "permissions": permissions, "responsibilities": responsibilities})


def grant(employee: str, name: str, time: str = "2026-01-02T00:00:00+08:00",
          revoke: bool = False) -> dict[str, Any]:
    kind = "revoked" if revoke else "granted"
    return event(f"{kind}-{name}-{employee}-{time}", f"ledger.access.role.{kind}", time,
                 {"employee_id": employee, "role": name})


def approve(eid: str, target: str, actor: str, time: str) -> dict[str, Any]:
    return act(eid, "ledger.operation.approved", "SO-1001", time, actor_id=actor, target_id=target)


@pytest.fixture
def store(ledger: Ledger) -> Scenario:
    return Scenario(ledger).send(
        *SALES_ORG,
        role("store-manager", ["approve_returns"], ["sales_order"]),
        role("clerk", [], ["sales_order"]),
        grant("e-zhang", "store-manager"),
        grant("e-li", "clerk"),
        policy(approver_permission="approve_returns"),
    )


def test_an_approval_by_someone_whose_role_was_revoked_the_day_before_is_a_violation(
    store: Scenario,
) -> None:
    store.send(
        grant("e-zhang", "store-manager", DAY_BEFORE, revoke=True),
        submit("SO-1001", "SO-1001", T0),
        approve("ok", "SO-1001", "e-zhang", "2026-03-02T11:00:00+08:00"),
        tick(PAST_DUE),
    )
    flagged = {v["data"]["policy_id"] for v in store.derived("violation.flagged")}
    assert flagged == {"return-window", "@permission"}
    # the approval counts as no review: Zhang missed it, and acted without the permission
    assert store.active_liabilities() == {
        ("e-li", "direct", "violated_policy"),
        ("e-zhang", "direct", "acted_without_permission"),
        ("e-zhang", "supervisor", "review_missed"),
    }


def test_an_approval_by_a_holder_of_the_permission_is_an_ordinary_approval(
    store: Scenario,
) -> None:
    store.send(
        submit("SO-1001", "SO-1001", T0),
        approve("ok", "SO-1001", "e-zhang", "2026-03-02T11:00:00+08:00"),
        tick(PAST_DUE),
    )
    assert store.active_liabilities() == {
        ("e-li", "direct", "violated_policy"),
        ("e-zhang", "supervisor", "approved_violation"),
    }


def test_a_late_revocation_corrects_the_approval_verdict_without_rewriting(
    store: Scenario,
) -> None:
    store.send(
        submit("SO-1001", "SO-1001", T0),
        approve("ok", "SO-1001", "e-zhang", "2026-03-02T11:00:00+08:00"),
        tick(PAST_DUE),
    )
    before = {e["data"]["liability_id"] for e in store.derived("liability.assigned")}
    store.send(grant("e-zhang", "store-manager", DAY_BEFORE, revoke=True))
    corrected = {c["liability_id"] for c in store.corrections()}
    assert corrected and corrected <= before
    assert ("e-zhang", "direct", "acted_without_permission") in store.active_liabilities()


def test_every_liability_lists_the_roles_whose_responsibilities_it_falls_under(
    store: Scenario,
) -> None:
    store.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    roles = {(e["data"]["employee_id"], e["data"]["basis"]): e["data"]["roles"]
             for e in store.derived("liability.assigned")}
    assert roles[("e-li", "violated_policy")] == ["clerk"]
    assert roles[("e-zhang", "review_missed")] == ["store-manager"]


def _li_liability(scenario: Scenario) -> str:
    return next(e["data"]["liability_id"] for e in scenario.derived("liability.assigned")
                if e["data"]["basis"] == "violated_policy")


def appeal(liability_id: str, actor: str, time: str, eid: str = "appeal") -> dict[str, Any]:
    return event(eid, "ledger.liability.appealed", time,
                 {"liability_id": liability_id, "actor_id": actor, "reason": "approved in writing"},
                 source="hr/appeals")


def decide(liability_id: str, actor: str, decision: str, time: str,
           eid: str = "decision") -> dict[str, Any]:
    return event(eid, "ledger.appeal.decided", time,
                 {"liability_id": liability_id, "actor_id": actor, "decision": decision,
                  "reason": "checked"}, source="hr/appeals")


def test_an_overturned_appeal_corrects_the_liability_and_keeps_its_history(
    store: Scenario,
) -> None:
    store.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    liability = _li_liability(store)
    store.send(appeal(liability, "e-li", "2026-03-05T09:00:00+08:00"))
    judged = store.derived("appeal.judged")
    assert judged[-1]["data"]["status"] == "appealed"
    store.send(decide(liability, "e-hr", "overturned", "2026-03-06T09:00:00+08:00"))
    assert [c["reason"] for c in store.corrections() if c["liability_id"] == liability] == [
        "appeal_overturned"]
    history = store.derived("appeal.judged")[-1]["data"]
    assert history["status"] == "overturned"
    assert [h["type"] for h in history["history"]] == [
        "ledger.liability.appealed", "ledger.appeal.decided"]


def test_a_decision_by_the_appellant_is_of_no_effect_and_flagged(store: Scenario) -> None:
    store.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    liability = _li_liability(store)
    # the decision arrives before the appeal: admitted, then of no effect when they meet
    store.send(decide(liability, "e-li", "overturned", "2026-03-06T09:00:00+08:00"))
    store.send(appeal(liability, "e-li", "2026-03-05T09:00:00+08:00"))
    assert not [c for c in store.corrections() if c["liability_id"] == liability]
    last = store.derived("appeal.judged")[-1]["data"]
    assert last["status"] == "appealed"
    assert [h.get("flag") for h in last["history"]] == [None, "self_decision"]


def test_a_self_decision_on_a_recorded_appeal_is_rejected_at_ingest(store: Scenario) -> None:
    store.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    liability = _li_liability(store)
    store.send(appeal(liability, "e-li", "2026-03-05T09:00:00+08:00"))
    outcomes = store.ledger.record([decide(liability, "e-li", "overturned",
                                           "2026-03-06T09:00:00+08:00")])
    assert outcomes[0].status.value == "rejected"
    assert "self_decision" in str(outcomes[0])
