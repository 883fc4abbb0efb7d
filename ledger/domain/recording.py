"""Deciding what a batch of valid envelopes does to a tenant's ledger.

decide(head, envelopes, receipts, now) -> events + outcomes, with no I/O: the application
loads the head and the receipts, calls this, and saves what it returns in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from ledger.domain.chain import GENESIS_HASH, entry_hash
from ledger.domain.envelope import Envelope, IdempotencyKey
from ledger.domain.events import ENTRY_KIND_INBOUND, EntryRecorded, ReceiptIssued, ledger_stream_id


class Status(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an event was rejected, machine-readable (rule) and human-readable (message)."""

    rule: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one inbound event; `index` is its place in the submitted batch."""

    index: int
    status: Status
    event_id: str | None = None
    tenant: str | None = None
    position: int | None = None
    reasons: tuple[Reason, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status.value}
        if self.event_id is not None:
            out["id"] = self.event_id
        if self.position is not None:
            out["position"] = self.position
        if self.reasons:
            out["reasons"] = [r.as_dict() for r in self.reasons]
        return out


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """Where a tenant's ledger ends: the next entry goes at position + 1."""

    tenant: str
    position: int = 0
    entry_hash: str = GENESIS_HASH


@dataclass(slots=True)
class Decision:
    head: LedgerHead
    events: list[EntryRecorded | ReceiptIssued] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def decide_appends(
    head: LedgerHead,
    batch: Sequence[tuple[int, Envelope]],
    receipts: Mapping[IdempotencyKey, ReceiptIssued],
    now: datetime,
    kind: str = ENTRY_KIND_INBOUND,
) -> Decision:
    """Append every new envelope of one tenant, in batch order; never overwrite.

    A key already recorded (before, or earlier in this batch) is a duplicate when its
    content digest is identical and an idempotency_conflict when it differs.
    """
    decision = Decision(head=head)
    taken: dict[IdempotencyKey, tuple[str, int]] = {
        key: (r.digest, r.position) for key, r in receipts.items()
    }
    stream_id = ledger_stream_id(head.tenant)  # one per tenant: computed once per batch
    position, last_hash = head.position, head.entry_hash
    for index, envelope in batch:
        if envelope.tenant != head.tenant:
            raise ValueError(f"envelope of tenant {envelope.tenant!r} in batch of {head.tenant!r}")
        key = envelope.key
        prior = taken.get(key)
        if prior is not None:
            decision.outcomes.append(_redelivery(index, envelope, *prior))
            continue
        position += 1
        entry, receipt = _append(stream_id, position, last_hash, envelope, now, kind)
        last_hash = entry.entry_hash
        decision.events += (entry, receipt)
        taken[key] = (envelope.digest, position)
        decision.outcomes.append(
            Outcome(index, Status.RECORDED, envelope.event_id, envelope.tenant, position)
        )
    decision.head = LedgerHead(head.tenant, position, last_hash)
    return decision


def _redelivery(index: int, envelope: Envelope, digest: str, position: int) -> Outcome:
    if digest == envelope.digest:
        return Outcome(index, Status.DUPLICATE, envelope.event_id, envelope.tenant, position)
    reason = Reason(
        rule="idempotency_conflict",
        field="",
        message=(
            f"event {envelope.event_id!r}: ({envelope.tenant}, {envelope.source}, "
            f"{envelope.event_id}) was already recorded at position {position} with "
            "different content; nothing recorded is ever overwritten"
        ),
    )
    return Outcome(index, Status.REJECTED, envelope.event_id, envelope.tenant, None, (reason,))


def _append(
    stream_id: UUID, position: int, prev_hash: str, envelope: Envelope, now: datetime, kind: str
) -> tuple[EntryRecorded, ReceiptIssued]:
    """The entry at `position` of the tenant's ledger (stream `stream_id`), chained to
    `prev_hash`, and the receipt that takes the envelope's idempotency key."""
    entry = EntryRecorded(
        originator_id=stream_id,
        originator_version=position,
        timestamp=now,
        tenant=envelope.tenant,
        kind=kind,
        stream=envelope.stream,
        envelope=dict(envelope.received),
        digest=envelope.digest,
        prev_hash=prev_hash,
        entry_hash=entry_hash(prev_hash, position, envelope.digest),
    )
    receipt = ReceiptIssued(
        originator_id=envelope.key.receipt_id,
        originator_version=1,
        timestamp=now,
        tenant=envelope.tenant,
        source=envelope.source,
        event_id=envelope.event_id,
        digest=envelope.digest,
        position=position,
    )
    return entry, receipt
