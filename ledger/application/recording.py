"""Use cases of the ledger: record a batch of inbound events (load, decide, save).

Every ingest path (HTTP, file, Kafka) goes through `Ledger.record`, so idempotency,
validation and the hash chain behave the same whichever way an event arrives.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking

from ledger.adapters.clock import Clock
from ledger.adapters.store import AppendConflict, EventStore, Staged
from ledger.adapters.validation import EventValidator, Problem
from ledger.application.admission import Admission
from ledger.application.appeal_screen import FindMentions, self_decisions
from ledger.domain.catalog import APPEAL_DECIDED
from ledger.domain.envelope import Envelope, IdempotencyKey
from ledger.domain.events import ENTRY_KIND_DERIVED, ENTRY_KIND_INBOUND, ReceiptIssued
from ledger.domain.recording import AppendPlan, Links, Outcome, Reason, Status, plan_appends
from ledger.errors import LedgerError

MAX_ATTEMPTS = 20
#: How many items `prepare` validates between looks at whether a turn is being held.
_YIELD_EVERY = 50


class LedgerUnavailable(LedgerError):
    """The store kept refusing the append (contention or outage); nothing was recorded."""

    code = "ledger-unavailable"
    retryable = True


class AlreadyTracked(LedgerError):
    """The tracking position was already recorded: this batch was processed before."""

    code = "already-tracked"


#: Builds, for a rejected item, an event to store in the same transaction (a dead letter),
#: so a crash can neither lose it nor record it apart from the read position.
DeadLetterFactory = Callable[[int, Outcome], DomainEventProtocol[Any]]

#: Told of each committed append: its outcomes and the events it stored.
AfterAppend = Callable[[Sequence[Outcome], Sequence[DomainEventProtocol[Any]]], None]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated batch, ready to append: rejections, and valid envelopes by tenant."""

    size: int
    rejected: list[Outcome]
    by_tenant: dict[str, list[tuple[int, Envelope]]]


