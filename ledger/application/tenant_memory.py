"""The tenants the responsibility engine holds in memory, and how one is rebuilt.

A tenant's state (its facts, what the engine already said, its quarantines) is rebuilt
from its ledger up to the engine's recorded position when first needed; the least
recently used settled tenants are evicted, so memory holds the tenants in use.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ledger.adapters.store import EventStore
from ledger.application.case_cache import CaseCache
from ledger.application.quarantine import DERIVATION, QuarantineBook, case_of, describe
from ledger.domain.catalog import ENTRY_RELEASED
from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded
from ledger.domain.responsibility.emitted import Emitted
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.rules import RuleEvaluator
from ledger.domain.responsibility.tenant import TenantFacts
from ledger.domain.responsibility.view import TenantView

_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
#: The engine's logger: its messages keep one name whichever of its modules says them.
log = logging.getLogger("ledger.application.derivation")


def engine_reader(tenant: str) -> str:
    """The tracking name of the engine's position in one tenant's ledger."""
    return f"engine:{tenant}"


def derived_position(store: EventStore, tenant: str) -> int:
    return store.max_tracking_id(engine_reader(tenant)) or 0


def derivation_reached(store: EventStore, tenant: str, position: int) -> bool:
    """Whether derivation of the tenant reflects its ledger up to `position`: recorded
    that far, or only derived entries (its own output) lie between."""
    tracked = derived_position(store, tenant)
    if tracked >= position:
        return True
    between = store.entries(tenant, tracked, position - tracked)
    return all(e.kind == ENTRY_KIND_DERIVED for e in between)


@dataclass(slots=True)
class TenantState:
    """One tenant as the engine holds it: facts, what it already said, quarantines."""

    facts: TenantFacts
    emitted: Emitted = field(default_factory=Emitted)
    book: QuarantineBook = field(default_factory=QuarantineBook)
    #: Entries read (the ledger position), and recorded as read.
    position: int = 0
    #: Entries whose fact could not be taken in (quarantined cases), retried on release.
    untaken: dict[str, list[EntryRecorded]] = field(default_factory=dict)
    #: The entry that last affected each case in the batch being derived.
    trigger: dict[str, EntryRecorded] = field(default_factory=dict)


class TenantMemory:
    """The engine's tenants in memory, least recently used first."""

    def __init__(
        self,
        store: EventStore,
        *,
        batch_size: int,
        capacity: int,
        lateness: timedelta,
        evaluator: RuleEvaluator,
        reminder_lead: timedelta,
        watermark: Callable[[TenantFacts | None], datetime | None],
        released: Callable[[str, str], None],
        cases: CaseCache | None = None,
    ) -> None:
        """`capacity`: settled tenants kept beyond those with work. `watermark`: the
        engine's time for a tenant's deadlines. `released`: told (tenant, case) when a
        case is handed back from quarantine, to forget its failures. `cases`: where settled
        cases beyond its capacity are set aside (None: every case stays in memory)."""
        self.store = store
        self.batch_size = batch_size
        self.capacity = capacity
        self.lateness = lateness
        self.evaluator = evaluator
        self.reminder_lead = reminder_lead
        self._watermark = watermark
        self._released = released
        self._tenants: OrderedDict[str, TenantState] = OrderedDict()
        self.cases = cases

    def __contains__(self, tenant: object) -> bool:
        return tenant in self._tenants

    def __iter__(self) -> Iterator[str]:
        return iter(self._tenants)

    def __len__(self) -> int:
        return len(self._tenants)

    def __getitem__(self, tenant: str) -> TenantState:
        return self._tenants[tenant]

    def get(self, tenant: str) -> TenantState | None:
        """The tenant if in memory, without loading it or marking it used."""
        return self._tenants.get(tenant)

    def state(self, tenant: str) -> TenantState:
        """The tenant, loaded from its ledger if not in memory, and marked used."""
        state = self._tenants.get(tenant)
        if state is None:
            state = self._load(tenant)
            self._tenants[tenant] = state
        self._tenants.move_to_end(tenant)
        return state

    def unload(self, tenant: str) -> None:
        self._tenants.pop(tenant, None)
        if self.cases is not None:
            self.cases.forget(tenant)

    def has_news(self, tenant: str) -> bool:
        """Entries after the tenant's recorded position that derivation acts on: an inbound
        entry or a release. The engine's own output read back is not recorded as read, so
        a derived tail (at most a batch or so) is usually there. Live, a tenant is loaded
        anyway: its wall-clock deadlines are swept only while it is in memory."""
        after = self.store.entries(tenant, derived_position(self.store, tenant),
                                   self.batch_size)
        return len(after) == self.batch_size or any(
            e.kind != ENTRY_KIND_DERIVED or e.envelope.get("type") == ENTRY_RELEASED
            for e in after)

    def take_back(self, state: TenantState, entry: EntryRecorded) -> set[str]:
        """Take in one of the engine's own events read back; the cases it affects. A
        release hands a case back: its untaken entries are taken in again and it is
        assessed as if it had never failed."""
        state.emitted.observe(entry.envelope)
        state.facts.observe(entry.envelope)
        what = state.book.observe(entry)
        if what is None or what[1] != DERIVATION or what[0] != "released":
            return set()
        case = what[2]
        self._released(entry.tenant, case)
        affected = {case}
        for untaken in state.untaken.pop(case, []):
            affected |= state.facts.add(Fact.from_envelope(untaken.envelope))
        return affected

    def evict(self, busy: set[str]) -> None:
        """Keep at most `capacity` tenants in memory: the least recently used settled ones
        (nothing due, not `busy`) go first, and are rebuilt when next needed."""
        excess = len(self._tenants) - self.capacity
        if excess <= 0:
            return
        for tenant in list(self._tenants):
            if excess <= 0:
                break
            state = self._tenants[tenant]
            if tenant in busy or state.facts.due_by(_END_OF_TIME):
                continue
            self.unload(tenant)
            excess -= 1

    def trim(self, states: list[TenantState] | None = None, spare: int = 0) -> None:
        """Set aside the least recently used settled cases beyond the case cache and
        `spare` (of `states`, default every tenant in memory)."""
        if self.cases is not None:
            self.cases.trim(list(self._tenants.values()) if states is None else states, spare)

    def cases_in_memory(self) -> int:
        return sum(len(state.facts.cases) for state in self._tenants.values())

    def cases_set_aside(self) -> int:
        return self.cases.spill.cases if self.cases is not None else 0

    def close(self) -> None:
        if self.cases is not None:
            self.cases.spill.close()

    def _load(self, tenant: str) -> TenantState:
        """The tenant rebuilt from its ledger up to its recorded position, deriving nothing."""
        view = TenantView(evaluator=self.evaluator, reminder_lead=self.reminder_lead)
        state = TenantState(TenantFacts(tenant, self.lateness, view))
        if self.cases is not None:
            self.cases.attach(state)
        tracked = derived_position(self.store, tenant)
        changed: set[str] = set()
        failed: dict[str, str] = {}  # tried again at the end only (a rule may be slow)
        while state.position < tracked:
            batch = self.store.entries(tenant, state.position,
                                       min(self.batch_size, tracked - state.position))
            if not batch:
                break
            state.facts.look_ahead(e.envelope for e in batch if e.kind != ENTRY_KIND_DERIVED)
            for entry in batch:
                changed |= self._replay(state, entry)
            state.position = batch[-1].position
            if self.cases is not None:  # a long history is not held whole while replayed
                # The cases just read stay until the next batch, which mostly brings
                # what the engine derived from them.
                failed |= self._reassess(state, changed - set(failed), spare=len(changed))
                changed = set()
        state.position = max(state.position, tracked)
        for case_id, error in sorted(self._reassess(state, changed | set(failed)).items()):
            log.warning("case %s of tenant %s not rescheduled: %s", case_id, tenant, error)
        return state

    def _replay(self, state: TenantState, entry: EntryRecorded) -> set[str]:
        """Take in one entry as derivation did, deriving nothing; the cases it may change."""
        if entry.kind == ENTRY_KIND_DERIVED:
            return self.take_back(state, entry)
        try:
            return state.facts.add(Fact.from_envelope(entry.envelope))
        except Exception:  # quarantined when it was first read: kept for a release
            state.untaken.setdefault(case_of(entry.envelope, entry.stream), []).append(entry)
            return set()

    def _reassess(self, state: TenantState, changed: set[str], spare: int = 0
                  ) -> dict[str, str]:
        """Assess the cases, deriving nothing, so that each one's next deadline (and what
        news reaches it) is known again: a replay takes facts in without assessing, and a
        case whose verdicts were derived before would never be found due. What the
        assessments imply is in the ledger already. As live derivation does, the cases
        assessed are those news reached (`changed`) and those whose next deadline passed:
        an assessment holds until then (`unchanged_since`), so a replay that sets settled
        cases aside as it goes need not bring each back at its end. Returns the cases that
        failed, with why (assessed again, and quarantined, when news reaches them)."""
        facts = state.facts
        watermark = self._watermark(facts)
        cases = (changed | facts.due_by(watermark)) - state.book.cases(DERIVATION)
        failed: dict[str, str] = {}
        for n, case_id in enumerate(sorted(c for c in cases if facts.has_case(c)), start=1):
            try:
                facts.assess(case_id, watermark)
            except Exception as exc:
                failed[case_id] = describe(exc)
            if n % self.batch_size == 0:
                self.trim([state], spare)
        self.trim([state], spare)
        return failed
