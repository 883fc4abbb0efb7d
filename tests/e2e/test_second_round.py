"""docs/domain-rules.md, Business calendars, Step escalation, Lead and cooperating parties:
one field scenario each, through the public ingest path and the engine, on SQLite and on
the real PostgreSQL."""

from __future__ import annotations

from typing import Any

from ledger.application.recording import Ledger
from ledger.domain.responsibility.documents import chain_document
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.tenant import TenantFacts
from tests.support.envelopes import TENANT
from tests.support.scenario import LATENESS, Scenario, act, event, tick
from tests.support.second_round import (
    CLIMB,
    HOLIDAY_RETURN,
    HOLIDAY_REVIEW_DUE,
    LATE_PART,
    assign_calendar,
    calendar,
)


def chain(scenario: Scenario, case_id: str) -> dict[str, Any]:
    """The case's chain document, from the ledger's inbound events as the projection
    builds it."""
    model = TenantFacts(TENANT, LATENESS)
    for entry in scenario.ledger.store.iter_entries(TENANT):
        if entry.kind != "derived":
            model.add(Fact.from_envelope(entry.envelope))
    return chain_document(model.assess(case_id, model.watermark))


# --- business calendars ---------------------------------------------------------------


def test_a_review_counted_in_business_days_skips_the_national_holiday(ledger: Ledger) -> None:
    store = Scenario(ledger).send(*HOLIDAY_RETURN)
    (flagged,) = store.derived("violation.flagged")
    assert flagged["data"]["review_due"] == HOLIDAY_REVIEW_DUE
    store.send(tick("2026-10-07T23:00:00+08:00"))
    assert store.derived("deadline.missed") == [], "the holiday week is not Zhang's to lose"
    store.send(tick("2026-10-08T10:10:00+08:00"))
    (missed,) = store.derived("deadline.missed")
    assert (missed["data"]["owner_id"], missed["data"]["due"]) == ("e-zhang", HOLIDAY_REVIEW_DUE)
    assert ("e-zhang", "supervisor", "review_missed") in store.active_liabilities()


def test_a_calendar_that_arrives_late_corrects_what_the_fallback_week_concluded(
    ledger: Ledger,
) -> None:
    without = [e for e in HOLIDAY_RETURN if e["type"] not in (
        "ledger.calendar.defined", "ledger.calendar.assigned")]
    store = Scenario(ledger).send(*without, tick("2026-10-05T00:00:00+08:00"))
    # Mon-Fri fallback: due Thursday 1 October, missed by the 5th
    assert ("e-zhang", "supervisor", "review_missed") in store.active_liabilities()
    store.send(calendar(), assign_calendar("hq"))
    assert ("e-zhang", "supervisor", "review_missed") not in store.active_liabilities()
    (correction,) = store.corrections()
    assert "no longer supports" in correction["reason"]


def test_the_contract_example_step_due_in_three_business_days(ledger: Ledger) -> None:
    process = event("process-ship-v1", "ledger.process.defined", "2026-01-01T00:00:00+08:00", {
        "process_id": "ship", "version": 1,
        "steps": [{"step": "pack", "title": "Pack", "lead": {"employee_id": "e-li"},
                   "due": "P3D", "counting": "business"}],
    })
    store = Scenario(ledger).send(
        *HOLIDAY_RETURN[:8], calendar(), assign_calendar(), process,
        act("SH-1-open", "ledger.case.opened", "SH-1", "2026-09-24T15:00:00+08:00",
            title="Ship", opened_by="e-li", process_id="ship"),
        tick("2026-09-28T15:10:00+08:00"),
    )
    (missed,) = store.derived("deadline.missed")
    assert missed["data"]["due"] == "2026-09-28T15:00:00+08:00"


# --- step escalation --------------------------------------------------------------------


def test_a_missed_step_climbs_two_levels_and_each_ignoring_supervisor_answers(
    ledger: Ledger,
) -> None:
    returns = Scenario(ledger).send(*CLIMB)
    escalated = [e["data"] for e in returns.derived("obligation.escalated")]
    shape = [(e["obligation"], e["step"], e["from_id"], e["to_id"], e["due"]) for e in escalated]
    assert shape == [
        ("step", "inspect", "e-li", "e-zhang", "2026-03-03T18:00:00+08:00"),
        ("step", "inspect", "e-zhang", "e-boss", "2026-03-04T02:00:00+08:00"),
    ]
    assert returns.active_liabilities() == {
        ("e-li", "direct", "missed_deadline"),
        ("e-zhang", "supervisor", "escalation_ignored"),
        ("e-boss", "supervisor", "escalation_ignored"),
    }
    path = chain(returns, "RT-1")["escalations"]
    assert [(e["from_id"], e["to_id"]) for e in path] == [
        ("e-li", "e-zhang"), ("e-zhang", "e-boss")]


def test_completing_the_step_ends_the_climb_but_what_was_missed_stays_missed(
    ledger: Ledger,
) -> None:
    done = act("RT-1-inspected", "ledger.step.completed", "RT-1", "2026-03-03T15:00:00+08:00",
               step="inspect", actor_id="e-li")
    returns = Scenario(ledger).send(*CLIMB, done)
    assert len(returns.derived("obligation.escalated")) == 1
    assert returns.active_liabilities() == {("e-li", "direct", "missed_deadline")}


# --- lead and cooperating parties -------------------------------------------------------


def test_a_late_cooperating_part_makes_its_unit_liable_and_the_source_of_the_late_launch(
    ledger: Ledger,
) -> None:
    launch = Scenario(ledger).send(*LATE_PART)
    contribution = [
        e["data"] for e in launch.derived("deadline.missed")
        if e["data"]["obligation"] == "contribution"
    ]
    assert [(m["step"], m["party"], m["owner_id"], m["due"]) for m in contribution] == [
        ("research", "unit:data", "e-qin", "2026-03-05T09:00:00+08:00")
    ]
    assert launch.active_liabilities() == {
        ("e-qin", "cooperating", "missed_contribution"),
        ("e-zhao", "direct", "missed_deadline"),
    }
    document = chain(launch, "LAUNCH-2")
    source = document["responsibility_source"]
    assert source == {"event_id": "L2-part-2", "employee_id": "e-qin", "unit_id": "data",
                      "reason": "missed_contribution"}
    (part,) = document["contributions"]
    assert (part["party"], part["event_id"], part["on_time"]) == ("unit:data", "L2-part-2", False)


def test_a_part_never_given_is_a_link_of_its_own_at_its_due_time(ledger: Ledger) -> None:
    never = [e for e in LATE_PART if e["id"] != "L2-part-2"]
    launch = Scenario(ledger).send(*never)
    document = chain(launch, "LAUNCH-2")
    source = document["responsibility_source"]
    assert source["reason"] == "missed_contribution"
    assert source["employee_id"] == "e-qin"
    assert ("e-qin", "cooperating", "missed_contribution") in launch.active_liabilities()


def test_a_part_on_time_from_a_member_of_the_unit_counts_for_the_unit(ledger: Ledger) -> None:
    timely = [
        {**e, "time": "2026-03-04T18:00:00+08:00"} if e["id"] == "L2-part-2" else e
        for e in LATE_PART
    ]
    launch = Scenario(ledger).send(*timely)
    assert launch.active_liabilities() == {("e-zhao", "direct", "missed_deadline")}
    source = chain(launch, "LAUNCH-2")["responsibility_source"]
    assert source["reason"] == "missed_deadline"
