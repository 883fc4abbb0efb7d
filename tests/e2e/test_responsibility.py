"""docs/domain-rules.md, Semantics, rule by rule, through the public ingest path and the engine, on
SQLite and on the real PostgreSQL. Each test would fail if its rule were broken."""

from __future__ import annotations

import pytest

from ledger.application.recording import Ledger
from tests.support.scenario import (
    SALES_ORG,
    Scenario,
    act,
    assign,
    event,
    policy,
    submit,
    tick,
    unit,
)

T0 = "2026-03-02T10:00:00+08:00"
DUE = "2026-03-03T10:00:00+08:00"
PAST_DUE = "2026-03-03T10:10:00+08:00"  # beyond due + PT5M lateness


@pytest.fixture
def sales(ledger: Ledger) -> Scenario:
    return Scenario(ledger).send(*SALES_ORG, policy())


# --- 5.2 policy check at submission ---------------------------------------------------


def test_a_rule_that_does_not_hold_flags_a_violation_and_makes_the_actor_directly_liable(
    sales: Scenario,
) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0))
    (flagged,) = sales.derived("violation.flagged")
    assert flagged["data"]["employee_id"] == "e-li"
    assert flagged["data"]["supervisor_id"] == "e-zhang"
    assert flagged["data"]["review_due"] == DUE
    assert flagged["data"]["policy_version"] == 1
    assert sales.active_liabilities() == {("e-li", "direct", "violated_policy")}


def test_a_rule_that_holds_flags_nothing(sales: Scenario) -> None:
    sales.send(submit("SO-1", "SO-1", T0, days=2), tick(PAST_DUE))
    assert sales.derived("violation.flagged") == []
    assert sales.active_liabilities() == set()


def test_a_rule_that_errors_at_evaluation_counts_as_not_holding_and_says_why(
    sales: Scenario,
) -> None:
    broken = submit("SO-2", "SO-2", T0)
    broken["data"]["payload"] = {"days": 7}
    sales.send(broken)
    (flagged,) = sales.derived("violation.flagged")
    assert "return_days" in flagged["data"]["reason"]


def test_a_new_policy_version_applies_from_its_own_time(sales: Scenario) -> None:
    sales.send(policy("payload.return_days <= 7", version=2, time="2026-03-01T00:00:00+08:00"))
    sales.send(
        submit("before", "SO-3", "2026-02-28T10:00:00+08:00", days=5),
        submit("after", "SO-4", "2026-03-01T00:00:00+08:00", days=7),
    )
    flagged = sales.derived("violation.flagged")
    assert [f["data"]["event_id"] for f in flagged] == ["before"]
    assert flagged[0]["data"]["policy_version"] == 1


# --- 5.3 supervisor duty --------------------------------------------------------------


def test_missed_review_makes_supervisor_liable(sales: Scenario) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    (missed,) = sales.derived("deadline.missed")
    assert missed["data"]["obligation"] == "review"
    assert missed["data"]["owner_id"] == "e-zhang"
    assert missed["data"]["due"] == DUE
    assert sales.active_liabilities() == {
        ("e-li", "direct", "violated_policy"),
        ("e-zhang", "supervisor", "review_missed"),
    }


def test_a_review_is_not_judged_missed_before_the_watermark_passes_its_due_time(
    sales: Scenario,
) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0), tick("2026-03-03T10:03:00+08:00"))
    assert sales.derived("deadline.missed") == []


def test_approving_a_violation_makes_the_supervisor_liable_for_approving_it(
    sales: Scenario,
) -> None:
    sales.send(
        submit("SO-1001", "SO-1001", T0),
        act(
            "ok",
            "ledger.operation.approved",
            "SO-1001",
            "2026-03-02T11:00:00+08:00",
            actor_id="e-zhang",
            target_id="SO-1001",
        ),
        tick(PAST_DUE),
    )
    assert sales.active_liabilities() == {
        ("e-li", "direct", "violated_policy"),
        ("e-zhang", "supervisor", "approved_violation"),
    }


