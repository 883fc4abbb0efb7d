"""How a dead letter looks on the DLQ topic: its original key, value and headers plus the
`ledger.dlq.*` headers, or a reference to its stored copy when Kafka cannot carry it as it
is (consumers/relay.py says when and why)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from consumers.dead_letters import DeadLetterRecorded

H_REASON = "ledger.dlq.reason"
H_SOURCE_TOPIC = "ledger.dlq.source.topic"
H_SOURCE_PARTITION = "ledger.dlq.source.partition"
H_SOURCE_OFFSET = "ledger.dlq.source.offset"
H_ID = "ledger.dlq.id"
H_NOTIFICATION = "ledger.dlq.notification_id"
H_SOURCE_LAST_OFFSET = "ledger.dlq.source.last_offset"
#: `stored`: the value on the DLQ is a reference, the original bytes are in the store.
H_VALUE = "ledger.dlq.value"
LEDGER_HEADERS = (H_REASON, H_SOURCE_TOPIC, H_SOURCE_PARTITION, H_SOURCE_OFFSET, H_ID,
                  H_NOTIFICATION, H_SOURCE_LAST_OFFSET, H_VALUE)


def ledger_headers(letter: DeadLetterRecorded, notification_id: int) -> list[tuple[str, bytes]]:
    """The reason and the source position of the message, and the letter's identity."""
    headers = [
        (H_REASON, orjson.dumps(letter.reasons)),
        (H_SOURCE_TOPIC, letter.source_topic.encode()),
        (H_SOURCE_PARTITION, str(letter.source_partition).encode()),
        (H_SOURCE_OFFSET, str(letter.source_offset).encode()),
        (H_ID, str(letter.originator_id).encode()),
        (H_NOTIFICATION, str(notification_id).encode()),
    ]
    if letter.source_last_offset is not None:
        headers.append((H_SOURCE_LAST_OFFSET, str(letter.source_last_offset).encode()))
    return headers


class NullValued(tuple):  # type: ignore[type-arg]
    """A header whose value is null, as kafka-python's producer can send it.

    Its `send()` insists on bytes values, while its record builder writes None as the
    protocol's null (length -1). So the pair reads as `(name, b"")` where `send()` checks
    it and unpacks as `(name, None)` where the builder writes it."""

    def __new__(cls, name: str) -> NullValued:
        return super().__new__(cls, (name, None))

    def __getitem__(self, index: Any) -> Any:
        value = super().__getitem__(index)
        return b"" if value is None and index in (1, -1) else value

    def __iter__(self) -> Iterator[Any]:
        return iter((super().__getitem__(0), None))


class Headers(list):  # type: ignore[type-arg]
    """Headers that may hold `NullValued` ones: false for the one place in kafka-python's
    producer that sums header value lengths (a statistic) when the list is true."""

    def __bool__(self) -> bool:
        return bool(len(self)) and not any(type(h) is NullValued for h in self)


def dlq_headers(
    letter: DeadLetterRecorded, notification_id: int
) -> list[tuple[str, bytes | None]]:
    """The original headers (a null value stays null), then the ledger's."""
    original: list[tuple[str, bytes | None]] = [
        NullValued(name) if value is None else (name, value)
        for name, value in letter.original_headers if name not in LEDGER_HEADERS]
    return Headers([*original, *ledger_headers(letter, notification_id)])


def reference_value(letter: DeadLetterRecorded, notification_id: int, why: str) -> bytes:
    """The DLQ value of a letter sent as a reference to its stored copy."""
    value = letter.value
    return orjson.dumps({"stored_dead_letter": {
        "id": str(letter.originator_id),
        "notification_id": notification_id,
        "why": why,
        "value_bytes": None if value is None else len(value),
        "value_sha256": None if value is None else hashlib.sha256(value).hexdigest(),
    }})


def dlq_record(
    letter: DeadLetterRecorded, notification_id: int, limit: int,
    size_of: Callable[[bytes | None, bytes | None, list[Any]], int],
    refused: bool = False,
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]:
    """(key, value, headers) of a letter on the DLQ: as it arrived if Kafka can carry it
    in `limit` bytes, else a reference (consumers/relay.py's docstring)."""
    key, value = letter.key, letter.value
    headers = dlq_headers(letter, notification_id)
    if key is None and value is None:
        why = "a record needs a key or a value"
    elif refused:
        why = "the broker refused the record"
    elif size_of(key, value, headers) > limit:
        why = f"larger than the DLQ topic's max.message.bytes ({limit})"
    else:
        return key, value, headers
    reference = reference_value(letter, notification_id, why)
    stored: list[tuple[str, bytes | None]] = [(H_VALUE, b"stored")]
    minimal = [*ledger_headers(letter, notification_id), *stored]
    for candidate_key, candidate_headers in ((key, Headers([*headers, *stored])),
                                             (key, minimal), (None, minimal)):
        if size_of(candidate_key, reference, candidate_headers) <= limit:
            return candidate_key, reference, candidate_headers
    return None, reference, [*stored]
