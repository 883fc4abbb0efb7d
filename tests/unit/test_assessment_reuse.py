"""An assessment holds, unchanged, from the watermark it was made at until its next due.

The case-chains view relies on this to keep a case's last assessment when only the
engine's conclusions about it arrive (`unchanged_since`). Checked here the strong way: for
every case of the worked examples and section 8's scenarios, the case is assessed at every
watermark where anything could change (each fact time and due, and a microsecond either
side), and wherever `unchanged_since` says an earlier assessment still holds, it must equal
the fresh one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from ledger.domain.responsibility.assess import unchanged_since
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.tenant import TenantFacts, _moments
from ledger.domain.responsibility.verdicts import CaseAssessment
from ledger.resources import EXAMPLES_DIR, WORKED_EXAMPLES
from tests.support.reminders import climbing_cases
from tests.support.second_round import CLIMB, HOLIDAY_RETURN, LATE_PART

LATENESS = timedelta(minutes=5)
MICROSECOND = timedelta(microseconds=1)


def _lines(path: Any) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


SCENARIOS = {
    "worked examples": _lines(WORKED_EXAMPLES),
    "section 8 examples": _lines(EXAMPLES_DIR / "section-8.jsonl"),
    "review due after a holiday": HOLIDAY_RETURN,
    "a cooperating part comes late": LATE_PART,
    "a missed step climbs": CLIMB,
    "many steps missed, some done late": climbing_cases(8),
}


def _tenant(envelopes: Iterable[dict[str, Any]]) -> TenantFacts:
    facts = TenantFacts("acme", LATENESS)
    for envelope in envelopes:
        facts.add(Fact.from_envelope(envelope))
    return facts


def _critical(facts: TenantFacts, case_id: str) -> list[datetime | None]:
    """Watermarks at which the case's assessment could change, and either side of them."""
    times = {fact.time for fact in facts.cases[case_id]}
    for _round in range(2):  # a miss can bring new dues (escalations): look again
        for moment in sorted(times):
            times.update(_moments(facts.assess(case_id, moment)))
        times.update(_moments(facts.assess(case_id, None)))
    around = {t + shift for t in times for shift in (-MICROSECOND, timedelta(0), MICROSECOND)}
    return [None, *sorted(around)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_assessment_still_holds_wherever_unchanged_since_says_so(scenario: str) -> None:
    facts = _tenant(SCENARIOS[scenario])
    reused = differed = 0
    for case_id in sorted(facts.cases):
        watermarks = _critical(facts, case_id)
        fresh: list[CaseAssessment] = [facts.assess(case_id, w) for w in watermarks]
        for i, earlier in enumerate(fresh):
            for later_w, later in zip(watermarks[i + 1:], fresh[i + 1:], strict=True):
                if unchanged_since(watermarks[i], earlier.next_due, later_w):
                    assert later == earlier, (case_id, watermarks[i], later_w)
                    reused += 1
                elif later != earlier:
                    differed += 1
    assert reused and differed  # neither half of the check is vacuous


def test_a_watermark_at_or_past_the_next_due_asks_for_a_new_assessment() -> None:
    at, due = datetime.fromisoformat("2026-03-02T10:00:00+08:00"), timedelta(days=1)
    next_due = at + due
    assert unchanged_since(at, next_due, next_due - MICROSECOND)
    assert not unchanged_since(at, next_due, next_due)
    assert unchanged_since(at, None, at + 1000 * due)  # nothing is due: it holds for ever
    assert unchanged_since(None, next_due, at)  # made before any event time
    assert not unchanged_since(at, None, None)
    assert not unchanged_since(at, next_due, at - MICROSECOND)  # watermarks only rise