def test_a_timely_upheld_review_is_positive_evidence_and_no_supervisor_liability(
    sales: Scenario,
) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0))
    (flagged,) = sales.derived("violation.flagged")
    sales.send(
        act(
            "rv",
            "ledger.violation.reviewed",
            "SO-1001",
            "2026-03-02T18:00:00+08:00",
            actor_id="e-zhang",
            violation_id=flagged["data"]["violation_id"],
            decision="upheld",
        ),
        tick(PAST_DUE),
    )
    assert sales.active_liabilities() == {("e-li", "direct", "violated_policy")}
    assert ("e-zhang", "review_done") in sales.duties()


def test_a_review_may_name_the_violating_event_instead_of_the_violation(sales: Scenario) -> None:
    sales.send(
        submit("SO-1001", "SO-1001", T0),
        act(
            "rv",
            "ledger.violation.reviewed",
            "SO-1001",
            "2026-03-02T18:00:00+08:00",
            actor_id="e-zhang",
            violation_id="SO-1001",
            decision="corrected",
        ),
        tick(PAST_DUE),
    )
    assert ("e-zhang", "supervisor", "review_missed") not in sales.active_liabilities()


def test_a_review_after_the_due_time_is_still_a_missed_review(sales: Scenario) -> None:
    sales.send(
        submit("SO-1001", "SO-1001", T0),
        act(
            "rv",
            "ledger.violation.reviewed",
            "SO-1001",
            "2026-03-04T09:00:00+08:00",
            actor_id="e-zhang",
            violation_id="SO-1001",
            decision="upheld",
        ),
    )
    assert ("e-zhang", "supervisor", "review_missed") in sales.active_liabilities()


def test_excusing_a_violation_makes_the_reviewer_liable_for_approving_it(sales: Scenario) -> None:
    sales.send(
        submit("SO-1001", "SO-1001", T0),
        act(
            "rv",
            "ledger.violation.reviewed",
            "SO-1001",
            "2026-03-02T12:00:00+08:00",
            actor_id="e-zhang",
            violation_id="SO-1001",
            decision="excused",
        ),
        tick(PAST_DUE),
    )
    assert sales.active_liabilities() == {
        ("e-li", "direct", "violated_policy"),
        ("e-zhang", "supervisor", "approved_violation"),
    }


def test_a_missed_review_climbs_two_levels_with_a_fresh_window(ledger: Ledger) -> None:
    s = Scenario(ledger).send(*SALES_ORG, policy(escalate_levels=2))
    s.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    (escalated,) = s.derived("obligation.escalated")
    assert escalated["data"] == {
        "violation_id": escalated["data"]["violation_id"],
        "from_id": "e-zhang",
        "to_id": "e-boss",
        "review_due": "2026-03-04T10:00:00+08:00",
    }
    assert ("e-boss", "supervisor", "review_missed") not in s.active_liabilities()
    s.send(tick("2026-03-04T10:10:00+08:00"))
    assert ("e-boss", "supervisor", "review_missed") in s.active_liabilities()
    assert [m["data"]["owner_id"] for m in s.derived("deadline.missed")] == ["e-zhang", "e-boss"]


def test_the_next_supervisor_discharges_an_escalated_review_within_the_fresh_window(
    ledger: Ledger,
) -> None:
    s = Scenario(ledger).send(*SALES_ORG, policy(escalate_levels=2))
    s.send(
        submit("SO-1001", "SO-1001", T0),
        act(
            "rv",
            "ledger.violation.reviewed",
            "SO-1001",
            "2026-03-03T15:00:00+08:00",
            actor_id="e-boss",
            violation_id="SO-1001",
            decision="upheld",
        ),
        tick("2026-03-05T00:00:00+08:00"),
    )
    assert s.active_liabilities() == {
        ("e-li", "direct", "violated_policy"),
        ("e-zhang", "supervisor", "review_missed"),
    }
    assert ("e-boss", "review_done") in s.duties()


# --- 5.1 supervisor at the time (E4) and corrections -------------------------------------


@pytest.mark.parametrize("transfer_first", [True, False])
def test_the_supervisor_at_the_time_reviews_even_after_a_transfer(
    sales: Scenario, transfer_first: bool
) -> None:
    transfer = assign("e-li", "sales-2", "e-wang", time="2026-03-10T09:00:00+08:00")
    violation = submit("SO-1005", "SO-1005", "2026-03-05T11:30:00+08:00")
    sales.send(*([transfer, violation] if transfer_first else [violation, transfer]))
    (flagged,) = sales.derived("violation.flagged")
    assert flagged["data"]["supervisor_id"] == "e-zhang"
    sales.send(tick("2026-03-12T10:00:00+08:00"))
    assert ("e-zhang", "supervisor", "review_missed") in sales.active_liabilities()
    assert all(emp != "e-wang" for emp, _, _ in sales.active_liabilities())


