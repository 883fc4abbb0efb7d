"""The responsibility engine: follows the ledger, writes what follows from it back into it.

It reads every tenant's entries in commit order, keeps each tenant's facts in memory
(rebuilt from the ledger on start), assesses the cases a batch affects (and the cases
whose obligations the watermark has passed), and appends the derived events with its
read position in one transaction: a crash neither loses nor doubles a verdict.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventsourcing.persistence import Tracking

from ledger.adapters.clock import Clock
from ledger.application.recording import AlreadyTracked, Ledger
from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded
from ledger.domain.responsibility.assess import TenantView
from ledger.domain.responsibility.derive import Emitted, derive
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.policy_check import IN_PROCESS
from ledger.domain.responsibility.rules import RuleEvaluator
from ledger.domain.responsibility.tenant import TenantFacts
from ledger.domain.responsibility.verdicts import CaseAssessment

ENGINE_READER = "responsibility-engine"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineStatus:
    position: int
    head: int
    tenants: int

    @property
    def lag(self) -> int:
        return self.head - self.position


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
    ) -> None:
        """`live`: also judge deadlines against the wall clock (minus lateness), for quiet
        tenants in live operation. Off for replays and tests, whose time is event time.
        `evaluator`: runs policy rules (a real process passes an isolated one)."""
        self.ledger = ledger
        self.store = ledger.store
        self.lateness = lateness
        self.clock = clock
        self.live = live
        self.batch_size = batch_size
        self.evaluator = evaluator
        self._tenants: dict[str, TenantFacts] = {}
        self._emitted: dict[str, Emitted] = defaultdict(Emitted)
        self._position = 0
        self._loaded = False

    # --- reading back what was already decided -------------------------------------------

    def _load(self) -> None:
        """Rebuild the in-memory facts up to the recorded position, deriving nothing."""
        tracked = self.store.max_tracking_id(ENGINE_READER) or 0
        while self._position < tracked:
            batch = self.store.entry_notifications(self._position, self.batch_size, stop=tracked)
            if not batch:
                break
            for _, entry in batch:
                self._take(entry)
            self._position = batch[-1][0]
        self._position = max(self._position, tracked)
        self._loaded = True

    def _tenant(self, tenant: str) -> TenantFacts:
        if tenant not in self._tenants:
            view = TenantView(evaluator=self.evaluator)
            self._tenants[tenant] = TenantFacts(tenant, self.lateness, view)
        return self._tenants[tenant]

    def _take(self, entry: EntryRecorded) -> set[str]:
        if entry.kind == ENTRY_KIND_DERIVED:
            self._emitted[entry.tenant].observe(entry.envelope)
            return set()
        return self._tenant(entry.tenant).add(Fact.from_envelope(entry.envelope))

    # --- deriving ------------------------------------------------------------------------

    def run_once(self) -> int:
        """Process one batch of new entries (and a wall-clock sweep when live); returns how
        many entries it read."""
        if not self._loaded:
            self._load()
        batch = self.store.entry_notifications(self._position, self.batch_size)
        affected: dict[str, set[str]] = defaultdict(set)
        for _, entry in batch:
            affected[entry.tenant] |= self._take(entry)
        derived = []
        for tenant in sorted(set(affected) | (set(self._tenants) if self.live else set())):
            derived += self._derive(tenant, affected.get(tenant, set()))
        last = batch[-1][0] if batch else self._position
        if derived or (batch and any(e.kind != ENTRY_KIND_DERIVED for _, e in batch)):
            try:
                self.ledger.record_derived(derived, Tracking(ENGINE_READER, last))
            except AlreadyTracked:
                # Another engine (another API process) derived this batch first; its
                # output is in the ledger and is observed when read. Same facts, same
                # verdicts: nothing of ours is lost.
                log.info("batch up to %s was derived by another engine", last)
        self._position = last
        return len(batch)

    def run_until_idle(self, max_rounds: int = 1_000_000) -> int:
        """Catch up with the ledger, including with the engine's own output."""
        total = 0
        for _ in range(max_rounds):
            read = self.run_once()
            total += read
            if read == 0:
                return total
        return total

    def watermark(self, tenant: str) -> datetime | None:
        facts = self._tenants.get(tenant)
        event_time = facts.watermark if facts else None
        if not self.live:
            return event_time
        wall = self.clock() - self.lateness
        return wall if event_time is None else max(event_time, wall)

    def _derive(self, tenant: str, cases: set[str]) -> list[dict[str, object]]:
        facts = self._tenants.get(tenant)
        if facts is None:
            return []
        watermark = self.watermark(tenant)
        news_time = facts.latest_time or watermark
        assert news_time is not None
        derived: list[dict[str, object]] = []
        for case_id in sorted(cases | facts.due_by(watermark)):
            assessment = facts.assess(case_id, watermark)
            derived += derive(tenant, assessment, self._emitted[tenant], news_time)
        return derived

    # --- queries on the in-memory model --------------------------------------------------

    def assess(self, tenant: str, case_id: str) -> CaseAssessment | None:
        facts = self._tenants.get(tenant)
        if facts is None or case_id not in facts.cases:
            return None
        return facts.assess(case_id, self.watermark(tenant))

    def status(self) -> EngineStatus:
        return EngineStatus(self._position, self.store.max_notification_id(), len(self._tenants))
