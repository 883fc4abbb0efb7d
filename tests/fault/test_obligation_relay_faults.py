"""The reminder outbox under kill -9 (docs/domain-rules.md, Obligations and reminders): a
real `ledger relay obligations` process is killed mid-stream, again and again, and
restarted; a `read_committed` reader of the reminder topic then sees every reminder
exactly once, one holder's reminders in one partition in ledger order."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli.root import build_ledger
from consumers.obligation_relay import H_NOTIFICATION, relay_reader, reminder
from consumers.topics import ensure_topics
from ledger.adapters.store import EventStore
from tests.fault.harness import BOOTSTRAP, KAFKA_WARNINGS, LEDGER_BIN, REPO, Scenario, wait_until
from tests.integration.test_obligation_relay import committed
from tests.support.reminders import climbing_cases
from tests.support.scenario import Scenario as Story

pytestmark = [
    pytest.mark.fault,
    pytest.mark.kafka,
    pytest.mark.postgres,
    KAFKA_WARNINGS,
    pytest.mark.timeout(180),
]

CASES = 600  # ~5,900 reminders over ~12,000 ledger entries
CHUNK = 20  # entries per Kafka transaction: many transactions, so kills land inside one
#: Kill points, as fractions of the ledger's entries the relay has stored as published.
KILL_AT = (0.15, 0.4, 0.65)


def _relay(scenario: Scenario, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [LEDGER_BIN, "relay", "obligations", "--chunk", str(CHUNK), *args],
        env=scenario.env(), cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stored(store: EventStore, topic: str) -> int:
    return store.max_tracking_id(relay_reader(topic)) or 0


def test_a_relay_killed_mid_stream_and_restarted_publishes_every_reminder_exactly_once(
    scenario: Scenario, tmp_path: Path,
) -> None:
    settings = scenario.settings()
    topic = settings.obligations_topic
    ensure_topics(BOOTSTRAP, {topic: 6})
    ledger = build_ledger(settings)
    try:
        Story(ledger).send(*climbing_cases(CASES))
        entries = ledger.store.entry_notifications(0, 1_000_000)
        wanted: list[tuple[str, dict[str, Any]]] = [
            found for _, entry in entries if (found := reminder(entry))]
        last = entries[-1][0]
        log = tmp_path / "relay.log"
        for fraction in KILL_AT:
            proc = _relay(scenario, log)
            before = _stored(ledger.store, topic)
            target = max(before + CHUNK, int(last * fraction))
            wait_until(lambda: _stored(ledger.store, topic) >= target, 60,  # noqa: B023
                       f"the relay past entry {target}", interval=0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert _stored(ledger.store, topic) < last, "killed too late to test anything"
        finish = _relay(scenario, log, "--until-idle", "2")
        assert finish.wait(timeout=90) == 0, log.read_text(errors="replace")[-2000:]
        assert _stored(ledger.store, topic) == last
    finally:
        ledger.store.close()

    records = committed(topic, len(wanted), timeout=60)
    ids = [orjson.loads(r.value)["id"] for r in records]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} reminders doubled"
    assert sorted(ids) == sorted(e["id"] for _, e in wanted), "a reminder lost"
    for holder in {k for k, _ in wanted}:
        in_ledger = [e["id"] for k, e in wanted if k == holder]
        mine = [r for r in records if r.key.decode() == holder]
        assert len({r.partition for r in mine}) == 1
        on_topic = sorted(mine, key=lambda r: r.offset)
        assert [orjson.loads(r.value)["id"] for r in on_topic] == in_ledger
        notified = [int(dict(r.headers)[H_NOTIFICATION]) for r in on_topic]
        assert notified == sorted(notified)