def test_a_late_org_correction_corrects_the_supervisor_liability_without_rewriting(
    sales: Scenario,
) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    (zhang_liability,) = [
        e for e in sales.derived("liability.assigned") if e["data"]["employee_id"] == "e-zhang"
    ]
    # HR corrects history: since 03-01 Li actually reported to Wang.
    sales.send(assign("e-li", "sales", "e-wang", time="2026-03-01T00:00:00+08:00"))
    (correction,) = sales.corrections()
    assert correction["liability_id"] == zhang_liability["data"]["liability_id"]
    replacement = [
        e
        for e in sales.derived("liability.assigned")
        if e["data"]["liability_id"] == correction["replaced_by"]
    ]
    assert replacement[0]["data"]["employee_id"] == "e-wang"
    assert zhang_liability in sales.derived("liability.assigned"), "the old record stays visible"
    assert ("e-wang", "supervisor", "review_missed") in sales.active_liabilities()
    assert ("e-zhang", "supervisor", "review_missed") not in sales.active_liabilities()


# --- 5.4 step deadlines (E2) ----------------------------------------------------------

LAUNCH_STEPS = [
    {"step": "research", "title": "Research", "lead": {"unit_id": "market"}, "due": "P7D"},
    {
        "step": "prototype",
        "title": "Prototype",
        "lead": {"unit_id": "product"},
        "after": ["research"],
        "due": "P5D",
    },
    {
        "step": "build",
        "title": "Build",
        "lead": {"role": "builder"},
        "after": ["prototype"],
        "due": "P10D",
    },
    {
        "step": "promote",
        "title": "Promote",
        "lead": {"employee_id": "e-chen"},
        "after": ["build"],
        "due": "P3D",
        "required_outputs": ["campaign_plan"],
    },
]
OPEN = "2026-04-01T09:00:00+08:00"


@pytest.fixture
def launch(ledger: Ledger) -> Scenario:
    return Scenario(ledger).send(
        unit("market", head="e-zhao"),
        unit("product", head="e-sun"),
        assign("e-zhao", "market"),
        assign("e-sun", "product"),
        assign("e-zhou", "tech"),
        assign("e-chen", "ops"),
        event(
            "role-b",
            "ledger.access.role.granted",
            "2026-01-01T00:00:00+08:00",
            {"employee_id": "e-zhou", "role": "builder"},
        ),
        event(
            "launch-v1",
            "ledger.process.defined",
            "2026-02-01T00:00:00+08:00",
            {"process_id": "launch", "version": 1, "steps": LAUNCH_STEPS},
        ),
        act(
            "open",
            "ledger.case.opened",
            "L-1",
            OPEN,
            title="Launch",
            opened_by="e-zhao",
            process_id="launch",
            process_version=1,
        ),
    )


def done(eid: str, step: str, time: str, actor: str, **outputs: str) -> dict:  # type: ignore[type-arg]
    data = {"step": step, "actor_id": actor}
    if outputs:
        data["outputs"] = outputs  # type: ignore[assignment]
    return act(eid, "ledger.step.completed", "L-1", time, **data)


def test_a_late_step_makes_the_head_of_the_lead_unit_liable_and_is_the_source(
    launch: Scenario,
) -> None:
    launch.send(
        done("r", "research", "2026-04-10T09:00:00+08:00", "e-zhao"),
        done("p", "prototype", "2026-04-20T09:00:00+08:00", "e-sun"),
    )
    assert {
        ("e-zhao", "direct", "missed_deadline"),
        ("e-sun", "direct", "missed_deadline"),
    } <= launch.active_liabilities()
    assessment = launch.engine.assess("acme", "L-1")
    assert assessment is not None and assessment.source is not None
    assert (
        assessment.source.event_id,
        assessment.source.employee_id,
        assessment.source.reason,
    ) == ("r", "e-zhao", "missed_deadline")


