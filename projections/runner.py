"""Keeping the read models current: catch up, rebuild, status, and a live worker.

`Projections` holds the views of one ledger store (in its database, tables prefixed with
the store's name). `catch_up()` reads the ledger's entries once, in commit order and in
batches, and hands each batch to every projection that has not yet seen it; each writes
its rows with the batch's last notification id as its tracking record, in one transaction.
A projection therefore resumes after a restart from its own recorded position, and a
projection being rebuilt does not hold the others back.

Projections that keep state in memory (case chains, unit statistics) keep it per tenant,
loaded lazily: before a batch, each of its tenants not yet in memory has the entries the
view already reflects replayed into it, without writing, so a start costs what the new
entries' tenants hold, not the whole ledger. The runner remembers the view position its
memory matches; a view advanced by another process (or dropped by a rebuild) makes it
forget every tenant, reloaded as they come. A batch that fails is taken one entry at a
time to find the failing entry and quarantine its case (projections/isolation.py).

The library's own `ProjectionRunner` processes one event per transaction and needs a
subscription, which its SQLite recorder does not offer; batching is what makes a rebuild
of a million entries take seconds per hundred thousand, so the loop is ours, on the
library's tracking recorders and tracking records.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger.adapters.rule_sandbox import SandboxConfig, shared_sandbox
from ledger.adapters.store import EventStore
from ledger.config import Settings
from ledger.domain.events import EntryRecorded
from ledger.domain.responsibility.policy_check import IN_PROCESS
from ledger.domain.responsibility.rules import RuleEvaluator
from projections.base import LedgerProjection, ProjectionContext
from projections.isolation import FailureIsolation
from projections.parallel import catch_up_in_processes, group_jobs
from projections.postgres_view import PostgresRowView
from projections.quarantine import ProjectionGuard
from projections.registry import NAMES, PROJECTIONS, UnknownProjection, checked_names
from projections.schema import Row, ViewSchema
from projections.sqlite_view import SQLiteRowView
from projections.views import RowView

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_BATCH", "NAMES", "PROJECTIONS", "Projections", "UnknownProjection",
           "catch_up", "checked_names"]
DEFAULT_BATCH = 5000
#: Tenants a stateful view keeps in memory (LEDGER_PROJECTION_CACHE_TENANTS).
DEFAULT_CACHE_TENANTS = 1000

#: Called with (notification id reached, ledger head) as a catch-up advances.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        """Notification ids not yet reflected (receipts and checkpoints included)."""
        return max(0, self.head - self.position)


def store_name_of(store: EventStore) -> str:
    """The store's table prefix: PostgreSQL says it in its table names; the embedded
    SQLite file has fixed table names, so there it is the name the store was opened with."""
    recorder = store.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        return recorder.events_table_name.removesuffix("_events")
    return store.name


class Projections(FailureIsolation):
    """The read side of one ledger store."""

    def __init__(
        self, store: EventStore, *, store_name: str | None = None,
        names: Iterable[str] | None = None, lateness: timedelta = timedelta(minutes=5),
        batch_size: int = DEFAULT_BATCH, workers: int = 4, owns_store: bool = False,
        evaluator: RuleEvaluator = IN_PROCESS, guard: ProjectionGuard | None = None,
        settings: Settings | None = None, processes: int | None = None,
        cache_tenants: int = DEFAULT_CACHE_TENANTS, cache_cases: int | None = None,
        spill_dir: Path | None = None,
    ) -> None:
        """`evaluator`: runs policy rules for the case chains (from settings: the
        process's sandbox, the one the engine uses). `guard`: quarantines a case a
        projection keeps failing on (projections/quarantine.py); without one a failing
        entry stops its projection until fixed. `settings`, the store's: lets a rebuild
        share the views out between `processes` (default: the cores this process may
        use) on PostgreSQL (projections/parallel.py). `cache_tenants`: tenants a stateful
        view keeps in memory; the least recently used beyond them are dropped and replayed
        from the ledger when next needed. `cache_cases`: settled cases the case-chains
        view holds across those tenants (None: all); others are set aside in a spill
        under `spill_dir` (ledger/adapters/case_spill.py) until an entry touches them."""
        self.store = store
        self.store_name = store_name or store_name_of(store)
        self.context = ProjectionContext(lateness=lateness, evaluator=evaluator,
                                         cache_cases=cache_cases, spill_dir=spill_dir)
        self.batch_size = batch_size
        self.workers = workers
        self._owns_store = owns_store
        self.guard = guard
        self.settings = settings
        self.processes = processes if processes is not None else len(os.sched_getaffinity(0))
        self._lock = threading.RLock()
        #: The view position each stateful projection's memory matches (None: empty).
        self._memory: dict[str, int | None] = {}
        #: The tenants each stateful projection holds in memory, least recently used first.
        self._loaded: dict[str, OrderedDict[str, None]] = {}
        self.cache_tenants = cache_tenants
        self.projections: dict[str, LedgerProjection] = {
            name: self._build(name) for name in checked_names(names)}
        #: The head reached by the last completed catch-up (for readers waiting on it).
        self.reached = 0
        #: Views whose last batches changed nothing and were not written (the catch-up
        #: records their position once, at its end).
        self._untracked: set[str] = set()
        #: Seconds each view spent on its batches, in this process or its rebuild's.
        self.busy: dict[str, float] = dict.fromkeys(self.projections, 0.0)

    @classmethod
    def from_settings(
        cls, settings: Settings, names: Iterable[str] | None = None, *,
        store: EventStore | None = None, **options: Any
    ) -> Projections:
        """The views as the settings configure them; on `store` (opened from the same
        settings and kept open by its owner), or on a store of their own."""
        if "evaluator" not in options:
            options["evaluator"] = shared_sandbox(SandboxConfig.from_settings(settings))
        options.setdefault("cache_tenants", settings.projection_cache_tenants)
        options.setdefault("cache_cases", settings.projection_cache_cases)
        options.setdefault("spill_dir", settings.engine_spill_dir)
        return cls(store or EventStore(settings), store_name=settings.store_name, names=names,
                   lateness=settings.allowed_lateness, owns_store=store is None,
                   settings=settings, **options)

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    # --- construction -------------------------------------------------------------------

    def _view(self, schema: ViewSchema) -> RowView:
        datastore = getattr(self.store.recorder, "datastore", None)
        view: RowView
        if isinstance(datastore, PostgresDatastore):
            view = PostgresRowView(datastore, schema=schema, store_name=self.store_name)
        elif isinstance(datastore, SQLiteDatastore):
            view = SQLiteRowView(datastore, schema=schema, store_name=self.store_name)
        else:
            raise TypeError(f"no views for a store on {type(datastore).__name__}")
        view.create_table()
        return view

    def _build(self, name: str) -> LedgerProjection:
        cls = PROJECTIONS[name]
        view = self._view(cls.schema)
        self._memory[name] = None
        return cls(view, self.context)

    def view(self, name: str) -> RowView:
        return self.projections[name].view

    # --- catching up --------------------------------------------------------------------

    def catch_up(
        self, names: Iterable[str] | None = None, *, progress: Progress | None = None,
        until: int | None = None,
    ) -> dict[str, int]:
        """Bring the projections up to the ledger's head (or `until`); entries processed
        per projection. Safe to call from several threads (one runs at a time)."""
        with self._lock:
            chosen = {n: self.projections[n] for n in checked_names(names)
                      if n in self.projections}
            head = self.store.max_notification_id() if until is None else until
            positions = {n: p.view.position() for n, p in chosen.items()}
            # Memory is rebuilt only for a view with entries to take: an idle start reads
            # nothing, however long the ledger.
            self._sync_memory({n: positions[n] for n, p in chosen.items()
                               if p.stateful and positions[n] < head})
            processed = dict.fromkeys(chosen, 0)
            self._untracked = set()
            cursor = min(positions.values(), default=head)
            if cursor < head:
                with ThreadPoolExecutor(1, "projections-read") as reader, \
                        ThreadPoolExecutor(self.workers, "projections") as writers:
                    self._follow(chosen, positions, processed, cursor, head, reader, writers,
                                 progress)
            for name, projection in chosen.items():
                # Only receipts or checkpoints were left, or batches that changed nothing.
                if positions[name] < head or name in self._untracked:
                    self._track(projection, head)
                    if projection.stateful and self._memory.get(name) == positions[name]:
                        self._memory[name] = head
            if progress is not None:
                progress(head, head)
            if names is None:
                self.reached = head
            return processed

    def _follow(
        self, chosen: dict[str, LedgerProjection], positions: dict[str, int],
        processed: dict[str, int], cursor: int, head: int, reader: ThreadPoolExecutor,
        writers: ThreadPoolExecutor, progress: Progress | None,
    ) -> None:
        """Batches from `cursor` to `head`. The next batch is read while the projections
        work on this one, and the projections work side by side (each on its own
        connection), so one's database round trips overlap another's computing."""
        upcoming: Future[list[tuple[int, EntryRecorded]]] | None = reader.submit(
            self.store.entry_notifications, cursor, self.batch_size, head)
        while upcoming is not None:
            batch = upcoming.result()
            if not batch:
                return
            last = batch[-1][0]
            upcoming = reader.submit(self.store.entry_notifications, last, self.batch_size,
                                     head) if last < head else None
            jobs: dict[str, tuple[int, Future[int]]] = {}
            for name, projection in chosen.items():
                if positions[name] < last:
                    pairs = [(i, e) for i, e in batch if i > positions[name]]
                    jobs[name] = (len(pairs), writers.submit(
                        self._guarded, name, projection, pairs, last))
            failure: BaseException | None = None
            for name, (count, job) in jobs.items():
                try:
                    positions[name] = job.result()
                    processed[name] += count
                except BaseException as exc:
                    failure = failure or exc
            if failure is not None:
                if upcoming is not None:
                    upcoming.cancel()
                raise failure
            if progress is not None:
                progress(last, head)

    def _process(
        self, name: str, projection: LedgerProjection, entries: Sequence[EntryRecorded],
        last: int,
    ) -> int:
        try:
            if self._batch(name, projection, entries, last, skip_empty=True):
                self._untracked.discard(name)
            else:
                self._untracked.add(name)
        except IntegrityError:
            recorded = projection.view.position()
            if recorded < last:
                self._forget(name, projection)
                raise
            # Another runner wrote this batch first: our memory holds it too; skip ahead.
            log.info("projection %s: position %s already recorded (now %s)", name, last,
                     recorded)
            if projection.stateful:
                self._memory[name] = last
                self._sync_memory({name: recorded})
            return recorded
        except BaseException:
            self._forget(name, projection)
            raise
        if projection.stateful:
            self._memory[name] = last
        return last

    def _batch(self, name: str, projection: LedgerProjection,
               entries: Sequence[EntryRecorded], last: int, *, skip_empty: bool = False,
               ) -> bool:
        """Whether the batch was written (`skip_empty`: not when it changed nothing)."""
        started = time.perf_counter()
        try:
            return projection.process_batch(entries, Tracking(self.store_name, last),
                                            skip_empty=skip_empty)
        finally:
            self.busy[name] = self.busy.get(name, 0.0) + time.perf_counter() - started

    def _track(self, projection: LedgerProjection, head: int) -> None:
        with contextlib.suppress(IntegrityError):  # another runner recorded it (or more)
            projection.view.insert_tracking(Tracking(self.store_name, head))

    def _forget(self, name: str, projection: LedgerProjection) -> None:
        projection.reset()
        self._loaded[name] = OrderedDict()
        if projection.stateful:
            self._memory[name] = None

    def _sync_memory(self, targets: dict[str, int]) -> None:
        """Memory that no longer matches a stateful view's recorded position is forgotten
        (its tenants are reloaded as they come, `_load_tenants`)."""
        for name, recorded in targets.items():
            if self._memory.get(name) != recorded:
                self.projections[name].reset()
                self._loaded[name] = OrderedDict()
                self._memory[name] = recorded
            self.projections[name].warmed = True

    def _load_tenants(
        self, name: str, projection: LedgerProjection, entries: Sequence[EntryRecorded],
    ) -> None:
        """Replay into memory, for each tenant of `entries` not held yet, its entries
        before its first one here: those the view already reflects (a batch follows the
        view's position, and a tenant's entries are committed in their order)."""
        if not projection.stateful:
            return
        loaded = self._loaded.setdefault(name, OrderedDict())
        firsts: dict[str, int] = {}
        for entry in entries:
            firsts.setdefault(entry.tenant, entry.position)
        for tenant, first in firsts.items():
            if tenant in loaded:
                loaded.move_to_end(tenant)
                continue
            after = 0
            while after < first - 1:
                page = self.store.entries(tenant, after, min(self.batch_size, first - 1 - after))
                if not page:
                    break
                after = page[-1].position
                kept = self.guard.keep(name, page) if self.guard is not None else page
                if kept:
                    projection.warm(kept)
            loaded[tenant] = None
        while len(loaded) > max(self.cache_tenants, len(firsts)):
            projection.forget_tenant(loaded.popitem(last=False)[0])

    # --- rebuild, status, dumps ---------------------------------------------------------

    def rebuild(
        self, names: Iterable[str] | None = None, *, progress: Progress | None = None
    ) -> dict[str, int]:
        """Drop the views (and their tracking) and replay them from the whole ledger."""
        with self._lock:
            chosen = checked_names(names)
            for name in chosen:
                self.projections[name].view.drop_tables()
                self.projections[name] = self._build(name)
                self._loaded[name] = OrderedDict()
            head = self.store.max_notification_id()
            jobs = group_jobs(self, chosen, head)
            if not jobs:
                return self.catch_up(chosen, progress=progress)
            processed = catch_up_in_processes(
                jobs, self.busy, poll=None if progress is None else lambda: progress(min(
                    self.projections[n].view.position() for n in chosen), head))
            more = self.catch_up(chosen, progress=progress)  # what came in meanwhile
            return {name: processed.get(name, 0) + more[name] for name in chosen}

    def cases_held(self) -> tuple[int, int]:
        """Cases the views hold in memory, and cases they set aside on local disk."""
        views = self.projections.values()
        return (sum(p.cases_in_memory for p in views), sum(p.cases_set_aside for p in views))

    def status(self) -> list[ProjectionStatus]:
        head = self.store.max_notification_id()
        return [ProjectionStatus(name, p.view.position(), head)
                for name, p in self.projections.items()]

    def dump(self, names: Iterable[str] | None = None) -> dict[str, dict[str, list[Row]]]:
        return {name: self.projections[name].view.dump() for name in checked_names(names)
                if name in self.projections}

    def drop(self) -> None:
        """Drop every view of this store (tests clean up with this)."""
        with self._lock:
            for projection in self.projections.values():
                projection.view.drop_tables()


def catch_up(
    source: Settings | EventStore, names: Iterable[str] | None = None, **options: Any
) -> dict[str, int]:
    """Bring the named projections (all by default) up to the ledger's head, once."""
    if isinstance(source, Settings):
        projections = Projections.from_settings(source, names, **options)
    else:
        projections = Projections(source, names=names, **options)
    try:
        return projections.catch_up()
    finally:
        projections.close()
