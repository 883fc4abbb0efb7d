"""The responsibility engine: follows each tenant's ledger, writes what follows from it
back into it.

Each tenant is derived on its own: its entries are read in ledger order from its own
recorded position (tracking `engine:<tenant>`), and the derived events are appended with
that position in one transaction, so a crash neither loses nor doubles a verdict and one
tenant's volume or failures never hold up another's. Which tenants have new entries is
learnt from the store's notification log (`run_once`, the embedded default) or told by
the caller (`mark_dirty`: a Kafka worker told by the entries topic).

A case the engine keeps failing on is quarantined (ledger/application/quarantine.py) and
the rest goes on. Memory holds the tenants in use: settled tenants beyond the cache are
evicted and rebuilt from their ledger when next needed, and settled cases beyond the
case cache set aside (case_cache.py).

This module holds the engine's rounds and what it derives; the tenants in memory are in
tenant_memory.py, the recording of a round's batches in round_recording.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.adapters.clock import Clock
from ledger.application.case_cache import CaseCache
from ledger.application.discovery import Discovery
from ledger.application.quarantine import (
    DERIVATION,
    Quarantined,
    case_of,
    describe,
    quarantined_event,
)
from ledger.application.recording import Ledger
from ledger.application.round_recording import RoundRecorder, TenantBatch
from ledger.application.tenant_memory import (
    TenantMemory,
    TenantState,
    derivation_reached,
    derived_position,
    engine_reader,
)
from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded
from ledger.domain.responsibility.assess import rule_checks
from ledger.domain.responsibility.derive import derive
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.obligations import DEFAULT_LEAD
from ledger.domain.responsibility.policy_check import IN_PROCESS, InProcessEvaluator, prefetch
from ledger.domain.responsibility.rules import RuleEvaluator
from ledger.domain.responsibility.tenant import TenantFacts
from ledger.domain.responsibility.verdicts import CaseAssessment
from ledger.errors import LedgerError

#: What callers import from here (the memory's and recording's names among them).
__all__ = [
    "CaseFailed", "EngineStatus", "ResponsibilityEngine", "TenantBatch", "TenantState",
    "derivation_reached", "derived_position", "engine_reader",
]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineStatus:
    position: int
    head: int
    tenants: int

    @property
    def lag(self) -> int:
        return self.head - self.position


class CaseFailed(LedgerError):
    """Derivation failed on a case below the quarantine threshold: the batch is retried."""

    code = "case-failed"
    retryable = True


class ResponsibilityEngine:
    def __init__(
        self,
        ledger: Ledger,
        lateness: timedelta,
        clock: Clock,
        *,
        live: bool = False,
        batch_size: int = 2000,
        evaluator: RuleEvaluator = IN_PROCESS,
        quarantine_after: int = 3,
        cache_tenants: int = 1000,
        reminder_lead: timedelta = DEFAULT_LEAD,
        cases: CaseCache | None = None,
    ) -> None:
        """`live`: also judge deadlines against the wall clock (minus lateness), for quiet
        tenants in live operation. Off for replays and tests, whose time is event time.
        `evaluator`: runs policy rules (a real process passes an isolated one).
        `quarantine_after`: failures on a case before it is quarantined.
        `cache_tenants`: settled tenants kept in memory beyond those with work.
        `reminder_lead`: how long before its due time an obligation is due soon.
        `cases`: where settled cases beyond its capacity are set aside (None: a tenant in
        memory keeps all its cases)."""
        self.ledger = ledger
        self.store = ledger.store
        self.lateness = lateness
        self.clock = clock
        self.live = live
        self.batch_size = batch_size
        self.evaluator = evaluator
        self.quarantine_after = quarantine_after
        self.cache_tenants = cache_tenants
        self.reminder_lead = reminder_lead
        self._failures: dict[tuple[str, str], int] = {}
        self._dirty: set[str] = set()
        self._tenants = TenantMemory(
            self.store, batch_size=batch_size, capacity=cache_tenants, lateness=lateness,
            evaluator=evaluator, reminder_lead=reminder_lead, watermark=self._watermark,
            released=self._forget_failures, cases=cases)
        self._recorder = RoundRecorder(ledger, self._tenants, batch_size=batch_size,
                                       caught_up=self._dirty.discard)
        self._discovery = Discovery(self.store, batch_size)
        self._last_error: BaseException | None = None
        #: Quarantines recorded by this engine (for metrics).
        self.quarantined = 0

    # --- which tenants have work ------------------------------------------------------

    def mark_dirty(self, tenants: set[str] | list[str]) -> None:
        self._dirty.update(tenants)

    def discover(self) -> int:
        """Read one page of the notification log: its tenants have new entries."""
        return self._discovery.next_page(self._dirty)

    def _record_cursor(self) -> None:
        if not self._dirty:
            self._discovery.record()

    # --- rounds -----------------------------------------------------------------------

    def run_once(self) -> int:
        """Discover, then one batch of every tenant with work (and a wall-clock sweep of
        the others when live); returns how many entries it read."""
        read = self.discover()
        read += self.run_dirty()
        self._record_cursor()
        return read

    def run_dirty(self) -> int:
        """One batch of each tenant marked as having work; a tenant that reads nothing is
        caught up. A failing tenant stays marked and is retried next round. The tenants'
        derived events and positions are recorded together, in one transaction where the
        store can (a round's cost is then one append, not one per tenant)."""
        read, batches = 0, []
        known = {t: self._tenants[t].position for t in self._dirty if t in self._tenants}
        try:  # the tenants in memory read in one round trip
            fresh = self.store.entries_of(known, self.batch_size) if len(known) > 1 else {}
        except Exception as exc:
            self._last_error, fresh = exc, {}
            log.warning("derivation could not read: %s", describe(exc))
            return 0
        for tenant in sorted(self._dirty):
            try:
                batch = self._prepare(tenant, fresh.get(tenant))
            except Exception as exc:
                self._failed_tenant(tenant, exc)
                continue
            if batch is None:
                self._dirty.discard(tenant)
                continue
            read += len(batch.entries)
            batches.append(batch)
        together = len(batches) > 1 and self.store.tracks_many
        if together and self._recorder.record_together(batches):
            batches = []
        for batch in batches:
            try:
                self._recorder.record(batch)
            except Exception as exc:
                self._failed_tenant(batch.tenant, exc)
        if self.live:
            for tenant in [t for t in self._tenants if t not in self._dirty]:
                self._sweep(tenant)
        self._tenants.evict(self._dirty)
        self._tenants.trim()
        return read

    def _failed_tenant(self, tenant: str, exc: BaseException) -> None:
        self._last_error = exc
        log.warning("derivation of tenant %s failed: %s", tenant, describe(exc))

    def run_until_idle(self, max_rounds: int = 1_000_000) -> int:
        """Catch up with the ledger, including with the engine's own output. Raises the
        last error when tenants keep failing without quarantine (an outage)."""
        total, stalled = 0, 0
        for _ in range(max_rounds):
            read = self.run_once()
            total += read
            if read:
                stalled = 0
                continue
            if not self._dirty:
                return total
            stalled += 1
            if stalled > self.quarantine_after + 2 and self._last_error is not None:
                raise self._last_error
        return total

    @property
    def idle(self) -> bool:
        return not self._dirty

    # --- one tenant -------------------------------------------------------------------

    def derive_tenant(self, tenant: str) -> int:
        """Read, derive and record one batch of the tenant's new entries; entries read."""
        batch = self._prepare(tenant)
        if batch is None:
            return 0
        self._recorder.record(batch)
        return len(batch.entries)

    def _prepare(self, tenant: str, read: list[EntryRecorded] | None = None
                 ) -> TenantBatch | None:
        """Read one batch of the tenant's new entries (unless `read` already holds them)
        and derive what follows, recording nothing yet; None when there is nothing."""
        tenants = self._tenants
        if tenant not in tenants and not self.live and not tenants.has_news(tenant):
            return None  # not rebuilt from its history only to find nothing to do
        state = self._tenants.state(tenant)
        entries = (read if read is not None
                   else self.store.entries(tenant, state.position, self.batch_size))
        if not entries:
            return None
        try:
            state.facts.look_ahead(e.envelope for e in entries if e.kind != ENTRY_KIND_DERIVED)
            state.trigger = {}
            affected: set[str] = set()
            pending: list[dict[str, object]] = []
            for entry in entries:
                affected |= self._take(state, entry, pending)
            derived = pending + self._derive(state, affected, entries[-1])
            state.trigger = {}  # the batch's entries are not kept past it
        except Exception:
            # memory may hold half the batch: rebuilt from the ledger
            self._tenants.unload(tenant)
            raise
        # Reading back its own output is not recorded (a write per round), unless a full
        # batch of it: so what is left unrecorded is less than a batch (`TenantMemory.has_news`).
        full = len(entries) == self.batch_size
        record = bool(derived) or full or any(e.kind != ENTRY_KIND_DERIVED for e in entries)
        return TenantBatch(tenant, entries, derived, record)

    def known_position(self, tenant: str) -> int:
        """How far the engine's memory of the tenant reaches (0: not in memory)."""
        state = self._tenants.get(tenant)
        return state.position if state is not None else 0

    def _take(self, state: TenantState, entry: EntryRecorded,
              pending: list[dict[str, object]]) -> set[str]:
        if entry.kind == ENTRY_KIND_DERIVED:
            return self._tenants.take_back(state, entry)
        case = case_of(entry.envelope, entry.stream)
        try:
            affected = state.facts.add(Fact.from_envelope(entry.envelope))
        except Exception as exc:
            if case not in state.book.cases(DERIVATION):
                pending.append(self._failed(state, entry, case, exc))
            state.untaken.setdefault(case, []).append(entry)
            return set()
        for affected_case in affected:
            state.trigger[affected_case] = entry
        return affected

    def _failed(self, state: TenantState, entry: EntryRecorded, case: str,
                exc: Exception) -> dict[str, object]:
        """Count a failure on a case; at the threshold, its quarantine event (and the case
        is skipped from now on); below it, the batch is retried."""
        key = (entry.tenant, case)
        attempts = self._failures.get(key, 0) + 1
        self._failures[key] = attempts
        if attempts < self.quarantine_after:
            raise CaseFailed(f"case {case} at position {entry.position}: {describe(exc)}") \
                from exc
        self._failures.pop(key, None)
        self.quarantined += 1
        log.error("quarantined case %s of tenant %s at position %s for derivation: %s",
                  case, entry.tenant, entry.position, describe(exc))
        event = quarantined_event(entry, DERIVATION, case, describe(exc), attempts)
        # Skipped from now on; the recorded event, read back, says the same.
        state.book.open[(DERIVATION, case)] = Quarantined(
            entry.tenant, DERIVATION, case, entry.position, entry.event_id, describe(exc), 0)
        return event

    def _forget_failures(self, tenant: str, case: str) -> None:
        """A case handed back from quarantine is assessed as if it had never failed."""
        self._failures.pop((tenant, case), None)

    def watermark(self, tenant: str) -> datetime | None:
        state = self._tenants.get(tenant)
        return self._watermark(state.facts if state else None)

    def _watermark(self, facts: TenantFacts | None) -> datetime | None:
        event_time = facts.watermark if facts else None
        if not self.live:
            return event_time
        wall = self.clock() - self.lateness
        return wall if event_time is None else max(event_time, wall)

    def _derive(self, state: TenantState, cases: set[str],
                fallback: EntryRecorded) -> list[dict[str, object]]:
        facts = state.facts
        watermark = self.watermark(facts.tenant)
        news_time = facts.latest_time or watermark
        if news_time is None:
            return []
        skipped = state.book.cases(DERIVATION)
        derived: list[dict[str, object]] = []
        chosen = sorted((cases | facts.due_by(watermark)) - skipped)
        self._evaluate_ahead(facts, chosen)
        for case_id in chosen:
            try:
                assessment = facts.assess(case_id, watermark)
                derived += derive(facts.tenant, assessment, state.emitted, news_time)
            except CaseFailed:
                raise
            except Exception as exc:
                entry = state.trigger.get(case_id, fallback)
                derived.append(self._failed(state, entry, case_id, exc))
                continue
            self._failures.pop((facts.tenant, case_id), None)
        return derived

    def _evaluate_ahead(self, facts: TenantFacts, cases: list[str]) -> None:
        """Have an isolated evaluator evaluate the cases' rules all at once (one round
        trip, its workers side by side) before they are assessed one by one."""
        if isinstance(self.evaluator, InProcessEvaluator):
            return  # nothing to gain: no round trips
        try:
            pairs = [p for case_id in cases
                     for p in rule_checks(facts.facts_of(case_id), facts.view)]
            prefetch(self.evaluator, pairs)
        except Exception as exc:  # the assessment meets it again, and quarantines
            log.debug("rules not evaluated ahead: %s", describe(exc))

    def _sweep(self, tenant: str) -> None:
        """Wall-clock deadlines of a quiet tenant (live only); recorded without a position:
        a verdict recorded twice is a duplicate, and its ids are the same whoever derives."""
        state = self._tenants[tenant]
        watermark = self.watermark(tenant)
        due = state.facts.due_by(watermark) - state.book.cases(DERIVATION)
        if not due or state.facts.latest_time is None:
            return
        derived: list[dict[str, object]] = []
        for case_id in sorted(due):
            try:
                assessment = state.facts.assess(case_id, watermark)
                derived += derive(tenant, assessment, state.emitted, state.facts.latest_time)
            except Exception as exc:  # retried, and quarantined, when an entry arrives
                log.warning("sweep of case %s (tenant %s) failed: %s", case_id, tenant,
                            describe(exc))
        if derived:
            self.ledger.record_derived(derived, None)
            self._dirty.add(tenant)  # read back what it just wrote

    # --- queries on the in-memory model -----------------------------------------------

    def assess(self, tenant: str, case_id: str) -> CaseAssessment | None:
        state = self._tenants.state(tenant)
        if not state.facts.has_case(case_id):
            return None
        return state.facts.assess(case_id, self.watermark(tenant))

    def status(self) -> EngineStatus:
        return EngineStatus(self._discovery.cursor or 0, self.store.max_notification_id(),
                            len(self._tenants))

    def tenants_in_memory(self) -> int:
        return len(self._tenants)

    def cases_in_memory(self) -> int:
        return self._tenants.cases_in_memory()

    def cases_set_aside(self) -> int:
        return self._tenants.cases_set_aside()

    def close(self) -> None:
        """Remove what it set aside on disk (the store is the caller's to close)."""
        self._tenants.close()