def test_a_step_due_counts_from_the_completion_of_its_prerequisites(launch: Scenario) -> None:
    launch.send(
        done("r", "research", "2026-04-05T09:00:00+08:00", "e-zhao"),
        done("p", "prototype", "2026-04-10T08:00:00+08:00", "e-sun"),
    )
    assert ("e-sun", "step_on_time") in launch.duties()
    assert launch.active_liabilities() == set()


def test_a_step_never_completed_is_missed_once_the_watermark_passes_its_due_time(
    launch: Scenario,
) -> None:
    launch.send(tick("2026-04-08T09:04:00+08:00"))
    assert launch.derived("deadline.missed") == []
    launch.send(tick("2026-04-08T09:06:00+08:00"))
    (missed,) = launch.derived("deadline.missed")
    assert (missed["data"]["step"], missed["data"]["owner_id"], missed["data"]["unit_id"]) == (
        "research",
        "e-zhao",
        "market",
    )


def test_the_holders_of_a_lead_role_answer_for_its_step(launch: Scenario) -> None:
    launch.send(
        done("r", "research", "2026-04-02T09:00:00+08:00", "e-zhao"),
        done("p", "prototype", "2026-04-03T09:00:00+08:00", "e-sun"),
        tick("2026-04-14T00:00:00+08:00"),
    )
    assert ("e-zhou", "direct", "missed_deadline") in launch.active_liabilities()


def test_a_completion_without_its_required_outputs_does_not_complete_the_step(
    launch: Scenario,
) -> None:
    launch.send(
        done("r", "research", "2026-04-02T09:00:00+08:00", "e-zhao"),
        done("p", "prototype", "2026-04-03T09:00:00+08:00", "e-sun"),
        done("b", "build", "2026-04-04T09:00:00+08:00", "e-zhou"),
        done("c1", "promote", "2026-04-05T09:00:00+08:00", "e-chen"),
        tick("2026-04-08T00:00:00+08:00"),
    )
    assert ("e-chen", "direct", "missed_deadline") in launch.active_liabilities()
    launch.send(
        done("c2", "promote", "2026-04-06T09:00:00+08:00", "e-chen", campaign_plan="plan.pdf")
    )
    assert ("e-chen", "direct", "missed_deadline") not in launch.active_liabilities()
    assert launch.corrections(), "the earlier verdict is corrected, not rewritten"


# --- 5.5 inspections and incidents (E3), 5.6 overrides -----------------------------------


@pytest.fixture
def plant(ledger: Ledger) -> Scenario:
    return Scenario(ledger).send(
        assign("e-wu", "plant", "e-he"),
        assign("e-qian", "qa", "e-feng"),
        act(
            "B-77-open",
            "ledger.case.opened",
            "B-77",
            "2026-05-06T08:00:00+08:00",
            title="Batch",
            opened_by="e-he",
        ),
        act(
            "prod",
            "ledger.operation.submitted",
            "B-77",
            "2026-05-06T12:00:00+08:00",
            actor_id="e-wu",
            operation="production_record",
            payload={"units": 500},
        ),
    )


def test_an_incident_on_an_inspected_item_makes_inspector_and_producer_liable(
    plant: Scenario,
) -> None:
    plant.send(
        act(
            "insp",
            "ledger.inspection.recorded",
            "B-77",
            "2026-05-06T14:00:00+08:00",
            actor_id="e-qian",
            result="pass",
            target_id="prod",
        ),
        act(
            "inc",
            "ledger.incident.reported",
            "B-77",
            "2026-05-20T16:00:00+08:00",
            description="seal failure",
            severity="major",
            related_ids=["prod"],
        ),
    )
    assert plant.active_liabilities() == {
        ("e-wu", "direct", "passed_defect"),
        ("e-qian", "direct", "passed_defect"),
    }
    assessment = plant.engine.assess("acme", "B-77")
    assert assessment is not None and assessment.source is not None
    assert (assessment.source.event_id, assessment.source.employee_id) == ("prod", "e-wu")


def test_overriding_a_rejection_makes_the_overrider_answer_for_it(plant: Scenario) -> None:
    plant.send(
        act(
            "rej",
            "ledger.operation.rejected",
            "B-77",
            "2026-05-06T13:00:00+08:00",
            actor_id="e-qian",
            target_id="prod",
        ),
        act(
            "ovr",
            "ledger.decision.overridden",
            "B-77",
            "2026-05-06T13:30:00+08:00",
            actor_id="e-he",
            target_id="rej",
            reason="rush order",
        ),
    )
    (liability,) = [e["data"] for e in plant.derived("liability.assigned")]
    assert (liability["employee_id"], liability["basis"]) == ("e-he", "overrode_control")
    assert set(liability["event_ids"]) == {"ovr", "rej", "prod"}