class Ledger:
    def __init__(
        self, store: EventStore, validator: EventValidator, clock: Clock,
        admission: Admission | None = None,
    ) -> None:
        self.store = store
        self.validator = validator
        self.clock = clock
        #: Limits beyond the contract (string length, event time against the clock).
        self.admission = admission or Admission()
        self._lock = threading.Lock()
        #: Called with the outcomes and the events of every committed append, before it
        #: returns (tamper evidence signs its checkpoints here, see sealing.py). A hook must
        #: not raise.
        self.after_append: list[AfterAppend] = []
        #: Whether the next inbound append reads the receipts of its keys first (see
        #: `_receipts`); cleared once an append finds that none of its keys was taken.
        self._expect_redeliveries = True
        #: Clear while this process holds a turn (see `prepare`).
        self._no_turn = threading.Event()
        self._no_turn.set()

    def record(
        self,
        items: Sequence[object],
        tracking: Tracking | None = None,
        dead_letter: DeadLetterFactory | None = None,
        texts: Sequence[str | None] | None = None,
    ) -> list[Outcome]:
        """Validate and append a batch; one outcome per item, in item order.

        Valid events of every tenant are written in one transaction, together with
        `tracking` when given, so a reader's position is recorded iff its events are.
        A rejected item never blocks or half-applies the others. `texts`, when given,
        holds each item's text as received (None where there is none), kept with its entry.
        """
        return self.record_prepared(self.prepare(items, texts), tracking, dead_letter)

    def prepare(
        self, items: Sequence[object], texts: Sequence[str | None] | None = None
    ) -> Prepared:
        """Validate and wrap a batch without touching the store: the CPU-bound half of
        `record`, which a pipelined reader (consumers/) runs on the next batch while the
        store is still writing the previous one.

        It pauses while this process holds a turn (checked every `_YIELD_EVERY` items):
        every other writer of those tenants waits for the turn to end, and the turn's
        Python work (linking, rows, the COPY's writes) would otherwise wait for the GIL
        behind this loop (measured: docs/decisions/0003-writer-lock.md).
        """
        rejected: list[Outcome] = []
        now = self.clock()  # once per batch: what `time_in_future` is judged against
        by_tenant: dict[str, list[tuple[int, Envelope]]] = defaultdict(list)
        for index, item in enumerate(items):
            if not index % _YIELD_EVERY:
                self._no_turn.wait()
            problems = (self.admission.before_validation(item)
                        or self.validator.validate(item))
            if not problems and isinstance(item, dict):
                problems = self.admission.after_validation(item, now)
            if problems:
                rejected.append(_rejected(index, item, problems))
                continue
            assert isinstance(item, dict)
            envelope = Envelope.from_validated(item, self.validator.stream_key(item),
                                               None if texts is None else texts[index])
            by_tenant[envelope.tenant].append((index, envelope))
        return Prepared(len(items), rejected, dict(by_tenant))

    def record_prepared(
        self,
        prepared: Prepared,
        tracking: Tracking | None = None,
        dead_letter: DeadLetterFactory | None = None,
    ) -> list[Outcome]:
        """Append a prepared batch: `record`'s second half (see `record`)."""
        prepared = self._screen_appeals(prepared)
        outcomes = {outcome.index: outcome for outcome in prepared.rejected}
        appended = self._append(prepared.by_tenant, prepared.rejected,
                                () if tracking is None else (tracking,), dead_letter)
        for outcome in appended:
            outcomes[outcome.index] = outcome
        return [outcomes[i] for i in range(prepared.size)]

    def _screen_appeals(self, prepared: Prepared) -> Prepared:
        """Refuse self-decided appeals (ledger.application.appeal_screen)."""
        rejected, by_tenant = list(prepared.rejected), {}
        for tenant, batch in prepared.by_tenant.items():
            if not any(e.type == APPEAL_DECIDED for _, e in batch):
                by_tenant[tenant] = batch
                continue
            mentions: FindMentions = getattr(
                self.store, "entries_mentioning", lambda _t, _s: [])
            refused = self_decisions(
                tenant, batch, lambda t, s: self.store.find_entries(t, stream=s), mentions)
            rejected += [_rejected(i, dict(e.received), [refused[i]])
                         for i, e in batch if i in refused]
            by_tenant[tenant] = [(i, e) for i, e in batch if i not in refused]
        return Prepared(prepared.size, rejected, by_tenant)

    def record_derived(
        self, envelopes: Sequence[dict[str, Any]],
        tracking: Tracking | Sequence[Tracking] | None,
    ) -> list[Outcome]:
        """Append what the ledger derived itself (docs/domain-rules.md, Derived entries) to the
        tenants' ledgers, with the deriving reader's position (or the positions of several
        readers, where the store records several at once: `tracks_many`), in one
        transaction.

        Derived envelopes are checked against their schemas: one that does not match is a
        bug in the ledger, never something to record.
        """
        by_tenant: dict[str, list[tuple[int, Envelope]]] = defaultdict(list)
        for index, envelope in enumerate(envelopes):
            problems = self.validator.validate_derived_data(
                envelope["type"], envelope["data"], envelope["id"]
            )
            if problems:
                raise ValueError(f"derived event does not match its schema: {problems}")
            wrapped = Envelope.from_validated(envelope, f"case:{envelope['subject']}")
            wrapped.time  # noqa: B018 - parses it: a derived envelope's time is not validated
            by_tenant[wrapped.tenant].append((index, wrapped))
        trackings = (() if tracking is None else (tracking,)
                     if isinstance(tracking, Tracking) else tuple(tracking))
        return self._append(by_tenant, [], trackings, None, ENTRY_KIND_DERIVED)

    def _append(
        self,
        by_tenant: dict[str, list[tuple[int, Envelope]]],
        rejected: list[Outcome],
        trackings: tuple[Tracking, ...],
        dead_letter: DeadLetterFactory | None,
        kind: str = ENTRY_KIND_INBOUND,
    ) -> list[Outcome]:
        # One writer per process keeps optimistic conflicts for cross-process races only;
        # the store's writer lock makes writers of the same tenants in other processes
        # take turns instead of conflicting (it is an optimisation: the store's unique
        # keys, not the lock, guarantee that no position or key is taken twice).
        with self._lock:
            look_up = kind != ENTRY_KIND_INBOUND or self._expect_redeliveries
            for _attempt in range(MAX_ATTEMPTS):
                # Everything that does not depend on where the ledger ends is done before
                # the turn: receipts read, plans made, rows encoded. The turn itself reads
                # the head, links and saves.
                plans = [
                    plan_appends(tenant, batch, self._receipts(batch, look_up), kind)
                    for tenant, batch in sorted(by_tenant.items())
                ]
                staged = self.store.stage(plans)
                with self.store.writer_lock(by_tenant):
                    self._no_turn.clear()
                    try:
                        turn = self._turn(plans, staged, rejected, trackings, dead_letter)
                    finally:
                        self._no_turn.set()
                if turn is None:
                    look_up = self._expect_redeliveries = True
                    continue
                if look_up and kind == ENTRY_KIND_INBOUND:
                    self._expect_redeliveries = any(plan.redeliveries for plan in plans)
                links, now, dead_letters = turn
                outcomes = [o for plan, link in zip(plans, links, strict=True)
                            for o in plan.outcomes(link)]
                if self.after_append and (dead_letters or trackings
                                          or any(plan.appends for plan in plans)):
                    events: list[DomainEventProtocol[Any]] = [
                        e for plan, link in zip(plans, links, strict=True)
                        for e in plan.events(link, now)
                    ]
                    events += dead_letters
                    for hook in self.after_append:
                        hook(outcomes, events)
                return outcomes
        raise LedgerUnavailable(f"append kept conflicting after {MAX_ATTEMPTS} attempts")

    def _receipts(
        self, batch: list[tuple[int, Envelope]], look_up: bool
    ) -> dict[IdempotencyKey, ReceiptIssued]:
        """The receipts already taken by the batch's keys, or none without looking.

        Not looking is safe: a receipt is version 1 of a stream named by its key, so the
        store refuses to take a key twice whatever the plan says, the whole append fails,
        and it is planned again with the receipts read (`_append`). Redeliveries are rare
        on a healthy stream (a consumer's crash, a client's retry), so after an append that
        found none, the next ones skip the read and the database checks each key once,
        in the append's own unique index, instead of twice. The lookup also happens
        before the turn: a key taken meanwhile by another writer is refused the same way.
        """
        if not look_up:
            return {}
        return self.store.receipts(envelope.key for _, envelope in batch)

    def _turn(
        self,
        plans: list[AppendPlan],
        staged: Sequence[Staged],
        rejected: list[Outcome],
        trackings: tuple[Tracking, ...],
        dead_letter: DeadLetterFactory | None,
    ) -> tuple[list[Links], datetime, list[DomainEventProtocol[Any]]] | None:
        """Link to the heads and save once, holding the tenants' turn: the links, the
        recording time and the dead letters saved, or None when another writer appended
        first (decide again)."""
        now = self.clock()
        heads = self.store.heads(plan.tenant for plan in plans)
        links = [plan.link(heads[plan.tenant]) for plan in plans]
        dead_letters: list[DomainEventProtocol[Any]] = []
        if dead_letter is not None:
            conflicts = [o for plan, link in zip(plans, links, strict=True)
                         for o in plan.conflicts(link)]
            dead_letters = [dead_letter(o.index, o) for o in rejected + conflicts]
        if not (dead_letters or trackings or any(plan.appends for plan in plans)):
            return links, now, dead_letters
        try:
            self.store.append_linked(staged, links, now, dead_letters, trackings)
        except AppendConflict:
            done = [t for t in trackings if self._tracked(t)]
            if done:
                raise AlreadyTracked(", ".join(map(str, done))) from None
            return None
        return links, now, dead_letters

    def _tracked(self, tracking: Tracking) -> bool:
        recorded = self.store.max_tracking_id(tracking.application_name)
        return recorded is not None and recorded >= tracking.notification_id


def _rejected(index: int, item: object, problems: list[Problem]) -> Outcome:
    event_id = item.get("id") if isinstance(item, dict) else None
    tenant = item.get("tenant") if isinstance(item, dict) else None
    return Outcome(
        index=index,
        status=Status.REJECTED,
        event_id=event_id if isinstance(event_id, str) else None,
        tenant=tenant if isinstance(tenant, str) else None,
        reasons=tuple(Reason(p.rule, p.field, p.message) for p in problems),
    )


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    counts = {s.value: 0 for s in Status}
    for outcome in outcomes:
        counts[outcome.status.value] += 1
    return counts
