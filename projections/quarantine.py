"""Quarantine for projections: an entry a projection keeps failing on is set aside with
its case, for that projection only, and the projection goes on with everything else.

The runner (projections/runner.py, projections/isolation.py) hands a failed batch's
entries to its projection one at a time to find the one that fails; at `threshold`
failures on a case the guard records `ledger.entry.quarantined` (stage
`projection:<name>`) and that case's entries are skipped by that projection from then on.
A `ledger.entry.released` for the stage (`ledger quarantine retry`), read back from the
ledger, hands the case back: its set-aside entries are read from the ledger and applied
before the release.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.adapters.store import EventStore
from ledger.application.quarantine import (
    case_of,
    describe,
    open_quarantines,
    projection_stage,
    quarantined_event,
)
from ledger.domain.catalog import ENTRY_QUARANTINED, ENTRY_RELEASED
from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded

log = logging.getLogger(__name__)

#: Records derived envelopes in the ledger (a Ledger's `record_derived` without tracking).
Record = Callable[[list[dict[str, Any]]], object]


def _bookkeeping(entry: EntryRecorded) -> bool:
    """A quarantine or a release (not re-applied with a released case)."""
    return entry.kind == ENTRY_KIND_DERIVED and \
        entry.envelope.get("type") in (ENTRY_QUARANTINED, ENTRY_RELEASED)


@dataclass(slots=True)
class ProjectionGuard:
    """Failures, quarantines and set-aside cases of the projections of one store."""

    store: EventStore
    record: Record
    threshold: int = 3
    #: (projection, tenant, case) -> the tenant ledger position skipping starts at.
    skipped: dict[tuple[str, str, str], int] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: Tenants whose quarantines in force were read from the ledger (once per process).
    known: set[str] = field(default_factory=set)
    #: Quarantines recorded by this guard (for metrics and tests).
    quarantined: int = 0

    def _learn(self, tenant: str) -> None:
        if tenant in self.known:
            return
        self.known.add(tenant)
        for q in open_quarantines(self.store, tenant):
            if q.stage.startswith("projection:"):
                name = q.stage.removeprefix("projection:")
                self.skipped.setdefault((name, tenant, q.case_id), q.position)

    def keep(self, name: str, entries: Sequence[EntryRecorded]) -> list[EntryRecorded]:
        """The entries `name` is to apply: those of cases quarantined for it left out,
        and a released case's set-aside entries put back before its release."""
        kept: list[EntryRecorded] = []
        for entry in entries:
            self._learn(entry.tenant)
            kept += self._released(name, entry)
            case = case_of(entry.envelope, entry.stream)
            since = self.skipped.get((name, entry.tenant, case))
            if since is None or entry.position < since:
                kept.append(entry)
        return kept

    def _released(self, name: str, entry: EntryRecorded) -> list[EntryRecorded]:
        if entry.kind != ENTRY_KIND_DERIVED or entry.envelope.get("type") != ENTRY_RELEASED:
            return []
        data = entry.envelope.get("data", {})
        if data.get("stage") != projection_stage(name):
            return []
        since = self.skipped.pop((name, entry.tenant, data["case_id"]), None)
        self.failures.pop((name, entry.tenant, data["case_id"]), None)
        if since is None:
            return []
        back = self.store.entries(entry.tenant, since - 1, entry.position - since)
        return [e for e in back if e.position < entry.position
                and case_of(e.envelope, e.stream) == data["case_id"] and not _bookkeeping(e)]

    def failed(self, name: str, entry: EntryRecorded, exc: BaseException) -> bool:
        """Count a failure of `name` on `entry`; True when its case is now quarantined
        (recorded, and skipped from now on), False below the threshold."""
        case = case_of(entry.envelope, entry.stream)
        key = (name, entry.tenant, case)
        attempts = self.failures.get(key, 0) + 1
        self.failures[key] = attempts
        if attempts < self.threshold:
            return False
        self.failures.pop(key, None)
        stage = projection_stage(name)
        self.record([quarantined_event(entry, stage, case, describe(exc), attempts)])
        self.skipped[key] = entry.position
        self.quarantined += 1
        log.error("quarantined case %s of tenant %s at position %s for %s: %s", case,
                  entry.tenant, entry.position, stage, describe(exc))
        return True
