"""The reminder outbox on the real broker (docs/domain-rules.md, Obligations and
reminders): every reminder of a scenario arrives once, in ledger order per holder, and a
second relay publishes nothing again."""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
import pytest

from cli.root import build_ledger
from consumers.obligation_relay import H_NOTIFICATION, ObligationRelay, reminder
from tests.fault.harness import (
    BOOTSTRAP,
    KAFKA_WARNINGS,
    Scenario,
    scenario_fixture,  # noqa: F401  (the `scenario` fixture)
)
from tests.support.scenario import Scenario as Story
from tests.support.second_round import CLIMB, LATE_PART

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, KAFKA_WARNINGS, pytest.mark.timeout(120)]


def committed(topic: str, expected: int, timeout: float = 30, settle: float = 2.0) -> list[Any]:
    """Every message a `read_committed` reader sees on the topic (waiting for `expected`,
    then a little longer so that a duplicate would show)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                             enable_auto_commit=False, isolation_level="read_committed",
                             auto_offset_reset="earliest")
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline, quiet_until = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
            if len(records) >= expected:
                quiet_until = quiet_until or time.monotonic() + settle
                if time.monotonic() >= quiet_until:
                    break
        return records
    finally:
        consumer.close(autocommit=False)


def expected_reminders(store: Any) -> list[tuple[str, dict[str, Any]]]:
    return [found for _, entry in store.entry_notifications(0, 100_000)
            if (found := reminder(entry))]


def test_every_reminder_arrives_once_in_order_per_holder(scenario: Scenario) -> None:
    settings = scenario.settings().model_copy(update={"obligations_topic": scenario.topic})
    ledger = build_ledger(settings)
    Story(ledger).send(*{e["id"]: e for e in [*LATE_PART, *CLIMB]}.values())
    wanted = expected_reminders(ledger.store)
    assert {e["type"] for _, e in wanted} == {
        "ledger.obligation.opened", "ledger.obligation.due_soon", "ledger.obligation.missed",
        "ledger.obligation.escalated"}

    relay = ObligationRelay(ledger.store, settings, chunk=7)  # many small transactions
    relay.run(threading.Event(), until_idle_s=1.0)
    ObligationRelay(ledger.store, settings).run(threading.Event(), until_idle_s=1.0)

    records = committed(scenario.topic, len(wanted))
    got = [(r.key.decode(), orjson.loads(r.value)) for r in records]
    assert sorted(e["id"] for _, e in got) == sorted(e["id"] for _, e in wanted)
    for holder in {k for k, _ in wanted}:
        in_ledger = [e["id"] for k, e in wanted if k == holder]
        on_topic = sorted((r for r in records if r.key.decode() == holder),
                          key=lambda r: int(dict(r.headers)[H_NOTIFICATION]))
        assert [orjson.loads(r.value)["id"] for r in on_topic] == in_ledger
        assert len({r.partition for r in on_topic}) == 1
    sample = next(e for _, e in got if e["type"] == "ledger.obligation.missed")
    assert sample["source"] == "ledger/obligations" and sample["data"]["holder_id"]
    assert sample["data"]["obligation_id"].startswith("O-")
