"""Recording what a derivation round made of each tenant's batch: its derived events with
the engine's position in the tenant's ledger, in one transaction (several tenants' in one
where the store can), and the tenant's memory moved past them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import Tracking

from ledger.application.quarantine import describe
from ledger.application.recording import AlreadyTracked, Ledger
from ledger.application.tenant_memory import TenantMemory, engine_reader
from ledger.domain.catalog import ENTRY_QUARANTINED, ENTRY_RELEASED
from ledger.domain.events import EntryRecorded
from ledger.domain.recording import Outcome, Status

#: Derived events that change the quarantine book: taken in only as read from the ledger.
_READ_BACK = frozenset({ENTRY_QUARANTINED, ENTRY_RELEASED})
#: The engine's logger: its messages keep one name whichever of its modules says them.
log = logging.getLogger("ledger.application.derivation")


@dataclass(frozen=True, slots=True)
class TenantBatch:
    """One tenant's entries read in a round and what derivation made of them."""

    tenant: str
    entries: list[EntryRecorded]
    derived: list[dict[str, object]]
    #: Whether to record it: derived events, inbound entries read, or a full batch.
    record: bool

    @property
    def last(self) -> int:
        return self.entries[-1].position

    @property
    def tracking(self) -> Tracking:
        return Tracking(engine_reader(self.tenant), self.last)


class RoundRecorder:
    """Records tenants' batches for the engine, and moves their memory past them."""

    def __init__(self, ledger: Ledger, tenants: TenantMemory, *, batch_size: int,
                 caught_up: Callable[[str], None]) -> None:
        """`caught_up`: told a tenant whose memory now reaches as far as anyone knows."""
        self.ledger = ledger
        self.tenants = tenants
        self.batch_size = batch_size
        self._caught_up = caught_up

    def record(self, batch: TenantBatch) -> None:
        """Record one tenant's batch alone (its derived events with its position)."""
        outcomes: list[Outcome] = []
        if batch.record:
            try:
                outcomes = self.ledger.record_derived(batch.derived, batch.tracking)
            except AlreadyTracked:
                # Another worker derived this batch first (a rebalance): same facts, same
                # verdicts, already in the ledger; read on from there.
                log.info("tenant %s up to %s was derived elsewhere", batch.tenant,
                         batch.last)
                self.tenants.unload(batch.tenant)
                return
            except BaseException:
                self.tenants.unload(batch.tenant)
                raise
        self._advance(batch, outcomes)

    def record_together(self, batches: list[TenantBatch]) -> bool:
        """Record several tenants' batches in one transaction; False when that failed
        (nothing recorded: each is then recorded alone, with its own outcome)."""
        chosen = [b for b in batches if b.record]
        try:
            outcomes = self.ledger.record_derived(
                [e for b in chosen for e in b.derived],
                [b.tracking for b in chosen]) if chosen else []
        except Exception as exc:
            log.info("derivations of %s tenants recorded one by one: %s", len(chosen),
                     describe(exc))
            return False
        by_index = {o.index: o for o in outcomes}
        offset = 0
        for batch in chosen:
            self._advance(batch, [by_index[offset + i] for i in range(len(batch.derived))])
            offset += len(batch.derived)
        for batch in batches:
            if not batch.record:
                self._advance(batch, [])
        return True

    def _advance(self, batch: TenantBatch, outcomes: list[Outcome]) -> None:
        """The batch is recorded: move the tenant's position past it. When its derived
        events took the positions right after it (nothing else was appended between), they
        are taken in from memory instead of read back, and the tenant is caught up as far
        as anyone knows (new entries wake it again)."""
        state = self.tenants.get(batch.tenant)
        if state is None:
            return
        state.position = batch.last
        expected = list(range(batch.last + 1, batch.last + 1 + len(batch.derived)))
        if ([o.position for o in outcomes if o.status == Status.RECORDED] != expected
                or any(e["type"] in _READ_BACK for e in batch.derived)):
            return
        for envelope in batch.derived:
            state.emitted.observe(envelope)
            state.facts.observe(envelope)
        state.position = expected[-1] if expected else batch.last
        if len(batch.entries) < self.batch_size:
            self._caught_up(batch.tenant)
