"""Obligations and reminders (8.7), from the field: a manager's review queue."""

from __future__ import annotations

import pytest

from ledger.application.recording import Ledger
from tests.support.scenario import SALES_ORG, Scenario, act, policy, submit, tick

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
