"""Kafka ingest under faults, on the real Kafka and PostgreSQL: nothing lost, nothing doubled.

Each test publishes valid events over many case keys, redelivered copies of some of them
and poison messages, runs real `ledger consume` processes, injects one fault, and ends
with an exact reconciliation (tests/fault/harness.py `reconcile`): every accepted event is
in the ledger exactly once, every poison message is a dead letter and on the DLQ exactly
once, every partition's recorded position is its last offset, and
published = recorded + duplicates + dead-lettered.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fault.harness import (
    KAFKA_WARNINGS,
    POISON,
    REPO,
    ConsumerProcess,
    Scenario,
    Sent,
    case_events,
    dlq_records,
    entry_count,
    keyed,
    publish,
    reconcile,
    tracked_positions,
    wait_until,
)

pytestmark = [
    pytest.mark.fault,
    pytest.mark.kafka,
    pytest.mark.postgres,
    KAFKA_WARNINGS,
    pytest.mark.timeout(300),
]

CASES = 800
#: For the tests whose fault must land mid-consumption: enough work that a fast consumer
#: is still busy when the process is killed or the service stops (~38k events).
BUSY_CASES = 4 * CASES
PER_CASE = 12
#: The rebalance test needs the stream still flowing after a second process has started
#: and joined the group (seconds), at a pipelined consumer's pace (~96k events).
REBALANCE_CASES = 10 * CASES
#: LEDGER_KAFKA_SESSION_TIMEOUT_MS of the consumers (tests/fault/harness.py Scenario.env).
SESSION_TIMEOUT_S = 6.0
DUPLICATE_EVERY = 10  # every 10th event is published a second time
POISON_COUNT = 12
CATCH_UP_S = 240.0
#: The first records of a fresh consumer group may wait for the group coordinator, which
#: after a broker restart late in a long suite (many topics to reload) takes a while.
FIRST_RECORDS_S = 240.0


class Workload:
    """What a test publishes, and what must come of it."""

    def __init__(self, scenario: Scenario, poison_count: int = POISON_COUNT,
                 conflicts: int = 0, cases: int = CASES) -> None:
        self.valid = case_events(scenario.tenant, cases, PER_CASE)
        messages = keyed(self.valid)
        messages += messages[::DUPLICATE_EVERY]
        bad: list[tuple[bytes | None, bytes]] = [
            (f"SO-{i:06d}".encode() if i % 2 else None, POISON[i % len(POISON)] + b" #%d" % i)
            for i in range(poison_count)
        ]
        for event in self.valid[1 : 1 + conflicts * PER_CASE : PER_CASE]:
            changed: dict[str, Any] = {**event, "data": {**event["data"], "actor_id": "e-other"}}
            bad.append((event["subject"].encode(), orjson.dumps(changed)))
        # Poison goes in among the valid messages, conflicts after their originals.
        step = max(1, len(messages) // max(1, len(bad)))
        mixed: list[tuple[bytes | None, bytes]] = []
        poison_values = {value for _, value in bad}
        for i, message in enumerate(messages):
            mixed.append(message)
            if i % step == step - 1 and bad:
                mixed.append(bad.pop(0))
        mixed += bad
        self.sent = publish(scenario.topic, mixed)
        self.poison: list[Sent] = [s for s in self.sent if s.value in poison_values]
        self.expected = len(self.valid)

    def last_offsets(self) -> dict[int, int]:
        last: dict[int, int] = {}
        for s in self.sent:
            last[s.partition] = max(last.get(s.partition, -1), s.offset)
        return last


def _all_applied(scenario: Scenario, work: Workload) -> bool:
    from ledger.adapters.store import EventStore

    if entry_count(scenario.settings(), scenario.tenant) != work.expected:
        return False
    store = EventStore(scenario.settings())
    try:
        positions = tracked_positions(store, scenario.topic, scenario.partitions)
    finally:
        store.close()
    return {p: o for p, o in positions.items() if o is not None} == work.last_offsets()


def _service(script: str, command: str) -> None:
    subprocess.run([str(REPO / "deploy" / "local" / script), command], check=True,
                   cwd=REPO, timeout=180, capture_output=True)


def _dead_letters_published(scenario: Scenario, work: Workload) -> bool:
    return len(dlq_records(scenario.dlq_topic, len(work.poison), timeout=5)) >= len(work.poison)


def _finish(scenario: Scenario, work: Workload, *consumers: ConsumerProcess) -> None:
    """Wait until everything is applied and every dead letter is on the DLQ, stop the
    consumers, then reconcile exactly."""
    try:
        wait_until(lambda: _all_applied(scenario, work), CATCH_UP_S, "every partition applied")
        wait_until(lambda: _dead_letters_published(scenario, work), 90,
                   "every dead letter on the DLQ")
    except AssertionError:
        logs = "\n".join(c.log_text()[-3000:] for c in consumers)
        raise AssertionError(f"consumers did not catch up; their logs:\n{logs}") from None
    finally:
        for consumer in consumers:
            consumer.stop()
    result = reconcile(scenario, work.sent, work.valid, work.poison)
    print(f"reconciled: {result}")


def test_a_consumer_killed_mid_batch_resumes_where_its_last_transaction_ended(
    scenario: Scenario, tmp_path: Path
) -> None:
    work = Workload(scenario, cases=BUSY_CASES)
    first = ConsumerProcess(scenario, tmp_path, "first").start()
    wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) >= work.expected // 3,
               FIRST_RECORDS_S, "a third of the events recorded")
    first.kill9()
    at_kill = entry_count(scenario.settings(), scenario.tenant)
    assert at_kill < work.expected, "the kill came too late to test anything"
    second = ConsumerProcess(scenario, tmp_path, "second").start()
    _finish(scenario, work, second)


def test_a_kafka_broker_restart_during_consumption_loses_and_doubles_nothing(
    scenario: Scenario, tmp_path: Path
) -> None:
    work = Workload(scenario, cases=BUSY_CASES)
    consumer = ConsumerProcess(scenario, tmp_path, "consumer").start()
    try:
        wait_until(
            lambda: entry_count(scenario.settings(), scenario.tenant) >= work.expected // 4,
            FIRST_RECORDS_S, "a quarter of the events recorded")
        _service("kafka.sh", "stop")
        time.sleep(1.0)
    finally:
        _service("kafka.sh", "start")
    assert entry_count(scenario.settings(), scenario.tenant) < work.expected
    _finish(scenario, work, consumer)


def test_a_postgres_restart_during_consumption_loses_and_doubles_nothing(
    scenario: Scenario, tmp_path: Path
) -> None:
    work = Workload(scenario, cases=BUSY_CASES)
    consumer = ConsumerProcess(scenario, tmp_path, "consumer").start()
    try:
        wait_until(
            lambda: entry_count(scenario.settings(), scenario.tenant) >= work.expected // 4,
            FIRST_RECORDS_S, "a quarter of the events recorded")
        _service("postgres.sh", "stop")
        time.sleep(2.0)
    finally:
        _service("postgres.sh", "start")
    assert consumer.alive(), "the consumer must ride out a database restart"
    assert entry_count(scenario.settings(), scenario.tenant) < work.expected
    _finish(scenario, work, consumer)


def test_two_consumers_share_the_partitions_and_rebalances_lose_and_double_nothing(
    scenario: Scenario, tmp_path: Path
) -> None:
    work = Workload(scenario, cases=REBALANCE_CASES)
    small = ("--batch-size", "200")
    first = ConsumerProcess(scenario, tmp_path, "first", *small).start()
    wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) >= work.expected // 10,
               90, "a tenth of the events recorded")
    second = ConsumerProcess(scenario, tmp_path, "second", *small).start()
    wait_until(lambda: "partition positioned" in second.log_text(), 60,
               "the second consumer to take over partitions")
    wait_until(lambda: '"recorded":' in second.log_text(), 10, "the second consumer to work")
    assert first.stop() == 0  # leaves the group: the second takes every partition
    assert entry_count(scenario.settings(), scenario.tenant) < work.expected, (
        "the stream ended before the second rebalance: nothing was tested")
    _finish(scenario, work, second)
    assert first.log_text().count("partitions assigned") >= 2, "the first saw no rebalance"


def test_a_consumer_frozen_past_its_session_and_thawed_as_a_zombie_doubles_nothing(
    scenario: Scenario, tmp_path: Path
) -> None:
    """A member stands still (SIGSTOP) longer than its session timeout, perhaps with a
    transaction open: the group gives its partitions to the other member. When it thaws,
    its batch in flight completes or fails against positions the other has moved on, and
    it rejoins. The positions in the store, not the group, decide what is applied."""
    work = Workload(scenario, cases=REBALANCE_CASES)
    small = ("--batch-size", "200")
    first = ConsumerProcess(scenario, tmp_path, "first", *small).start()
    second = ConsumerProcess(scenario, tmp_path, "second", *small).start()
    wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) >= work.expected // 10,
               FIRST_RECORDS_S, "a tenth of the events recorded")
    wait_until(lambda: "partition positioned" in second.log_text(), 60,
               "the second consumer holding partitions")
    first.freeze()
    try:
        frozen_at = entry_count(scenario.settings(), scenario.tenant)
        assert frozen_at < work.expected, "the stream ended before the freeze"
        time.sleep(2 * SESSION_TIMEOUT_S)  # the group expels the frozen member
    finally:
        first.thaw()
    _finish(scenario, work, first, second)
    assert "partitions revoked" in second.log_text() or \
        second.log_text().count("partitions assigned") >= 2, "the second saw no rebalance"


def test_poison_messages_mixed_into_valid_ones_reach_the_dlq_exactly_once_across_a_crash(
    scenario: Scenario, tmp_path: Path
) -> None:
    work = Workload(scenario, poison_count=60, conflicts=5)
    first = ConsumerProcess(scenario, tmp_path, "first").start()
    wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) >= work.expected // 2,
               90, "half of the events recorded")
    first.kill9()
    second = ConsumerProcess(scenario, tmp_path, "second").start()
    _finish(scenario, work, second)
    assert len(work.poison) == 65


def test_a_poison_batch_of_each_kind_across_a_kill_9_reconciles_exactly(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Among ordinary traffic: batches compressed with every codec by Kafka's console
    producer, a committed and an aborted transaction, binary-mode CloudEvents (then the
    same events in structured mode), a header name that is not UTF-8, a 1 MB poison
    message, a batch with a codec no client has and one with a failed CRC. One consumer
    is killed -9 midway; the next ends it. published = recorded + duplicates + dead letters."""
    from consumers.dlq_records import H_SOURCE_OFFSET, H_SOURCE_PARTITION
    from tests.fault.producers import (
        RawName,
        binary_mode,
        console_produce,
        damage_batch,
        produce,
        structured_mode,
        transactions,
    )

    work = Workload(scenario, cases=CASES)
    extra = case_events(scenario.tenant, CASES + 60, PER_CASE)[CASES * PER_CASE:]
    codec_events, tx_events, binary_events = extra[:240], extra[240:480], extra[480:]
    published = len(work.sent)
    for i, codec in enumerate(("snappy", "lz4", "zstd", "gzip")):
        console_produce(scenario.topic, keyed(codec_events[i * 60:(i + 1) * 60]), codec)
    published += len(codec_events)
    transactions(scenario.topic, keyed(tx_events[:120]), keyed(tx_events[120:]))
    published += 120  # the aborted transaction never happened for a read_committed reader
    produce(scenario.topic, [binary_mode(e) for e in binary_events])
    produce(scenario.topic, [structured_mode(e) for e in binary_events])
    published += 2 * len(binary_events)
    poison = produce(scenario.topic, [
        (b"SO-000001", b'{"header": "not UTF-8"}', [(RawName(b"\xc3\x28"), b"1")]),
        (b"SO-1mb", b"z" * 1_000_000, []),
        (b"SO-codec", b"damaged codec", []),
        (b"SO-crc", b"damaged crc", []),
    ], partition=1)
    published += len(poison)
    damage_batch(scenario.topic, 1, poison[2].offset, "codec")
    damage_batch(scenario.topic, 1, poison[3].offset, "crc")
    valid = work.valid + codec_events + tx_events[:120] + binary_events
    expected_letters = {(p.partition, p.offset) for p in work.poison + poison}
    expected_keys = {(e["source"], e["id"]) for e in valid}

    first = ConsumerProcess(scenario, tmp_path, "first").start()
    wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) >= len(valid) // 3,
               FIRST_RECORDS_S, "a third of the events recorded")
    first.kill9()
    second = ConsumerProcess(scenario, tmp_path, "second").start()
    try:
        wait_until(lambda: entry_count(scenario.settings(), scenario.tenant)
                   == len(expected_keys), CATCH_UP_S, "every event recorded")
        wait_until(lambda: len(dlq_records(scenario.dlq_topic, len(expected_letters),
                                           timeout=5)) >= len(expected_letters),
                   90, "every dead letter on the DLQ")
    except AssertionError:
        raise AssertionError(f"no catch-up:\n{second.log_text()[-3000:]}") from None
    finally:
        second.stop()

    from cli.root import build_ledger
    from consumers.dlq import list_dead_letters
    from tests.fault.harness import header, ledger_keys

    ledger = build_ledger(scenario.settings())
    try:
        keys = ledger_keys(ledger.store, scenario.tenant)
        letters = list_dead_letters(ledger)
    finally:
        ledger.store.close()
    assert set(keys) == expected_keys and set(keys.values()) == {1}
    at = [(v.letter.source_partition, v.letter.source_offset) for v in letters]
    assert sorted(at) == sorted(expected_letters), "each poison message a letter, once"
    on_dlq = [(int(header(r, H_SOURCE_PARTITION) or b"-1"),
               int(header(r, H_SOURCE_OFFSET) or b"-1"))
              for r in dlq_records(scenario.dlq_topic, len(expected_letters))]
    assert sorted(on_dlq) == sorted(expected_letters), "each letter on the DLQ, once"
    duplicates = len(work.sent) - len(work.poison) - len(work.valid) + len(binary_events)
    assert published == len(keys) + duplicates + len(letters)
    print(f"reconciled: published {published} = recorded {len(keys)} + duplicates "
          f"{duplicates} + dead letters {len(letters)}")
