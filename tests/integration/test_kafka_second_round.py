"""The late-contribution launch through the real broker and `ledger consume`: the engine
judges what Kafka delivered as it judges direct ingest."""

from __future__ import annotations

import threading

import orjson
import pytest

from cli.root import build_ledger
from consumers.service import ConsumeConfig, run_consume
from tests.fault.harness import (
    KAFKA_WARNINGS,
    Scenario,
    publish,
    scenario_fixture,  # noqa: F401  (the `scenario` fixture)
)
from tests.support.scenario import Scenario as Story
from tests.support.second_round import CLIMB, LATE_PART

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, KAFKA_WARNINGS, pytest.mark.timeout(120)]


def test_a_late_part_and_a_climbing_step_sent_through_kafka_give_the_same_liabilities(
    scenario: Scenario,
) -> None:
    events = list({e["id"]: e for e in [*LATE_PART, *CLIMB]}.values())
    # Org and definition events are keyed by what they define (the contract's Kafka key).
    messages = [
        ((e.get("subject") or e["data"].get("unit_id") or e["data"].get("employee_id")
          or e["id"]).encode(), orjson.dumps(e))
        for e in events
    ]
    publish(scenario.topic, messages)
    ledger = build_ledger(scenario.settings())
    try:
        config = ConsumeConfig(topic=scenario.topic, group=scenario.group, batch_size=200,
                               linger_ms=50, until_idle_s=1.5)
        run_consume(ledger, scenario.settings(), config, threading.Event())
        story = Story(ledger)
        story.engine.run_until_idle()
        assert story.active_liabilities() == {
            ("e-qin", "cooperating", "missed_contribution"),
            ("e-zhao", "direct", "missed_deadline"),
            ("e-li", "direct", "missed_deadline"),
            ("e-zhang", "supervisor", "escalation_ignored"),
            ("e-boss", "supervisor", "escalation_ignored"),
        }
    finally:
        ledger.store.close()
