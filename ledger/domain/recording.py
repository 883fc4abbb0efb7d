"""Deciding what a batch of valid envelopes does to a tenant's ledger, with no I/O.

In two steps, so that writers of one tenant hold their turn briefly: `plan_appends`
(from the receipts already taken: which envelopes are new, which are redeliveries) runs
before the turn; `AppendPlan.link` (from the ledger's head: positions and the hash chain)
runs in it. The application loads the receipts and the head, and saves what the linked
plan gives in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from ledger.domain.chain import GENESIS_HASH, chain_hashes
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


@dataclass(frozen=True, slots=True)
class Redelivery:
    """An envelope whose key is taken: at a recorded `position`, or (position None) by the
    `nth` append of the same plan, whose position is known only once the plan is linked."""

    index: int
    envelope: Envelope
    digest: str
    position: int | None
    nth: int = 0


@dataclass(frozen=True, slots=True)
class Links:
    """Where a plan's entries land: the positions after `start`, chained from its hash."""

    start: LedgerHead
    hashes: list[str]

    @property
    def end(self) -> LedgerHead:
        if not self.hashes:
            return self.start
        return LedgerHead(self.start.tenant, self.start.position + len(self.hashes),
                          self.hashes[-1])


@dataclass(frozen=True, slots=True)
class AppendPlan:
    """What a batch does to one tenant's ledger, worked out before its end is known.

    Which envelopes are new and which are redeliveries does not depend on where the
    ledger ends, so it is decided (and the rows encoded, by the store) before a writer
    takes its tenant's turn; only `link`, a hash per entry, runs in the turn. Concurrent
    writers take turns, so the shorter the turn the more of them work at once.
    """

    tenant: str
    kind: str
    appends: list[tuple[int, Envelope]]
    redeliveries: list[Redelivery]

    def link(self, head: LedgerHead) -> Links:
        if head.tenant != self.tenant:
            raise ValueError(f"head of tenant {head.tenant!r} for a plan of {self.tenant!r}")
        digests = [envelope.digest for _, envelope in self.appends]
        return Links(head, chain_hashes(head.entry_hash, head.position + 1, digests))

    def conflicts(self, links: Links) -> list[Outcome]:
        """The redeliveries whose content differs from what their key recorded."""
        return [self._redelivered(r, links) for r in self.redeliveries
                if r.digest != r.envelope.digest]

    def outcomes(self, links: Links) -> list[Outcome]:
        """One outcome per envelope of the plan, in batch order."""
        base = links.start.position
        recorded = [
            Outcome(index, Status.RECORDED, envelope.event_id, envelope.tenant, base + nth)
            for nth, (index, envelope) in enumerate(self.appends, start=1)
        ]
        if not self.redeliveries:
            return recorded
        again = [self._redelivered(r, links) for r in self.redeliveries]
        return sorted(recorded + again, key=lambda outcome: outcome.index)

    def events(self, links: Links, now: datetime) -> list[EntryRecorded | ReceiptIssued]:
        """Each new entry and the receipt taking its key, in position order."""
        stream_id = ledger_stream_id(self.tenant)
        events: list[EntryRecorded | ReceiptIssued] = []
        prev = links.start.entry_hash
        for position, ((_, envelope), this) in enumerate(
            zip(self.appends, links.hashes, strict=True), start=links.start.position + 1
        ):
            events += _append(stream_id, position, prev, this, envelope, now, self.kind)
            prev = this
        return events

    def decide(self, links: Links, now: datetime) -> Decision:
        return Decision(links.end, self.events(links, now), self.outcomes(links))

    def _redelivered(self, redelivery: Redelivery, links: Links) -> Outcome:
        position = redelivery.position
        if position is None:
            position = links.start.position + redelivery.nth + 1
        return _redelivery(redelivery.index, redelivery.envelope, redelivery.digest, position)


def plan_appends(
    tenant: str,
    batch: Sequence[tuple[int, Envelope]],
    receipts: Mapping[IdempotencyKey, ReceiptIssued],
    kind: str = ENTRY_KIND_INBOUND,
) -> AppendPlan:
    """Append every new envelope of one tenant, in batch order; never overwrite.

    A key already recorded (before, or earlier in this batch) is a duplicate when its
    content digest is identical and an idempotency_conflict when it differs.
    """
    appends: list[tuple[int, Envelope]] = []
    redeliveries: list[Redelivery] = []
    # key -> (recorded digest, recorded position or None, nth append of this batch)
    taken: dict[IdempotencyKey, tuple[str, int | None, int]] = {
        key: (r.digest, r.position, 0) for key, r in receipts.items()
    }
    for index, envelope in batch:
        if envelope.tenant != tenant:
            raise ValueError(f"envelope of tenant {envelope.tenant!r} in batch of {tenant!r}")
        prior = taken.get(envelope.key)
        if prior is not None:
            redeliveries.append(Redelivery(index, envelope, *prior))
            continue
        taken[envelope.key] = (envelope.digest, None, len(appends))
        appends.append((index, envelope))
    return AppendPlan(tenant, kind, appends, redeliveries)


def decide_appends(
    head: LedgerHead,
    batch: Sequence[tuple[int, Envelope]],
    receipts: Mapping[IdempotencyKey, ReceiptIssued],
    now: datetime,
    kind: str = ENTRY_KIND_INBOUND,
) -> Decision:
    """`plan_appends` linked to `head` at once: the whole decision, for callers that know
    the head already (the engine's bulk paths, benchmarks, tests)."""
    plan = plan_appends(head.tenant, batch, receipts, kind)
    return plan.decide(plan.link(head), now)


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
    stream_id: UUID,
    position: int,
    prev_hash: str,
    this_hash: str,
    envelope: Envelope,
    now: datetime,
    kind: str,
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
        entry_hash=this_hash,
        received=envelope.received_text,
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
