"""Dead letters: Kafka messages the ledger refused, kept with their original bytes.

Rejected input is never dropped silently (docs/domain-rules.md, Rejected input): from
Kafka the original bytes go to a dead-letter topic with the reason, and are counted and
queryable. A dead letter is therefore first an event in the ledger's own store, written
in the same transaction as the batch it came from and its read position (so a crash can
neither lose it nor record it twice), and only then published to the DLQ topic by the
outbox relay (consumers/relay.py).

Pure: no I/O and no clock here; the time comes in as an argument.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from consumers.messages import InboundMessage
from ledger.domain.envelope import derived_uuid
from ledger.domain.recording import Reason


def dead_letter_id(topic: str, partition: int, offset: int) -> UUID:
    """The id of the dead letter of one Kafka message: the same message, the same id.

    Deterministic, so that whichever process (or retry) turns a message into a dead letter,
    the store's uniqueness constraint on (id, version 1) admits it once.
    """
    return derived_uuid("dead-letter", topic, str(partition), str(offset))


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


@dataclass(frozen=True)
class DeadLetterRecorded:
    """A Kafka message was refused by the ledger and kept exactly as it arrived.

    Key, value and header values are base64 in storage: they are arbitrary bytes (a poison
    message need not be UTF-8), and the DLQ must carry them back out unchanged.
    """

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    source_topic: str
    source_partition: int
    source_offset: int
    key_b64: str | None
    value_b64: str | None
    headers: list[list[str | None]]
    reasons: list[dict[str, str]]
    event_id: str | None
    tenant: str | None
    #: The last offset of a record batch that could not be decoded as a whole (its
    #: `value` is then the batch as the broker delivered it); None for one message.
    source_last_offset: int | None = None

    @property
    def key(self) -> bytes | None:
        return _unb64(self.key_b64)

    @property
    def value(self) -> bytes | None:
        return _unb64(self.value_b64)

    @property
    def original_headers(self) -> list[tuple[str, bytes | None]]:
        return [(str(name), _unb64(value)) for name, value in self.headers]

    @property
    def source(self) -> str:
        last = "" if self.source_last_offset is None else f"-{self.source_last_offset}"
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}{last}"

    @property
    def rules(self) -> list[str]:
        return [r["rule"] for r in self.reasons]


@dataclass(frozen=True)
class DeadLetterResolved:
    """A replay after a fix settled a dead letter: its event is now in the ledger.

    `status` is what the ledger answered on replay: `recorded` (the fix let it in) or
    `duplicate` (the same event had meanwhile arrived another way); or `superseded`: no
    replay, the event was recorded from a later message (`ledger dlq resolve`). Version 2
    of the dead letter's stream, so a dead letter is resolved at most once, even by racing
    replays.
    """

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    status: str
    event_id: str | None
    tenant: str | None
    position: int | None


DEAD_LETTER_TOPIC = get_topic(DeadLetterRecorded)
RESOLVED_TOPIC = get_topic(DeadLetterResolved)


def dead_letter_of(
    message: InboundMessage,
    reasons: tuple[Reason, ...],
    now: datetime,
    *,
    event_id: str | None = None,
    tenant: str | None = None,
) -> DeadLetterRecorded:
    """The dead letter of a refused message, with every reason the ledger gave."""
    undecodable = message.undecodable
    first = message.offset if undecodable is None else undecodable.first_offset
    return DeadLetterRecorded(
        originator_id=dead_letter_id(message.topic, message.partition, first),
        originator_version=1,
        timestamp=now,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=first,
        key_b64=_b64(message.key),
        value_b64=_b64(message.value),
        headers=[[name, _b64(value)] for name, value in message.headers],
        reasons=[r.as_dict() for r in reasons],
        event_id=event_id,
        tenant=tenant,
        source_last_offset=None if first == message.offset else message.offset,
    )


def resolution_of(
    letter: DeadLetterRecorded, status: str, now: datetime, position: int | None, **ids: Any
) -> DeadLetterResolved:
    return DeadLetterResolved(
        originator_id=letter.originator_id,
        originator_version=2,
        timestamp=now,
        status=status,
        event_id=ids.get("event_id"),
        tenant=ids.get("tenant"),
        position=position,
    )
