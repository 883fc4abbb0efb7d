"""A partition batch is one ledger transaction: events, dead letters and position together.

No broker here: batches are built by hand and recorded on SQLite and on the real
PostgreSQL (the `ledger` fixture runs every test on both).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from consumers.batch import BatchRecorder, tracking_name
from consumers.dead_letters import dead_letter_of
from consumers.dlq import list_dead_letters
from consumers.messages import InboundMessage
from ledger.application.recording import AlreadyTracked, Ledger, LedgerUnavailable
from tests.support.envelopes import envelope

TOPIC = "ledger.events"


def batch(values: list[bytes], partition: int = 0, first: int = 0) -> list[InboundMessage]:
    return [
        InboundMessage(TOPIC, partition, first + i, b"SO-1001", value)
        for i, value in enumerate(values)
    ]


def good(event_id: str, **kw: Any) -> bytes:
    return orjson.dumps(envelope(event_id, **kw))


def test_a_batch_records_its_events_and_its_partition_position_together(ledger: Ledger) -> None:
    result = BatchRecorder(ledger).record(batch([good("a"), good("b"), good("a")], first=10))
    assert (result.recorded, result.duplicate, result.dead_lettered) == (2, 1, 0)
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]
    assert ledger.store.max_tracking_id(tracking_name(TOPIC, 0)) == 12


def test_a_batch_whose_position_is_already_recorded_is_not_applied_again(
    ledger: Ledger,
) -> None:
    recorder = BatchRecorder(ledger)
    recorder.record(batch([good("a"), good("b")]))
    with pytest.raises(AlreadyTracked):
        recorder.record(batch([good("a"), good("b")]))
    with pytest.raises(AlreadyTracked):
        recorder.record(batch([good("a")]))
    assert len(ledger.store.entries("acme")) == 2
    assert list_dead_letters(ledger) == []


def test_partitions_keep_their_own_positions(ledger: Ledger) -> None:
    recorder = BatchRecorder(ledger)
    recorder.record(batch([good("a")], partition=0, first=5))
    recorder.record(batch([good("b")], partition=1, first=2))
    assert ledger.store.max_tracking_id(tracking_name(TOPIC, 0)) == 5
    assert ledger.store.max_tracking_id(tracking_name(TOPIC, 1)) == 2


def test_a_value_that_is_not_json_is_dead_lettered_with_its_bytes(ledger: Ledger) -> None:
    junk = b"\xff\x00 not json"
    result = BatchRecorder(ledger).record(batch([good("a"), junk, good("b")], first=7))
    assert (result.recorded, result.dead_lettered) == (2, 1)
    (view,) = list_dead_letters(ledger)
    assert view.letter.value == junk and view.letter.key == b"SO-1001"
    assert (view.letter.source_partition, view.letter.source_offset) == (0, 8)
    assert view.letter.rules == ["invalid_json"]


def test_a_rejected_envelope_is_dead_lettered_with_every_reason(ledger: Ledger) -> None:
    bad = envelope("bad")
    del bad["data"]["actor_id"]
    bad["tenant"] = "NOT A TENANT"
    BatchRecorder(ledger).record(batch([orjson.dumps(bad)]))
    (view,) = list_dead_letters(ledger)
    assert sorted(r["field"] for r in view.letter.reasons) == ["data.actor_id", "tenant"]
    assert view.letter.event_id == "bad"


def test_an_idempotency_conflict_is_dead_lettered_and_the_original_stays(
    ledger: Ledger,
) -> None:
    recorder = BatchRecorder(ledger)
    recorder.record(batch([good("a")]))
    result = recorder.record(batch([good("a", payload={"return_days": 1})], first=1))
    assert result.dead_lettered == 1
    (view,) = list_dead_letters(ledger)
    assert view.letter.rules == ["idempotency_conflict"]
    (entry,) = ledger.store.entries("acme")
    assert entry.envelope["data"]["payload"] == {"return_days": 7}


def test_a_batch_that_cannot_commit_leaves_no_event_no_dead_letter_and_no_position(
    ledger: Ledger,
) -> None:
    """The dead letter of offset 1 exists already (as if written by a zombie consumer):
    the whole batch, with its good events and its position, is refused."""
    messages = batch([good("a"), b"junk", good("b")])
    ledger.store.append([dead_letter_of(messages[1], (), ledger.clock())])
    with pytest.raises(LedgerUnavailable):
        BatchRecorder(ledger).record(messages)
    assert ledger.store.entries("acme") == []
    assert ledger.store.max_tracking_id(tracking_name(TOPIC, 0)) is None
    assert len(list_dead_letters(ledger)) == 1


def test_a_batch_mixes_tenants_in_one_transaction(ledger: Ledger) -> None:
    result = BatchRecorder(ledger).record(
        batch([good("a", tenant="acme"), good("a", tenant="globex")])
    )
    assert result.recorded == 2
    assert len(ledger.store.entries("globex")) == 1
