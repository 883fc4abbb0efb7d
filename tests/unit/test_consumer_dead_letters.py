"""Dead letters keep the original message, and the DLQ headers say why and where from."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from consumers.batch import tracking_name
from consumers.dead_letters import dead_letter_id, dead_letter_of
from consumers.dlq_records import (
    H_ID,
    H_NOTIFICATION,
    H_REASON,
    H_SOURCE_OFFSET,
    H_SOURCE_PARTITION,
    H_SOURCE_TOPIC,
    dlq_headers,
)
from consumers.messages import InboundMessage
from ledger.domain.recording import Reason

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
BINARY = bytes(range(256))


def message(**kw: object) -> InboundMessage:
    values: dict[str, object] = {
        "topic": "ledger.events", "partition": 3, "offset": 41, "key": b"SO-1",
        "value": BINARY, "headers": (("trace", b"\x00\x01"), ("empty", None)),
    }
    values.update(kw)
    return InboundMessage(**values)  # type: ignore[arg-type]


def test_a_dead_letter_id_is_the_same_for_the_same_message_and_differs_otherwise() -> None:
    assert dead_letter_id("t", 1, 2) == dead_letter_id("t", 1, 2)
    assert len({dead_letter_id("t", 1, 2), dead_letter_id("t", 1, 3),
                dead_letter_id("t", 2, 2), dead_letter_id("u", 1, 2)}) == 4


def test_a_dead_letter_keeps_key_value_and_headers_byte_for_byte() -> None:
    reason = Reason("invalid_json", "", "not JSON")
    letter = dead_letter_of(message(), (reason,), NOW)
    assert letter.value == BINARY
    assert letter.key == b"SO-1"
    assert letter.original_headers == [("trace", b"\x00\x01"), ("empty", None)]
    assert letter.reasons == [reason.as_dict()]
    assert letter.originator_version == 1
    assert letter.originator_id == dead_letter_id("ledger.events", 3, 41)
    assert letter.source == "ledger.events:3:41"


def test_a_dead_letter_without_key_or_value_keeps_their_absence() -> None:
    letter = dead_letter_of(message(key=None, value=None), (), NOW)
    assert letter.key is None and letter.value is None


def test_a_dead_letter_is_json_native_so_the_store_keeps_it_exactly() -> None:
    letter = dead_letter_of(message(), (Reason("r", "f", "m"),), NOW)
    state = {k: v for k, v in vars(letter).items() if k not in ("originator_id", "timestamp")}
    assert orjson.loads(orjson.dumps(state)) == state


def test_dlq_headers_carry_the_reason_and_the_source_position_after_the_originals() -> None:
    letter = dead_letter_of(
        message(headers=(("trace", b"x"), (H_REASON, b"forged"))),
        (Reason("required", "data", "data is required"),), NOW,
    )
    headers = dlq_headers(letter, 77)
    names = [name for name, _ in headers]
    assert names[0] == "trace"
    assert names.count(H_REASON) == 1, "an inbound header never poses as the ledger's"
    values = dict(headers)
    assert orjson.loads(values[H_REASON]) == [
        {"rule": "required", "field": "data", "message": "data is required"}
    ]
    assert values[H_SOURCE_TOPIC] == b"ledger.events"
    assert values[H_SOURCE_PARTITION] == b"3"
    assert values[H_SOURCE_OFFSET] == b"41"
    assert values[H_ID] == str(letter.originator_id).encode()
    assert values[H_NOTIFICATION] == b"77"


def test_a_partition_position_is_tracked_under_topic_and_partition() -> None:
    assert tracking_name("ledger.events", 7) == "kafka:ledger.events:7"
