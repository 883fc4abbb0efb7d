"""One partition batch -> one ledger transaction: events, dead letters and read position.

This is the heart of the exactly-once effect. For a batch of messages read from one
topic partition, `BatchRecorder.record` calls `Ledger.record` ONCE with

- the envelopes (structured or binary CloudEvents, consumers/messages.py); a message
  without one (not JSON, undecodable, or too large to be read at all) is passed as a
  placeholder the ledger rejects,
- `Tracking("kafka:<topic>:<partition>", <last offset>)`, and
- a dead-letter factory that turns every rejected item into a `DeadLetterRecorded` with
  the ORIGINAL bytes of its message (found by the item's index in the batch),

so the new ledger entries, the dead letters and the partition's position commit in one
database transaction, or none of them do. A batch whose position is already recorded
raises `AlreadyTracked` (it was applied before: after a crash, or by another consumer
during a rebalance), and the caller skips it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking

from consumers.dead_letters import dead_letter_of
from consumers.messages import (
    InboundMessage,
    decode_message,
    identifiers,
    message_size,
    parse_value,
    received_text,
    too_large,
)
from ledger.adapters.clock import Clock
from ledger.application.recording import Ledger, Prepared
from ledger.domain.recording import Outcome, Reason, Status


def tracking_name(topic: str, partition: int) -> str:
    """The tracking record's name for a partition: its value is the last applied offset."""
    return f"kafka:{topic}:{partition}"


class _NotJson:
    """Stands in for a message without an envelope: the ledger rejects it (not an
    object), and the dead-letter factory replaces that reason with the true one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not JSON>"


_NOT_JSON = _NotJson()


@dataclass(slots=True)
class BatchResult:
    """What one batch did; `already_applied` batches changed nothing."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    consumed: int = 0
    recorded: int = 0
    duplicate: int = 0
    dead_lettered: int = 0
    already_applied: bool = False
    dead_letter_rules: dict[str, int] = field(default_factory=dict)


class _DeadLetters:
    """The `dead_letter` factory of one batch: index -> the message's dead letter."""

    def __init__(
        self, messages: Sequence[InboundMessage], not_json: dict[int, Reason], clock: Clock
    ) -> None:
        self._messages = messages
        self._not_json = not_json
        self._clock = clock
        self.made: dict[int, tuple[str, ...]] = {}

    def __call__(self, index: int, outcome: Outcome) -> DomainEventProtocol[UUID]:
        parse_error = self._not_json.get(index)
        reasons = (parse_error,) if parse_error is not None else outcome.reasons
        self.made[index] = tuple(r.rule for r in reasons)
        message = self._messages[index]
        event_id, tenant = outcome.event_id, outcome.tenant
        if event_id is None and tenant is None and message.headers:
            event_id, tenant = identifiers(message)  # a binary event whose data is unreadable
        return dead_letter_of(message, reasons, self._clock(), event_id=event_id,
                              tenant=tenant)


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A partition batch parsed and validated, waiting for its transaction."""

    messages: Sequence[InboundMessage]
    not_json: dict[int, Reason]
    prepared: Prepared


class BatchRecorder:
    """Records partition batches through the ledger; knows nothing of Kafka clients.

    A message larger than `max_message_bytes` (value, key and headers; None: no limit) is
    not parsed: it is dead-lettered as `message_too_large`, with its original bytes."""

    def __init__(self, ledger: Ledger, max_message_bytes: int | None = None) -> None:
        self.ledger = ledger
        self.max_message_bytes = max_message_bytes
        self._limit = sys.maxsize if max_message_bytes is None else max_message_bytes

    def record(self, messages: Sequence[InboundMessage]) -> BatchResult:
        """Apply one batch (all from one partition, ascending offsets) in one transaction.

        Raises `AlreadyTracked` when the batch's last offset is already recorded, and lets
        storage errors through: nothing of the batch is then recorded.
        """
        return self.apply(self.prepare(messages))

    def prepare(self, messages: Sequence[InboundMessage]) -> PreparedBatch:
        """Parse and validate a batch; touches no store (see `Ledger.prepare`)."""
        if not messages:
            raise ValueError("an empty batch has no position to record")
        first = messages[0]
        if any(m.partition != first.partition or m.topic != first.topic for m in messages):
            raise ValueError("a batch holds messages of one topic partition only")
        items: list[object] = []
        texts: list[str | None] = []
        not_json: dict[int, Reason] = {}
        limit = self._limit
        value: object
        for index, message in enumerate(messages):
            raw, key = message.value, message.key
            # Headers (binary mode) and undecodable records are rare: one branch for both.
            if message.headers or message.undecodable is not None:
                value, problem = self._decode(message)
            elif len(raw or b"") + len(key or b"") > limit:  # the hot path's only added cost
                value, problem = None, too_large(len(raw or b"") + len(key or b""), limit)
            else:
                value, problem = parse_value(raw)
            if problem is not None:
                not_json[index] = problem
                items.append(_NOT_JSON)
                texts.append(None)
            else:
                items.append(value)
                texts.append(received_text(message))
        return PreparedBatch(messages, not_json, self.ledger.prepare(items, texts))

    def _decode(self, message: InboundMessage) -> tuple[object, Reason | None]:
        """A message with headers, or undecodable, read unless it is too large (what could
        not be decoded keeps its own reason, whatever its size)."""
        if message.undecodable is None:
            size = message_size(message)
            if size > self._limit:
                return None, too_large(size, self._limit)
        return decode_message(message)

    def apply(self, batch: PreparedBatch) -> BatchResult:
        """Append a prepared batch with its position and dead letters (see `record`)."""
        messages = batch.messages
        first, last = messages[0], messages[-1]
        factory = _DeadLetters(messages, batch.not_json, self.ledger.clock)
        outcomes = self.ledger.record_prepared(
            batch.prepared,
            tracking=Tracking(tracking_name(first.topic, first.partition), last.offset),
            dead_letter=factory,
        )
        result = BatchResult(
            first.topic, first.partition, first.offset, last.offset, consumed=len(messages)
        )
        for outcome in outcomes:
            if outcome.status is Status.RECORDED:
                result.recorded += 1
            elif outcome.status is Status.DUPLICATE:
                result.duplicate += 1
            else:
                result.dead_lettered += 1
        for rules in factory.made.values():
            for rule in rules:
                result.dead_letter_rules[rule] = result.dead_letter_rules.get(rule, 0) + 1
        return result
