"""docs/domain-rules.md, Semantics and Worked examples, on the pure rules: facts in memory,
verdicts out; no store.

Envelopes become facts (facts.py), a tenant's facts and watermark (tenant.py) are assessed
per case (assess.py) and turned into derived events (derive.py), as the engine does, but
with nothing recorded anywhere. The same rules through the ledger: tests/e2e.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from ledger.domain.responsibility.derive import derive
from ledger.domain.responsibility.emitted import Emitted
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.tenant import TenantFacts
from ledger.domain.responsibility.verdicts import CaseAssessment
from ledger.resources import WORKED_EXAMPLES
from tests.support.scenario import SALES_ORG, act, assign, policy, submit, tick

LATENESS = timedelta(minutes=5)
T0 = "2026-03-02T10:00:00+08:00"
DUE = "2026-03-03T10:00:00+08:00"
PAST_DUE = "2026-03-03T10:10:00+08:00"  # beyond due + PT5M lateness

Verdict = tuple[str, str, str]


class Tenant:
    """One tenant's facts and what has been derived from them, run as the engine runs."""

    def __init__(self, *envelopes: dict[str, Any]) -> None:
        self.facts = TenantFacts("acme", LATENESS)
        self.emitted = Emitted()
        self.derived: list[dict[str, Any]] = []
        self.send(*envelopes)

    def send(self, *envelopes: dict[str, Any]) -> Tenant:
        affected: set[str] = set()
        for envelope in envelopes:
            affected |= self.facts.add(Fact.from_envelope(envelope))
        watermark, news = self.facts.watermark, self.facts.latest_time
        assert news is not None
        for case_id in sorted(affected | self.facts.due_by(watermark)):
            self.derived += derive("acme", self.assess(case_id), self.emitted, news)
        return self

    def assess(self, case_id: str) -> CaseAssessment:
        return self.facts.assess(case_id, self.facts.watermark)

    def liabilities(self, case_id: str) -> set[Verdict]:
        return {(li.employee_id, li.kind, li.basis) for li in self.assess(case_id).liabilities}

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.derived if e["type"] == type_]


def worked_examples() -> list[dict[str, Any]]:
    lines = WORKED_EXAMPLES.read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def worked() -> Tenant:
    return Tenant(*worked_examples())


@pytest.fixture
def sales() -> Tenant:
    return Tenant(*SALES_ORG, policy())


# --- E1: a return promise beyond the policy, never reviewed ------------------------------


def test_e1_flags_lis_order_for_review_by_zhang_within_a_day(worked: Tenant) -> None:
    (violation,) = worked.assess("SO-1001").violations

    assert (violation.employee_id, violation.supervisor_id, violation.policy_id) == (
        "e-li", "e-zhang", "return-window")
    assert violation.review_due == at(DUE)


def test_e1_makes_li_directly_and_zhang_as_supervisor_liable_once_the_review_is_missed(
    worked: Tenant,
) -> None:
    assessment = worked.assess("SO-1001")

    assert [(m.obligation, m.owner_id, m.due) for m in assessment.misses] == [
        ("review", "e-zhang", at(DUE))]
    assert worked.liabilities("SO-1001") == {
        ("e-li", "direct", "violated_policy"), ("e-zhang", "supervisor", "review_missed")}
    assert assessment.source is not None
    assert (assessment.source.event_id, assessment.source.employee_id,
            assessment.source.reason) == ("SO-1001-submitted", "e-li", "violation")


def test_e1_had_zhang_approved_the_order_he_answers_for_approving_a_violation() -> None:
    approval = act("SO-1001-approved", "ledger.operation.approved", "SO-1001",
                   "2026-03-02T12:00:00+08:00", actor_id="e-zhang",
                   target_id="SO-1001-submitted")

    tenant = Tenant(*worked_examples(), approval)

    assert tenant.liabilities("SO-1001") == {
        ("e-li", "direct", "violated_policy"), ("e-zhang", "supervisor", "approved_violation")}


def test_e1_had_zhang_upheld_it_in_time_he_has_a_positive_record_and_no_liability() -> None:
    review = act("SO-1001-review", "ledger.violation.reviewed", "SO-1001",
                 "2026-03-02T18:00:00+08:00", actor_id="e-zhang",
                 violation_id="SO-1001-submitted", decision="upheld")

    tenant = Tenant(*worked_examples(), review)

    assert tenant.liabilities("SO-1001") == {("e-li", "direct", "violated_policy")}
    assert [(d.duty, d.employee_id) for d in tenant.assess("SO-1001").duties] == [
        ("review_done", "e-zhang")]


# --- E2: a cross-department launch whose first step is late ------------------------------


def test_e2_makes_the_head_of_market_liable_for_the_late_research_step(worked: Tenant) -> None:
    research = [m for m in worked.assess("LAUNCH-1").misses if m.step == "research"]

    assert [(m.obligation, m.owner_id, m.unit_id) for m in research] == [
        ("step", "e-zhao", "market")]
    assert ("e-zhao", "direct", "missed_deadline") in worked.liabilities("LAUNCH-1")


