"""Calendars, step escalation and cooperating parties judge the same under any arrival
order and batching (docs/domain-rules.md, Semantics: watermark)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.adapters.store import EventStore
from ledger.adapters.validation import default_validator
from ledger.application.recording import Ledger
from ledger.config import Settings
from tests.support.clock import FixedClock
from tests.support.scenario import Scenario, tick
from tests.support.second_round import CLIMB, HOLIDAY_RETURN, LATE_PART

#: The three scenarios in one tenant (their shared org events once), then a late tick.
UNIQUE = {e["id"]: e for e in [*HOLIDAY_RETURN, *LATE_PART, *CLIMB]}
EVENTS: list[dict[str, Any]] = [*UNIQUE.values(), tick("2026-10-09T00:00:00+08:00")]


def run(events: list[dict[str, Any]], batches: list[int]) -> tuple[set[tuple[str, ...]], Scenario]:
    home = Path(tempfile.mkdtemp(prefix="order-8-"))
    scenario = Scenario(Ledger(EventStore(Settings(home=home)), default_validator(), FixedClock()))
    start = 0
    for size in [*batches, len(events)]:
        if start >= len(events):
            break
        scenario.send(*events[start : start + size])
        start += size
    return scenario.verdicts(), scenario


IN_ORDER, _ = run(EVENTS, [len(EVENTS)])


def test_the_in_order_verdicts_cover_all_three_rules() -> None:
    bases = {(v[0], v[2]) for v in IN_ORDER}
    assert ("e-zhang", "review_missed") in bases  # the holiday review, finally missed
    assert {("e-zhang", "escalation_ignored"), ("e-boss", "escalation_ignored")} <= bases
    assert ("e-qin", "missed_contribution") in bases


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.permutations(list(range(len(EVENTS)))),
    batches=st.lists(st.integers(min_value=1, max_value=12), max_size=6),
)
def test_any_arrival_order_and_batching_gives_the_same_verdicts(
    order: list[int], batches: list[int]
) -> None:
    verdicts, scenario = run([EVENTS[i] for i in order], batches)
    assert verdicts == IN_ORDER
    before = scenario.derived()
    rebuilt = Scenario(scenario.ledger)
    rebuilt.engine.run_until_idle()
    assert rebuilt.derived() == before, "a rebuild derives nothing new"
