"""The runner's way past an entry a projection fails on: the failed batch again, one
entry at a time, so the entry that fails is known; the guard (projections/quarantine.py)
counts its failures and, at its threshold, sets its case aside, and the projection moves
past it. Outages and another runner's write are never a reason: they are raised as they are.

`FailureIsolation` is mixed into `Projections` (projections/runner.py), whose batches,
tracking and per-tenant memory it works with (`_Runner` says which).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from ledger.adapters.store import StoreUnavailable
from ledger.domain.events import EntryRecorded
from projections.base import LedgerProjection
from projections.quarantine import ProjectionGuard

# The runner's logger: these lines are part of its story (and filtered by its name).
log = logging.getLogger("projections.runner")
#: Failures that are outages (retried as they are), never a reason to quarantine.
OUTAGES = (StoreUnavailable, OperationalError, InterfaceError)

Pairs = Sequence[tuple[int, EntryRecorded]]  # (notification id, entry)


class _Runner(Protocol):
    """What the quarantine path uses of the runner (projections/runner.py)."""

    guard: ProjectionGuard | None
    #: The view position each stateful projection's memory matches (None: empty).
    _memory: dict[str, int | None]

    def _process(self, name: str, projection: LedgerProjection,
                 entries: Sequence[EntryRecorded], last: int) -> int: ...

    def _batch(self, name: str, projection: LedgerProjection,
               entries: Sequence[EntryRecorded], last: int, *, skip_empty: bool = False,
               ) -> bool: ...

    def _track(self, projection: LedgerProjection, head: int) -> None: ...

    def _forget(self, name: str, projection: LedgerProjection) -> None: ...

    def _sync_memory(self, targets: dict[str, int]) -> None: ...

    def _load_tenants(self, name: str, projection: LedgerProjection,
                      entries: Sequence[EntryRecorded]) -> None: ...

    def _isolate(self, name: str, projection: LedgerProjection, pairs: Pairs) -> int: ...


class FailureIsolation:
    """The guarded batch and, when it fails, its entries one at a time."""

    def _guarded(self: _Runner, name: str, projection: LedgerProjection, pairs: Pairs,
                 last: int) -> int:
        """`_process`, and with a guard, a failed batch taken one entry at a time, so the
        entry that fails is known, counted and, at the threshold, set aside."""
        entries = [e for _, e in pairs]
        self._load_tenants(name, projection, entries)
        if self.guard is None:
            return self._process(name, projection, entries, last)
        try:
            return self._process(name, projection, self.guard.keep(name, entries), last)
        except (IntegrityError, *OUTAGES):
            raise
        except Exception:
            log.warning("projection %s failed on a batch up to %s: one entry at a time",
                        name, last, exc_info=True)
        return self._isolate(name, projection, pairs)

    def _isolate(self: _Runner, name: str, projection: LedgerProjection, pairs: Pairs) -> int:
        assert self.guard is not None
        recorded = projection.view.position()
        for i, entry in pairs:
            if i <= recorded:
                continue
            if projection.stateful:
                self._sync_memory({name: recorded})
                self._load_tenants(name, projection, [entry])
            try:
                self._batch(name, projection, self.guard.keep(name, [entry]), i)
            except (IntegrityError, *OUTAGES):
                self._forget(name, projection)
                raise
            except Exception as exc:
                self._forget(name, projection)
                if not self.guard.failed(name, entry, exc):
                    raise
                self._track(projection, i)  # set aside: the projection moves past it
                if projection.stateful:
                    self._sync_memory({name: recorded})
            recorded = i
            if projection.stateful:
                self._memory[name] = i
        return recorded
