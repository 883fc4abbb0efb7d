"""`ledger consume` takes whatever real producers send, and no message can stop it.

On the real broker, with producers the ledger did not write (tests/fault/producers.py):
Kafka's console producer compressing with every codec, kafka-python's transactional
producer, the official CloudEvents SDK in both content modes, a header name that is not
UTF-8, batches damaged on the broker's disk, a 1 MB poison message.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.root import build_ledger
from consumers.dlq import list_dead_letters, replay_dead_letters, resolve_superseded
from consumers.dlq_records import H_SOURCE_LAST_OFFSET, H_SOURCE_OFFSET, H_VALUE, NullValued
from tests.fault.harness import (
    KAFKA_WARNINGS,
    ConsumerProcess,
    Scenario,
    case_events,
    dlq_records,
    entry_count,
    header,
    keyed,
    ledger_keys,
    publish,
    scenario_fixture,  # noqa: F401  (the `scenario` fixture)
    wait_until,
)
from tests.fault.producers import (
    RawName,
    allow_messages_up_to,
    binary_mode,
    console_produce,
    damage_batch,
    produce,
    structured_mode,
    transactions,
)
from tests.integration.test_kafka_ingest import consume

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, KAFKA_WARNINGS, pytest.mark.timeout(240)]


def _letters(scenario: Scenario) -> list[object]:
    ledger = build_ledger(scenario.settings())
    try:
        return list(list_dead_letters(ledger))
    finally:
        ledger.store.close()


@pytest.mark.parametrize("codec", ["snappy", "lz4", "zstd", "gzip"])
def test_batches_compressed_by_kafkas_console_producer_are_recorded_with_every_codec(
    scenario: Scenario, codec: str
) -> None:
    events = case_events(scenario.tenant, cases=6, per_case=5)
    console_produce(scenario.topic, keyed(events[:20]), codec)
    publish(scenario.topic, keyed(events[20:]))  # plain ones beside them
    totals = consume(scenario).snapshot()["totals"]
    assert (totals["recorded"], totals["dead_lettered"], totals["lag"]) == (30, 0, 0)
    assert sorted(ledger_keys(build_ledger(scenario.settings()).store,
                              scenario.tenant).values()) == [1] * 30


def test_a_header_name_that_is_not_utf8_is_dead_lettered_and_the_partition_moves_on(
    scenario: Scenario,
) -> None:
    before, after = case_events(scenario.tenant, cases=1, per_case=3)[:2], \
        case_events(scenario.tenant, cases=1, per_case=3)[2:]
    sent = produce(scenario.topic, [
        (b"SO-000000", orjson.dumps(before[0]), []),
        (b"SO-000000", orjson.dumps(before[1]), [(RawName(b"\xff\xfe-trace"), b"v")]),
        (b"SO-000000", orjson.dumps(after[0]), [NullValued("ok")]),
    ], partition=0)
    first = consume(scenario).snapshot()["totals"]
    assert (first["recorded"], first["dead_lettered"]) == (2, 1)
    [letter] = [v.letter for v in _letters(scenario)]  # type: ignore[attr-defined]
    assert (letter.source_partition, letter.source_offset) == (0, sent[1].offset)
    assert letter.rules == ["undecodable_record"]
    assert letter.value == sent[1].value and letter.key == b"SO-000000"
    assert letter.original_headers == [("\\xff\\xfe-trace", b"v")]
    again = consume(scenario).snapshot()["totals"]  # a restart does not stop on it again
    assert again["consumed"] == 0
    [record] = dlq_records(scenario.dlq_topic, 1)
    assert int(header(record, H_SOURCE_OFFSET) or b"-1") == sent[1].offset


@pytest.mark.parametrize("damage", ["codec", "crc"])
def test_a_batch_the_client_cannot_decode_is_dead_lettered_whole_and_others_go_on(
    scenario: Scenario, damage: str
) -> None:
    good = case_events(scenario.tenant, cases=4, per_case=3)
    bad = produce(scenario.topic, [(b"SO-x", b'{"poison": 1}', [])], partition=0)[0]
    after = produce(scenario.topic, [(b"SO-000000", orjson.dumps(good[0]), [])], partition=0)
    publish(scenario.topic, keyed(good[1:]))  # the other partitions
    damage_batch(scenario.topic, 0, bad.offset, damage)
    first = consume(scenario).snapshot()["totals"]
    assert (first["recorded"], first["dead_lettered"], first["lag"]) == (len(good), 1, 0)
    [letter] = [v.letter for v in _letters(scenario)]  # type: ignore[attr-defined]
    assert letter.rules == ["undecodable_batch"]
    assert (letter.source_partition, letter.source_offset) == (0, bad.offset)
    assert letter.value is not None and len(letter.value) > 61, "the batch as delivered"
    assert after[0].offset > bad.offset
    assert consume(scenario).snapshot()["totals"]["consumed"] == 0, "restart: no crash"
    assert dlq_records(scenario.dlq_topic, 1)


def test_transactions_committed_and_aborted_end_idle_with_no_lag_and_nothing_aborted(
    scenario: Scenario,
) -> None:
    events = case_events(scenario.tenant, cases=3, per_case=4)
    committed, aborted, later = keyed(events[:4]), keyed(events[4:8]), keyed(events[8:])
    transactions(scenario.topic, committed, aborted)
    publish(scenario.topic, later)  # after the markers: offsets with gaps before them
    started = time.monotonic()
    metrics = consume(scenario)
    # It must end (once it never did); a group join that kafka-python leaves empty costs a
    # stall-watch rejoin of up to LEDGER_KAFKA_STALL_AFTER_S each, seen in CI runs.
    assert time.monotonic() - started < 180, "--until-idle ends"
    snapshot = metrics.snapshot()
    assert snapshot["totals"]["recorded"] == 8
    assert all(p["lag"] in (0, None) for p in snapshot["partitions"].values())
    keys = set(ledger_keys(build_ledger(scenario.settings()).store, scenario.tenant))
    assert keys == {(e["source"], e["id"]) for e in events[:4] + events[8:]}
    assert consume(scenario).snapshot()["totals"]["consumed"] == 0


def test_a_one_megabyte_poison_message_reaches_the_dlq_and_later_letters_follow_it(
    scenario: Scenario,
) -> None:
    """The 1 MB letter goes whole (the relay's producer is sized from the DLQ topic's
    limit); a 2 MB one, which a topic configured for it let in, goes as a reference to
    its stored copy; the small one after them is not held up."""
    one_mb, two_mb = b"x" * 1_000_000, b"y" * 2_000_000
    allow_messages_up_to(scenario.topic, 3 * 1024 * 1024)
    sent = produce(scenario.topic, [(b"SO-1mb", one_mb, []), (b"SO-2mb", two_mb, []),
                                    (None, b"small poison", [])],
                   partition=0, max_request_size=3 * 1024 * 1024)
    consume(scenario)
    records = dlq_records(scenario.dlq_topic, 3)
    by_offset = {int(header(r, H_SOURCE_OFFSET) or b"-1"): r for r in records}
    assert set(by_offset) == {s.offset for s in sent}
    assert by_offset[sent[0].offset].value == one_mb
    reference = by_offset[sent[1].offset]
    assert header(reference, H_VALUE) == b"stored" and reference.key == b"SO-2mb"
    stored = orjson.loads(reference.value)["stored_dead_letter"]
    assert stored["value_sha256"] == hashlib.sha256(two_mb).hexdigest()
    assert by_offset[sent[2].offset].value == b"small poison"
    assert header(by_offset[sent[2].offset], H_SOURCE_LAST_OFFSET) is None
    ledger = build_ledger(scenario.settings())
    try:
        values = {v.letter.source_offset: v.letter.value for v in list_dead_letters(ledger)}
    finally:
        ledger.store.close()
    assert values[sent[1].offset] == two_mb, "the store keeps the original bytes"


def test_a_null_header_value_stays_null_on_the_dlq(scenario: Scenario) -> None:
    produce(scenario.topic, [(b"k", b"not json", [NullValued("trace"), ("empty", b"")])])
    consume(scenario)
    [record] = dlq_records(scenario.dlq_topic, 1)
    assert ("trace", None) in record.headers and ("empty", b"") in record.headers


def test_binary_and_structured_cloudevents_of_one_event_are_one_entry_with_one_digest(
    scenario: Scenario,
) -> None:
    events = case_events(scenario.tenant, cases=2, per_case=3)
    produce(scenario.topic, [binary_mode(e) for e in events])
    first = consume(scenario).snapshot()["totals"]
    assert (first["recorded"], first["dead_lettered"]) == (6, 0)
    produce(scenario.topic, [structured_mode(e) for e in events])
    second = consume(scenario).snapshot()["totals"]
    assert (second["duplicate"], second["dead_lettered"]) == (6, 0), "same key, same digest"
    ledger = build_ledger(scenario.settings())
    try:
        entries = list(ledger.store.iter_entries(scenario.tenant))
    finally:
        ledger.store.close()
    sdk = {e["id"]: orjson.loads(structured_mode(e)[1]) for e in events}
    assert all(dict(entry.envelope) == sdk[entry.event_id] for entry in entries)


def test_a_refused_binary_event_names_its_id_and_tenant_and_a_proper_resend_resolves_it(
    scenario: Scenario,
) -> None:
    event = case_events(scenario.tenant, cases=1, per_case=1)[0]
    key, _value, headers = binary_mode(event)
    produce(scenario.topic, [(key, b"{not json", headers)])
    consume(scenario)
    [view] = _letters(scenario)
    assert (view.letter.event_id, view.letter.tenant) == (event["id"], scenario.tenant)  # type: ignore[attr-defined]
    assert view.letter.rules == ["invalid_json"]  # type: ignore[attr-defined]
    produce(scenario.topic, [structured_mode(event)])  # the producer resends it properly
    consume(scenario)
    ledger = build_ledger(scenario.settings())
    try:
        replay = replay_dead_letters(ledger)
        assert replay.reasons == {"invalid_json": 1}, "the true rule"
        report = resolve_superseded(ledger)
        assert (report.checked, report.superseded) == (1, 1)
        assert list_dead_letters(ledger, "open") == []
        assert resolve_superseded(ledger).checked == 0
    finally:
        ledger.store.close()


def test_dlq_list_at_80_columns_keeps_the_source_whole_and_escapes_control_characters(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in scenario.env().items():
        if name.startswith("LEDGER_"):
            monkeypatch.setenv(name, value)
    sent = produce(scenario.topic, [(b"SO-\x00\x1b[31m", b"not json", [])], partition=3)
    consume(scenario)
    runner = CliRunner()
    narrow = runner.invoke(app, ["dlq", "list"], env={"COLUMNS": "80"}, terminal_width=80)
    assert narrow.exit_code == 0, narrow.output
    assert all(len(line) <= 80 for line in narrow.output.splitlines())
    assert "\x00" not in narrow.output and "\x1b" not in narrow.output
    assert "…" not in narrow.output, "nothing cut off"
    squeezed = "".join(line.split("│")[2].strip() for line in narrow.output.splitlines()
                       if line.count("│") >= 3)
    assert f"{scenario.topic}:3:{sent[0].offset}" in squeezed
    wide = runner.invoke(app, ["dlq", "list", "--wide"], env={"COLUMNS": "80"})
    assert f"{scenario.topic}:3:{sent[0].offset}" in wide.output
    assert "SO-\\x00\\x1b[31m" in wide.output


def test_sigterm_ends_consume_until_idle_promptly(scenario: Scenario, tmp_path: Path) -> None:
    publish(scenario.topic, keyed(case_events(scenario.tenant, cases=2, per_case=2)))
    publish(scenario.topic, [(None, b"poison for the relay")])
    consumer = ConsumerProcess(scenario, tmp_path, "idle", "--until-idle", "600").start()
    wait_until(lambda: entry_count(scenario.settings(), scenario.tenant) == 4, 90,
               "the events recorded")
    assert consumer.proc is not None
    consumer.proc.send_signal(signal.SIGTERM)
    try:
        code = consumer.proc.wait(timeout=45)
    except subprocess.TimeoutExpired:
        consumer.proc.kill()
        raise AssertionError(f"SIGTERM ignored:\n{consumer.log_text()[-2000:]}") from None
    assert code == 0, consumer.log_text()[-2000:]
