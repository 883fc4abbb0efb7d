"""What the Kafka client cannot decode, binary-mode CloudEvents, and DLQ records: no broker.

consumers/fetching.py reaches into kafka-python's fetcher; these tests hold the two
together on record batches built with kafka-python's own builder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from kafka.consumer.fetcher import IsolationLevel
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.structs import TopicPartition

from cli.kafka import printable
from consumers.dead_letters import dead_letter_of
from consumers.dlq_records import H_VALUE, NullValued, dlq_record
from consumers.fetching import TolerantPartitionRecords
from consumers.messages import InboundMessage, binary_envelope, decode_message
from tests.fault.producers import RawName

TP = TopicPartition("events", 0)


def records(*values: tuple[bytes, list[Any]], compression: int = 0, offset: int = 0) -> bytes:
    builder = MemoryRecordsBuilder(magic=2, compression_type=compression, batch_size=10**7,
                                   offset=offset)
    for value, headers in values:
        builder.append(timestamp=None, key=b"k", value=value, headers=headers)
    builder.close()
    return bytes(builder.buffer())


def read(data: bytes, fetch_offset: int = 0) -> list[Any]:
    part = TolerantPartitionRecords(fetch_offset, TP, MemoryRecords(data),
                                    isolation_level=IsolationLevel.READ_COMMITTED)
    out: list[Any] = []
    while part and (batch := part.take(100)):  # false once drained, as the fetcher checks
        out.extend(batch)
    return out


def test_a_record_whose_header_name_is_not_utf8_comes_out_undecodable_between_good_ones() -> None:
    data = records((b"a", []), (b"b", [(RawName(b"\xff\xfe"), b"v")]), (b"c", [("ok", b"")]))
    got = read(data)
    assert [r.offset for r in got] == [0, 1, 2]
    bad = got[1]
    assert isinstance(bad, InboundMessage) and bad.undecodable is not None
    assert bad.undecodable.reason.rule == "undecodable_record"
    assert (bad.value, bad.headers) == (b"b", (("\\xff\\xfe", b"v"),))
    assert got[2].value == b"c" and got[2].headers == [("ok", b"")]


def test_a_batch_with_a_codec_nobody_has_comes_out_as_one_undecodable_message() -> None:
    data = bytearray(records((b"a", []), (b"b", []), offset=5))
    data[22] |= 0x06  # attributes: codec 6 (the CRC is not checked here)
    part = TolerantPartitionRecords(5, TP, MemoryRecords(bytes(data)), check_crcs=False)
    [message] = part.take(10)
    assert message.undecodable.first_offset == 5 and message.offset == 6
    assert message.undecodable.reason.rule == "undecodable_batch"
    assert message.value == bytes(data)
    letter = dead_letter_of(message, (message.undecodable.reason,), datetime.now(UTC))
    assert (letter.source_offset, letter.source_last_offset) == (5, 6)
    assert letter.source == "events:0:5-6"


def test_a_batch_failing_its_crc_is_dead_lettered_from_the_fetch_position() -> None:
    data = bytearray(records((b"a", []), (b"b", []), (b"c", [])))
    data[-1] ^= 0xFF
    [message] = read(bytes(data), fetch_offset=1)
    assert (message.undecodable.first_offset, message.offset) == (1, 2)


def envelope() -> dict[str, Any]:
    return {"specversion": "1.0", "id": "e-1", "source": "erp/orders", "type": "x.y",
            "time": "2026-03-01T09:00:00+08:00", "tenant": "acme", "subject": "SO-1",
            "datacontenttype": "application/json", "data": {"n": 1, "s": "ü"}}


def as_binary(event: dict[str, Any]) -> list[tuple[str, bytes | None]]:
    headers: list[tuple[str, bytes | None]] = []
    for name, value in event.items():
        if name == "datacontenttype":
            headers.append(("content-type", value.encode()))
        elif name != "data":
            headers.append((f"ce_{name}", str(value).encode()))
    return headers


def test_a_binary_mode_event_is_the_very_envelope_of_its_structured_form() -> None:
    event = envelope()
    message = InboundMessage("t", 0, 0, b"SO-1", orjson.dumps(event["data"]),
                             (*as_binary(event), ("traceparent-not-ce", b"x")))
    assert decode_message(message) == (event, None)


def test_binary_mode_refusals_name_the_true_rule() -> None:
    event = envelope()
    headers = as_binary(event)
    assert binary_envelope(headers, b"{no")[1].rule == "invalid_json"  # type: ignore[union-attr]
    xml = [(n, b"application/xml" if n == "content-type" else v) for n, v in headers]
    assert binary_envelope(xml, b"{}")[1].rule == "unsupported_content_type"  # type: ignore[union-attr]
    twice = [*headers, ("ce_id", b"other")]
    assert binary_envelope(twice, b"{}")[1].rule == "invalid_binary_event"  # type: ignore[union-attr]


def test_a_structured_mode_message_with_ce_headers_is_read_from_its_value() -> None:
    event = envelope()
    headers = (("content-type", b"application/cloudevents+json"), ("ce_specversion", b"1.0"))
    message = InboundMessage("t", 0, 0, None, orjson.dumps(event), headers)
    assert decode_message(message) == (event, None)


def letter(value: bytes | None, key: bytes | None = b"k", headers: Any = ()) -> Any:
    message = InboundMessage("t", 0, 3, key, value, headers)
    return dead_letter_of(message, (), datetime.now(UTC))


def size_of(key: bytes | None, value: bytes | None, headers: list[Any]) -> int:
    return len(key or b"") + len(value or b"") + sum(len(n) + len(v or b"") for n, v in headers)


def test_a_letter_over_the_dlq_limit_goes_as_a_reference_and_a_small_one_as_it_is() -> None:
    key, value, headers = dlq_record(letter(b"x" * 5000), 9, 2000, size_of)
    assert (H_VALUE, b"stored") in headers and key == b"k"
    assert orjson.loads(value or b"")["stored_dead_letter"]["value_bytes"] == 5000
    assert dlq_record(letter(b"small"), 9, 2000, size_of)[1] == b"small"
    assert (H_VALUE, b"stored") in dlq_record(letter(None, key=None), 9, 2000, size_of)[2]


def test_a_null_header_value_stays_null_through_the_relay() -> None:
    _key, _value, headers = dlq_record(letter(b"v", headers=(("n", None),)), 1, 10**6, size_of)
    null = headers[0]
    assert isinstance(null, NullValued) and tuple(iter(null)) == ("n", None)


def test_control_characters_are_printed_escaped() -> None:
    assert printable("SO-\x00\x1b[31m") == "SO-\\x00\\x1b[31m"
    assert printable("plain ü") == "plain ü"