def test_overriding_a_failed_inspection_makes_the_overrider_answer_for_it(plant: Scenario) -> None:
    plant.send(
        act(
            "insp",
            "ledger.inspection.recorded",
            "B-77",
            "2026-05-06T14:00:00+08:00",
            actor_id="e-qian",
            result="fail",
            target_id="prod",
        ),
        act(
            "ovr",
            "ledger.decision.overridden",
            "B-77",
            "2026-05-06T15:00:00+08:00",
            actor_id="e-he",
            target_id="insp",
            reason="ship anyway",
        ),
    )
    assert ("e-he", "direct", "overrode_control") in plant.active_liabilities()
    assessment = plant.engine.assess("acme", "B-77")
    assert assessment is not None and assessment.source is not None
    assert assessment.source.reason == "failed_inspection"


def test_overriding_a_flagged_violation_makes_the_overrider_answer_for_it(sales: Scenario) -> None:
    sales.send(
        submit("SO-1001", "SO-1001", T0),
        act(
            "ovr",
            "ledger.decision.overridden",
            "SO-1001",
            "2026-03-02T11:00:00+08:00",
            actor_id="e-boss",
            target_id="SO-1001",
            reason="key account",
        ),
    )
    assert ("e-boss", "direct", "overrode_control") in sales.active_liabilities()


# --- 5.7 event time, references, traceability ---------------------------------------------


def test_a_reference_to_an_event_not_yet_recorded_is_resolved_when_it_arrives(
    sales: Scenario,
) -> None:
    sales.send(
        act(
            "ok",
            "ledger.operation.approved",
            "SO-1001",
            "2026-03-02T11:00:00+08:00",
            actor_id="e-zhang",
            target_id="SO-1001",
        )
    )
    sales.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    assert ("e-zhang", "supervisor", "approved_violation") in sales.active_liabilities()
    assert ("e-zhang", "supervisor", "review_missed") not in sales.active_liabilities()


def test_a_late_on_time_completion_corrects_a_missed_deadline_verdict(launch: Scenario) -> None:
    launch.send(tick("2026-04-09T00:00:00+08:00"))
    assert ("e-zhao", "direct", "missed_deadline") in launch.active_liabilities()
    launch.send(done("r", "research", "2026-04-07T09:00:00+08:00", "e-zhao"))
    assert ("e-zhao", "direct", "missed_deadline") not in launch.active_liabilities()
    (correction,) = launch.corrections()
    assert "replaced_by" not in correction


def test_derived_events_carry_the_trace_of_the_request_that_caused_them(sales: Scenario) -> None:
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    sales.send(submit("SO-1001", "SO-1001", T0, traceparent=trace))
    assert {e.get("traceparent") for e in sales.derived()} == {trace}


def test_derived_events_are_rejected_from_outside(ledger: Ledger) -> None:
    forged = event("x", "liability.assigned", T0, {}, "SO-1")
    (outcome,) = ledger.record([forged])
    assert outcome.reasons[0].rule == "derived_type"


def test_a_restarted_engine_derives_nothing_twice(sales: Scenario) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    before = sales.derived()
    restarted = Scenario(sales.ledger)
    restarted.engine.run_until_idle()
    assert restarted.derived() == before


def test_two_engines_on_one_ledger_derive_each_verdict_once(ledger: Ledger) -> None:
    """Several API processes may each run an engine: their output must not double."""
    first, second = Scenario(ledger), Scenario(ledger)
    first.engine.run_once(), second.engine.run_once()  # both started on an empty ledger
    ledger.record([*SALES_ORG, policy(), submit("SO-1001", "SO-1001", T0), tick(PAST_DUE)])
    first.engine.run_until_idle()
    second.engine.run_until_idle()  # reads the same facts, derives the same verdicts
    kinds = [e["type"] for e in first.derived()]
    assert kinds.count("violation.flagged") == 1
    assert kinds.count("deadline.missed") == 1
    assert first.active_liabilities() == {
        ("e-li", "direct", "violated_policy"), ("e-zhang", "supervisor", "review_missed")}
