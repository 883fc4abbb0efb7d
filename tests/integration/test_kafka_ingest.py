"""`ledger consume` / `ledger publish` / `ledger dlq` on the real Kafka and PostgreSQL.

The consumer runs in-process here (exactly what the command runs, consumers/service.py)
until it has caught up; the subprocess and crash cases are in tests/fault/.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.root import build_ledger
from consumers.consumer import ConsumerOptions, LedgerConsumer
from consumers.dlq import list_dead_letters, replay_dead_letters
from consumers.dlq_records import H_REASON, H_SOURCE_OFFSET, H_SOURCE_PARTITION, H_SOURCE_TOPIC
from consumers.observability import IngestMetrics
from consumers.service import ConsumeConfig, run_consume
from ledger.adapters.store import EventStore
from ledger.adapters.validation import DEFAULT_SCHEMAS_DIR, EventValidator
from ledger.application.recording import Ledger
from tests.fault.harness import (
    BOOTSTRAP,
    KAFKA_WARNINGS,
    Scenario,
    case_events,
    dlq_records,
    entry_count,
    header,
    keyed,
    ledger_keys,
    publish,
    reconcile,
    scenario_fixture,  # noqa: F401  (the `scenario` fixture)
    wait_until,
)
from tests.support.clock import FixedClock

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, KAFKA_WARNINGS, pytest.mark.timeout(120)]


def consume(
    scenario: Scenario, *, group: str | None = None, metrics_port: int | None = None,
    ledger: Ledger | None = None,
) -> IngestMetrics:
    """Run the consumer until it has caught up and been idle for a moment."""
    own = ledger is None
    ledger = ledger or build_ledger(scenario.settings())
    config = ConsumeConfig(
        topic=scenario.topic, group=group or scenario.group, batch_size=200, linger_ms=50,
        metrics_port=metrics_port, until_idle_s=1.5,
    )
    try:
        return run_consume(ledger, scenario.settings(), config, threading.Event())
    finally:
        if own:
            ledger.store.close()


@contextlib.contextmanager
def consuming_in_background(scenario: Scenario, metrics: IngestMetrics) -> Iterator[None]:
    """`ledger consume` (without the DLQ relay) on a thread of its own until the block ends."""
    ledger = build_ledger(scenario.settings())
    stop = threading.Event()
    config = ConsumeConfig(topic=scenario.topic, group=scenario.group, batch_size=200,
                           linger_ms=50, relay=False)
    runner = threading.Thread(
        target=run_consume, args=(ledger, scenario.settings(), config, stop, metrics)
    )
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(timeout=60)
        ledger.store.close()


def test_consumed_events_are_recorded_once_with_duplicates_and_dead_letters_counted(
    scenario: Scenario,
) -> None:
    valid = case_events(scenario.tenant, cases=40, per_case=8)
    messages = keyed(valid) + keyed(valid[::8]) + [(b"SO-000001", b"not json at all")]
    sent = publish(scenario.topic, messages)
    metrics = consume(scenario)
    result = reconcile(scenario, sent, valid, [sent[-1]])
    assert (result.recorded, result.duplicates, result.dead_lettered) == (320, 40, 1)
    totals = metrics.snapshot()["totals"]
    assert (totals["consumed"], totals["recorded"], totals["duplicate"],
            totals["dead_lettered"], totals["lag"]) == (361, 320, 40, 1, 0)


def test_a_restarted_consumer_applies_nothing_twice_even_without_kafka_offsets(
    scenario: Scenario,
) -> None:
    valid = case_events(scenario.tenant, cases=10, per_case=5)
    sent = publish(scenario.topic, keyed(valid))
    consume(scenario)
    again = consume(scenario, group=scenario.group + ".new")  # no committed offsets at all
    assert again.snapshot()["totals"]["consumed"] == 0, "positions come from the ledger"
    more = case_events(scenario.tenant, cases=12, per_case=5)[50:]
    sent += publish(scenario.topic, keyed(more))
    third = consume(scenario)
    assert third.snapshot()["totals"]["consumed"] == len(more)
    reconcile(scenario, sent, valid + more, [])


def test_a_poison_message_reaches_the_dlq_once_with_its_bytes_key_reason_and_source(
    scenario: Scenario,
) -> None:
    junk = bytes(range(256))
    sent = publish(scenario.topic, [(b"SO-7", junk), (None, b'{"id": "half"}')])
    consume(scenario)
    records = dlq_records(scenario.dlq_topic, 2)
    assert len(records) == 2
    by_offset = {(int(header(r, H_SOURCE_PARTITION) or b"0"),
                  int(header(r, H_SOURCE_OFFSET) or b"0")): r for r in records}
    binary = by_offset[(sent[0].partition, sent[0].offset)]
    assert binary.value == junk and binary.key == b"SO-7"
    assert header(binary, H_SOURCE_TOPIC) == scenario.topic.encode()
    assert [r["rule"] for r in orjson.loads(header(binary, H_REASON) or b"")] == ["invalid_json"]
    half = by_offset[(sent[1].partition, sent[1].offset)]
    assert {r["rule"] for r in orjson.loads(header(half, H_REASON) or b"")} == {"required"}
    consume(scenario)  # a second run (and relay session) publishes nothing again
    assert len(dlq_records(scenario.dlq_topic, 2, timeout=5)) == 2


def _fixed_schemas(tmp_path: Path) -> Path:
    """A copy of the contract where ledger.case.opened no longer requires `opened_by`."""
    root = tmp_path / "schemas"
    shutil.copytree(DEFAULT_SCHEMAS_DIR, root)
    path = root / "data" / "ledger.case.opened.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    schema["required"] = [f for f in schema["required"] if f != "opened_by"]
    path.write_text(json.dumps(schema))
    return root


def test_dlq_replay_records_what_a_fix_lets_in_and_is_idempotent(
    scenario: Scenario, tmp_path: Path
) -> None:
    events = case_events(scenario.tenant, cases=3, per_case=2)
    for event in events[0::2]:
        del event["data"]["opened_by"]  # refused by the contract as it stands
    sent = publish(scenario.topic, [*keyed(events), (None, b"still not json")])
    consume(scenario)
    store = EventStore(scenario.settings())
    try:
        old = Ledger(store, EventValidator(), FixedClock())
        assert len(list_dead_letters(old, "open")) == 4
        # Meanwhile one of them arrives again by another path, after the fix.
        fixed = Ledger(store, EventValidator(_fixed_schemas(tmp_path)), FixedClock())
        fixed.record([events[0]])
        first = replay_dead_letters(fixed)
        assert (first.recorded, first.duplicate, first.still_rejected) == (2, 1, 1)
        assert first.reasons == {"invalid_json": 1}, "the true rule, as on arrival"
        second = replay_dead_letters(fixed)
        assert (second.replayed, second.still_rejected) == (1, 1), "resolved ones stay resolved"
        forced = replay_dead_letters(fixed, include_resolved=True)
        assert (forced.recorded, forced.duplicate) == (0, 3)
        assert len(list_dead_letters(fixed, "resolved")) == 3
        keys = ledger_keys(store, scenario.tenant)
        assert sorted(keys.values()) == [1] * 6, "every event once, however often replayed"
    finally:
        store.close()
    assert len(sent) == 7


def test_the_metrics_endpoint_serves_prometheus_text_while_consuming(
    scenario: Scenario,
) -> None:
    publish(scenario.topic, keyed(case_events(scenario.tenant, cases=5, per_case=4)))
    ledger = build_ledger(scenario.settings())
    ports: list[int | None] = []
    stop = threading.Event()
    config = ConsumeConfig(topic=scenario.topic, group=scenario.group, batch_size=200,
                           linger_ms=50, metrics_port=0)
    worker = threading.Thread(target=run_consume, args=(ledger, scenario.settings(), config,
                                                        stop, None, ports.append))
    worker.start()
    try:
        wait_until(lambda: bool(ports) and _recorded(_scrape(ports[0]), scenario.topic) == 20
                   and "ledger_kafka_consumer_lag{" in _scrape(ports[0]), 60,
                   "the recorded counter and the lag gauge on /metrics")
        text = _scrape(ports[0])
    finally:
        stop.set()
        worker.join(timeout=60)
        ledger.store.close()
    ours = [line for line in text.splitlines() if scenario.topic in line]
    assert any(line.startswith("ledger_kafka_consumed_total{") for line in ours)
    assert any(line.startswith("ledger_kafka_consumer_lag{") and line.endswith(" 0.0")
               for line in ours), "caught up: no lag"


def _recorded(text: str, topic: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("ledger_kafka_recorded_total{") and topic in line)


def _scrape(port: int | None) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode())


def test_publish_keys_events_by_subject_and_refuses_non_json_unless_raw(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in scenario.env().items():
        if name.startswith("LEDGER_"):
            monkeypatch.setenv(name, value)
    events = case_events(scenario.tenant, cases=4, per_case=3)
    org = {
        "specversion": "1.0", "id": "hr-1", "source": "hr", "type":
        "ledger.org.employee.assigned", "time": "2026-03-01T09:00:00+08:00",
        "tenant": scenario.tenant, "data": {"employee_id": "e-li", "name": "Li",
                                            "unit_id": "sales"},
    }
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in [*events, org]) + b"\nnot json\n")
    runner = CliRunner()
    refused = runner.invoke(app, ["publish", str(path)])
    assert refused.exit_code == 1, refused.output
    published = runner.invoke(app, ["publish", str(path), "--raw"])
    assert published.exit_code == 0, published.output
    records = dlq_records(scenario.topic, 2 * 13 + 1, timeout=20)
    assert len(records) == 2 * 13 + 1, "12 events and the org event twice, the bad line once"
    partition_of: dict[bytes | None, set[int]] = {}
    for record in records:
        partition_of.setdefault(record.key, set()).add(record.partition)
    assert partition_of[b"e-li"]
    assert {k for k in partition_of if k and k.startswith(b"SO-")} == {
        f"SO-{c:06d}".encode() for c in range(4)}
    assert all(len(p) == 1 for k, p in partition_of.items() if k), "a case stays in a partition"
    assert [r.key for r in records if r.value == b"not json"] == [None]
    assert BOOTSTRAP


def test_the_last_batch_of_a_burst_is_counted_without_waiting_for_more_messages(
    scenario: Scenario,
) -> None:
    """The writer appends batches in the background; the one in flight when the stream
    goes quiet must still be settled (counted, committed) while nothing else arrives."""
    first, *burst = case_events(scenario.tenant, cases=1, per_case=6)
    publish(scenario.topic, keyed([first]))
    metrics = IngestMetrics()
    with consuming_in_background(scenario, metrics):
        wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) == 1, 60,
                   "the first event recorded")
        publish(scenario.topic, keyed(burst))  # one burst, one batch, then silence
        wait_until(lambda: metrics.snapshot()["totals"]["recorded"] == 1 + len(burst), 30,
                   "every event counted while the stream is quiet")


def test_a_rebalance_with_a_batch_in_flight_still_ends_with_everything_recorded(
    scenario: Scenario,
) -> None:
    """A fresh group rebalances again right after its first join; with a stream already
    waiting, the first batch is still being appended when its partitions are revoked.
    The consumer must rejoin and go on (it once stayed unassigned, polling forever)."""
    valid = case_events(scenario.tenant, cases=1000, per_case=12)
    publish(scenario.topic, keyed(valid))
    metrics = consume(scenario)
    assert metrics.snapshot()["totals"]["recorded"] == len(valid)
    assert entry_count(scenario.settings(), scenario.tenant) == len(valid)


def test_a_surplus_member_is_idle_without_churning_the_group_and_hands_back_cleanly() -> None:
    """More members than partitions: the one holding nothing asks the broker, learns the
    other owns everything, and counts as idle (no reconnect, which would rebalance the
    group over and over); when it leaves, the other holds the partition again."""
    scenario = Scenario("surplus-member", partitions=1)
    scenario.create_topics()
    valid = case_events(scenario.tenant, cases=20, per_case=5)
    first = IngestMetrics()
    try:
        publish(scenario.topic, keyed(valid[:50]))
        with consuming_in_background(scenario, first):
            wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) == 50, 60,
                       "the first member recording everything")
            started = time.monotonic()
            second = consume(scenario)
            assert time.monotonic() - started < ConsumerOptions("", "", "").stall_after_s
            assert second.snapshot()["totals"]["reconnects"] == 0
            publish(scenario.topic, keyed(valid[50:]))
            wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) == len(valid),
                       60, "the remaining member holding the partition again")
    finally:
        scenario.cleanup()
    # Churn would be reconnect after reconnect. One is the stall watch doing its job: when the
    # leaving member's LeaveGroup is refused (UnknownMemberIdError), kafka-python can leave
    # this member unassigned while the partition belongs to nobody, until it rejoins afresh.
    assert first.snapshot()["totals"]["reconnects"] <= 1
    assert first.snapshot()["totals"]["recorded"] + second.snapshot()["totals"]["recorded"] \
        == len(valid)


class _ReconnectsOnceMidStream(LedgerConsumer):
    """The real consumer, made to take the stalled-member way out once, mid-stream (when
    and why it does so on its own is decided by AssignmentWatch, tests/unit)."""

    def __init__(self, *args: Any, after_recorded: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after_recorded = after_recorded
        self.reconnected = False

    def _watch_assignment(self, now: float) -> None:
        recorded = self.metrics.snapshot()["totals"]["recorded"]
        if not self.reconnected and recorded >= self.after_recorded:
            self.reconnected = True
            self._reconnect()
            return
        super()._watch_assignment(now)


def test_a_member_that_reconnects_mid_stream_loses_and_duplicates_nothing(
    scenario: Scenario,
) -> None:
    valid = case_events(scenario.tenant, cases=300, per_case=10)
    sent = publish(scenario.topic, keyed(valid))
    ledger = build_ledger(scenario.settings())
    options = ConsumerOptions(BOOTSTRAP, scenario.topic, scenario.group, batch_size=200,
                              linger_ms=50, session_timeout_ms=6000,
                              max_partition_fetch_bytes=65536)
    consumer = _ReconnectsOnceMidStream(ledger, options, after_recorded=len(valid) // 3)
    try:
        consumer.run(threading.Event(), until_idle_s=1.5)
    finally:
        ledger.store.close()
    assert consumer.reconnected
    totals = consumer.metrics.snapshot()["totals"]
    assert totals["recorded"] == len(valid)
    reconcile(scenario, sent, valid, [])