def test_e2_names_the_research_link_as_the_source_though_later_steps_are_late_too(
    worked: Tenant,
) -> None:
    assessment = worked.assess("LAUNCH-1")

    assert worked.liabilities("LAUNCH-1") == {
        ("e-zhao", "direct", "missed_deadline"), ("e-zhou", "direct", "missed_deadline")}
    assert assessment.source is not None
    assert (assessment.source.event_id, assessment.source.reason) == (
        "LAUNCH-1-research-done", "missed_deadline")


# --- E3: production, inspection, complaint -----------------------------------------------


def test_e3_makes_the_producer_and_the_inspector_who_passed_the_defect_liable(
    worked: Tenant,
) -> None:
    assessment = worked.assess("B-77")

    assert {(employee, basis) for employee, _, basis in worked.liabilities("B-77")} == {
        ("e-wu", "passed_defect"), ("e-qian", "passed_defect")}
    assert ("e-wu", "direct", "passed_defect") in worked.liabilities("B-77")
    assert assessment.source is not None
    assert (assessment.source.event_id, assessment.source.employee_id) == (
        "B-77-production", "e-wu")


# --- E4 and 5.1: the supervisor at the time -----------------------------------------------


def test_e4_zhang_not_wang_reviews_lis_violation_dated_before_the_transfer(
    worked: Tenant,
) -> None:
    (violation,) = worked.assess("SO-1005").violations

    assert violation.supervisor_id == "e-zhang"
    assert worked.liabilities("SO-1005") == {
        ("e-li", "direct", "violated_policy"), ("e-zhang", "supervisor", "review_missed")}


@pytest.mark.parametrize("transfer_first", [True, False], ids=["transfer-first", "late-news"])
def test_the_supervisor_is_taken_from_the_org_chart_as_at_the_violation_whatever_the_arrival(
    transfer_first: bool,
) -> None:
    transfer = assign("e-li", "sales-2", "e-wang", time="2026-03-10T09:00:00+08:00")
    before = submit("SO-1005", "SO-1005", "2026-03-05T11:30:00+08:00")
    after = submit("SO-1011", "SO-1011", "2026-03-11T11:30:00+08:00")
    news = [transfer, before, after] if transfer_first else [before, after, transfer]

    tenant = Tenant(*SALES_ORG, policy()).send(*news)

    supervisors = {f["event_id"]: f["supervisor_id"] for f in tenant.of_type("violation.flagged")}
    assert supervisors == {"SO-1005": "e-zhang", "SO-1011": "e-wang"}


# --- 5.3: review missed, and when -------------------------------------------------------


def test_a_review_is_judged_missed_only_once_the_watermark_passes_its_due_time(
    sales: Tenant,
) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0), tick("2026-03-03T10:03:00+08:00"))
    assert sales.of_type("deadline.missed") == []
    assert sales.liabilities("SO-1001") == {("e-li", "direct", "violated_policy")}

    sales.send(tick(PAST_DUE))

    assert [(m["obligation"], m["owner_id"], m["due"]) for m in sales.of_type("deadline.missed")
            ] == [("review", "e-zhang", DUE)]
    assert ("e-zhang", "supervisor", "review_missed") in sales.liabilities("SO-1001")


def test_a_review_after_its_due_time_is_still_a_missed_review(sales: Tenant) -> None:
    late = act("late-review", "ledger.violation.reviewed", "SO-1001",
               "2026-03-03T12:00:00+08:00", actor_id="e-zhang", violation_id="SO-1001",
               decision="upheld")

    sales.send(submit("SO-1001", "SO-1001", T0), late, tick(PAST_DUE))

    assert ("e-zhang", "supervisor", "review_missed") in sales.liabilities("SO-1001")


# --- 5.7: late news corrects, never rewrites --------------------------------------------


def test_a_late_org_correction_corrects_the_supervisors_liability_and_names_the_replacement(
    sales: Tenant,
) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    (zhang,) = [li for li in sales.of_type("liability.assigned")
                if li["employee_id"] == "e-zhang"]

    # HR corrects history: since 1 March Li actually reported to Wang.
    sales.send(assign("e-li", "sales", "e-wang", time="2026-03-01T00:00:00+08:00"))

    (correction,) = sales.of_type("liability.corrected")
    replacements = [li for li in sales.of_type("liability.assigned")
                    if li["liability_id"] == correction["replaced_by"]]
    assert correction["liability_id"] == zhang["liability_id"]
    assert [li["employee_id"] for li in replacements] == ["e-wang"]
    assert zhang in sales.of_type("liability.assigned"), "the old record stays"
    assert [e["time"] for e in sales.derived if e["type"] == "liability.corrected"] == [
        PAST_DUE], "dated by the news that changed it"
    assert sales.liabilities("SO-1001") == {
        ("e-li", "direct", "violated_policy"), ("e-wang", "supervisor", "review_missed")}


def test_deriving_the_same_facts_again_emits_nothing_new(sales: Tenant) -> None:
    sales.send(submit("SO-1001", "SO-1001", T0), tick(PAST_DUE))
    before = len(sales.derived)

    again = derive("acme", sales.assess("SO-1001"), sales.emitted, at(PAST_DUE))

    assert again == []
    assert len(sales.derived) == before
