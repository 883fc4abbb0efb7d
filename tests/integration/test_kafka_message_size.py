"""A Kafka message over LEDGER_KAFKA_MAX_MESSAGE_BYTES is dead-lettered unread, and
nothing else waits for it.

First batches built by hand (SQLite and PostgreSQL, no broker), then the real broker:
`ledger consume --until-idle` with the limit from its environment, and a restart.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from cli.root import build_ledger
from consumers.batch import BatchRecorder
from consumers.dlq import list_dead_letters
from consumers.dlq_records import H_REASON, H_SOURCE_OFFSET
from consumers.messages import InboundMessage, message_size
from consumers.service import ConsumeConfig, run_consume
from ledger.application.recording import Ledger
from ledger.config import Settings
from tests.fault.harness import (
    KAFKA_WARNINGS,
    ConsumerProcess,
    Scenario,
    case_events,
    dlq_records,
    header,
    ledger_keys,
    scenario_fixture,  # noqa: F401  (the `scenario` fixture)
)
from tests.fault.producers import produce
from tests.support.envelopes import envelope

TOPIC = "ledger.events"
LIMIT = 2048


def _message(offset: int, value: bytes | None, key: bytes | None = b"SO-1001",
             headers: tuple[tuple[str, bytes | None], ...] = ()) -> InboundMessage:
    return InboundMessage(TOPIC, 0, offset, key, value, headers)


def _good(event_id: str) -> bytes:
    return orjson.dumps(envelope(event_id))


def _padded(event_id: str, size: int) -> bytes:
    """A valid envelope of `size` bytes (the ledger would record it if it were read)."""
    bare = envelope(event_id, payload={"pad": ""})
    padding = size - len(orjson.dumps(bare))
    bare["data"]["payload"]["pad"] = "x" * padding
    value = orjson.dumps(bare)
    assert len(value) == size
    return value


def test_a_message_over_the_limit_is_dead_lettered_unread_and_its_batch_is_recorded(
    ledger: Ledger,
) -> None:
    big = _padded("big", 3 * LIMIT)
    batch = [_message(4, _good("a")), _message(5, big), _message(6, _good("b"))]
    result = BatchRecorder(ledger, max_message_bytes=LIMIT).record(batch)
    assert (result.recorded, result.dead_lettered) == (2, 1)
    assert result.dead_letter_rules == {"message_too_large": 1}
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]
    (view,) = list_dead_letters(ledger)
    assert view.letter.rules == ["message_too_large"]
    assert view.letter.value == big and view.letter.key == b"SO-1001", "the original bytes"
    assert view.letter.source_offset == 5
    message = view.letter.reasons[0]["message"]
    assert str(LIMIT) in message and str(len(big) + len(b"SO-1001")) in message


def test_value_and_key_together_at_the_limit_are_read_and_one_byte_more_is_not(
    ledger: Ledger,
) -> None:
    key = b"SO-1001"
    at_limit = _padded("at", LIMIT - len(key))
    over = _padded("over", LIMIT - len(key) + 1)
    result = BatchRecorder(ledger, max_message_bytes=LIMIT).record(
        [_message(0, at_limit, key), _message(1, over, key)])
    assert (result.recorded, result.dead_letter_rules) == (1, {"message_too_large": 1})
    assert [e.event_id for e in ledger.store.entries("acme")] == ["at"]


def test_headers_count_toward_the_limit_and_the_letter_names_the_binary_events_id(
    ledger: Ledger,
) -> None:
    headers = (("ce_specversion", b"1.0"), ("ce_id", b"big-binary"), ("ce_tenant", b"acme"),
               ("ce_type", b"ledger.operation.submitted"), ("ce_source", b"erp/orders"),
               ("content-type", b"application/json"), ("trace", b"t" * LIMIT))
    message = _message(0, b'{"actor_id": "e-li"}', headers=headers)
    assert len(message.value or b"") < LIMIT < message_size(message)
    result = BatchRecorder(ledger, max_message_bytes=LIMIT).record([message])
    assert result.dead_letter_rules == {"message_too_large": 1}
    (view,) = list_dead_letters(ledger)
    assert (view.letter.event_id, view.letter.tenant) == ("big-binary", "acme")
    assert view.letter.original_headers == list(headers)


def test_without_a_limit_a_recorder_reads_every_message(ledger: Ledger) -> None:
    result = BatchRecorder(ledger).record([_message(0, _padded("big", 20 * LIMIT))])
    assert (result.recorded, result.dead_lettered) == (1, 0)


# --- on the real broker ---------------------------------------------------------------------


@pytest.mark.kafka
@pytest.mark.postgres
@KAFKA_WARNINGS
@pytest.mark.timeout(240)
def test_consume_dead_letters_an_oversized_message_records_the_rest_and_a_restart_redoes_nothing(
    scenario: Scenario, tmp_path: Path
) -> None:
    limit = 4096
    events = case_events(scenario.tenant, cases=1, per_case=6)
    big_event = dict(events[3], data={**events[3]["data"], "note": "z" * (2 * limit)})
    values = [orjson.dumps(e) for e in events[:3]] + [orjson.dumps(big_event)] + \
        [orjson.dumps(e) for e in events[4:]]
    sent = produce(scenario.topic, [(b"SO-000000", v, []) for v in values], partition=2)
    big = sent[3]

    started = time.monotonic()
    consumer = ConsumerProcess(scenario, tmp_path, "size", "--until-idle", "2",
                               LEDGER_KAFKA_MAX_MESSAGE_BYTES=str(limit)).start()
    assert consumer.proc is not None
    code = consumer.proc.wait(timeout=120)
    assert code == 0, consumer.log_text()[-2000:]
    assert time.monotonic() - started < 120, "--until-idle ends"
    totals = _printed_totals(consumer.log_text())
    assert (totals["recorded"], totals["dead_lettered"], totals["lag"]) == (5, 1, 0)

    ledger = build_ledger(scenario.settings())
    try:
        keys = ledger_keys(ledger.store, scenario.tenant)
        (view,) = list_dead_letters(ledger)
    finally:
        ledger.store.close()
    assert keys == {(e["source"], e["id"]): 1 for e in events[:3] + events[4:]}
    assert view.letter.rules == ["message_too_large"]
    assert (view.letter.source_partition, view.letter.source_offset) == (2, big.offset)
    assert view.letter.value == big.value
    [record] = dlq_records(scenario.dlq_topic, 1)
    assert int(header(record, H_SOURCE_OFFSET) or b"-1") == big.offset
    [reason] = orjson.loads(header(record, H_REASON) or b"[]")
    assert reason["rule"] == "message_too_large" and str(limit) in reason["message"]

    again = _consume(scenario, scenario.settings().model_copy(
        update={"kafka_max_message_bytes": limit}))
    assert again["consumed"] == 0, "a restart redoes nothing"
    ledger = build_ledger(scenario.settings())
    try:
        assert ledger_keys(ledger.store, scenario.tenant) == keys
        assert len(list_dead_letters(ledger)) == 1
    finally:
        ledger.store.close()


def _consume(scenario: Scenario, settings: Settings) -> dict[str, int]:
    ledger = build_ledger(settings)
    config = ConsumeConfig(topic=scenario.topic, group=scenario.group, batch_size=200,
                           linger_ms=50, until_idle_s=1.5)
    try:
        metrics = run_consume(ledger, settings, config, threading.Event())
    finally:
        ledger.store.close()
    totals: dict[str, int] = metrics.snapshot()["totals"]
    return totals


def _printed_totals(log: str) -> dict[str, int]:
    """The totals `ledger consume` prints on stdout last (its logs share the file)."""
    for line in reversed(log.splitlines()):
        if line.startswith("{") and '"dead_lettered"' in line:
            totals: dict[str, int] = orjson.loads(line)
            return totals
    raise AssertionError(f"no totals printed:\n{log[-2000:]}")
