"""Obligations and reminders (8.7), from the field: a manager's review queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.domain.responsibility.verdicts import obligation_key
from tests.support.scenario import LATENESS, SALES_ORG, Scenario, act, policy, submit, tick
from tests.support.second_round import CLIMB, LATE_PART

T0 = "2026-03-02T10:00:00+08:00"


@pytest.fixture
def sales(ledger: Ledger) -> Scenario:
    return Scenario(ledger).send(*SALES_ORG, policy(review_within="PT48H"))


def notices(scenario: Scenario, kind: str) -> list[tuple[str, str, str]]:
    return [(e["data"]["holder_id"], e["data"]["obligation"], e["time"])
            for e in scenario.derived(f"obligation.{kind}")]


def test_a_review_is_opened_then_due_soon_by_the_watermark_then_missed(sales: Scenario) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0))
    assert notices(sales, "opened") == [("e-zhang", "review", T0)]
    assert notices(sales, "due_soon") == []
    # 24 hours before the due time (plus the lateness), the watermark makes it due soon
    sales.send(tick("2026-03-03T10:06:00+08:00"))
    assert notices(sales, "due_soon") == [("e-zhang", "review", "2026-03-03T10:00:00+08:00")]
    sales.send(tick("2026-03-04T10:06:00+08:00"))
    missed = sales.derived("deadline.missed")
    assert [m["data"]["owner_id"] for m in missed] == ["e-zhang"]
    # announced once each, however often the engine looks again
    sales.send(tick("2026-03-05T10:06:00+08:00"))
    assert len(notices(sales, "opened")) == len(notices(sales, "due_soon")) == 1


def test_a_review_done_before_it_is_due_soon_is_never_announced_as_due_soon(
    sales: Scenario,
) -> None:
    sales.send(
        submit("SO-1001", "SO-1001", T0),
        act("rev", "ledger.violation.reviewed", "SO-1001", "2026-03-02T12:00:00+08:00",
            actor_id="e-zhang", violation_id="SO-1001", decision="upheld"),
        tick("2026-03-06T00:00:00+08:00"),
    )
    assert notices(sales, "due_soon") == []
    assert notices(sales, "done") == [("e-zhang", "review", "2026-03-02T12:00:00+08:00")]


def test_the_reminder_lead_time_is_the_engines_setting(ledger: Ledger) -> None:
    scenario = Scenario(ledger)
    scenario.engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock,
                                           reminder_lead=timedelta(hours=2))
    scenario.send(*SALES_ORG, policy(review_within="PT48H"), submit("SO-1001", "SO-1001", T0),
                  tick("2026-03-03T10:06:00+08:00"))
    assert notices(scenario, "due_soon") == []  # a day before: not yet, with 2 hours' lead
    scenario.send(tick("2026-03-04T08:06:00+08:00"))
    assert notices(scenario, "due_soon") == [("e-zhang", "review", "2026-03-04T08:00:00+08:00")]


def test_a_cooperating_partys_contribution_is_an_obligation_of_whoever_answers_for_it(
    ledger: Ledger,
) -> None:
    scenario = Scenario(ledger).send(*LATE_PART)
    contributions = [e["data"] for e in scenario.derived("obligation.opened")
                     if e["data"]["obligation"] == "contribution"]
    assert [(c["holder_id"], c["party"], c["due"]) for c in contributions] == [
        ("e-qin", "unit:data", "2026-03-05T09:00:00+08:00")]
    missed = [e["data"] for e in scenario.derived("deadline.missed")
              if e["data"]["obligation"] == "contribution"]
    assert obligation_key("contribution", "LAUNCH-2", "research", None, missed[0]["owner_id"],
                          missed[0]["party"]) == contributions[0]["obligation_id"]


def test_an_escalated_step_is_a_new_obligation_of_the_supervisor_it_climbed_to(
    ledger: Ledger,
) -> None:
    scenario = Scenario(ledger).send(*CLIMB)
    steps = [(e["data"]["holder_id"], e["data"]["level"]) for e in
             scenario.derived("obligation.opened") if e["data"]["obligation"] == "step"]
    assert steps == [("e-li", 1), ("e-zhang", 2), ("e-boss", 3)]


def test_each_ignored_escalation_is_missed_by_its_holder_up_to_the_top_of_the_climb(
    ledger: Ledger,
) -> None:
    from consumers.obligation_relay import reminder

    scenario = Scenario(ledger).send(*CLIMB)
    missed = [(m["owner_id"], m["due"]) for e in scenario.derived("deadline.missed")
              if (m := e["data"])["obligation"] == "step"]
    assert missed == [("e-li", "2026-03-03T10:00:00+08:00"),
                      ("e-zhang", "2026-03-03T18:00:00+08:00"),
                      ("e-boss", "2026-03-04T02:00:00+08:00")]  # the top of the climb
    opened = {e["data"]["holder_id"]: e["data"]["obligation_id"]
              for e in scenario.derived("obligation.opened")}
    told = [found for e in ledger.store.iter_entries(scenario.derived()[0]["tenant"])
            if (found := reminder(e)) and found[1]["type"] == "ledger.obligation.missed"]
    assert [(holder, event["data"]["obligation_id"]) for holder, event in told] == [
        (holder, opened[holder]) for holder in ("e-li", "e-zhang", "e-boss")]
