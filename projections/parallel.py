"""A rebuild shared out between processes: the views in groups of about equal cost, each
group caught up by its own process (its own store connection, reader and views).

Projections run on the GIL; in threads the nine views of a rebuild take turns on one
core, whatever the machine has. In processes they use every core. Each process reads and
decodes the ledger for itself, which costs far less than what its views do with it.

Only for a store on PostgreSQL (SQLite has one writer) opened from settings (a process
opens its own store from them), without a quarantine guard (it records into the ledger
through the caller's), and a ledger long enough to pay for starting the processes.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from eventsourcing.postgres import PostgresDatastore

from ledger.adapters.rule_sandbox import SandboxConfig, shared_sandbox
from ledger.adapters.store import EventStore
from ledger.config import Settings
from ledger.domain.responsibility.policy_check import IN_PROCESS
from projections.registry import shares

if TYPE_CHECKING:
    from projections.runner import Projections

#: Notification ids from which a rebuild starts processes (a process costs ~2 s to start).
PARALLEL_FROM = 50_000
#: Allocations between young-generation collections in a rebuild process (CPython: 700).
#: A rebuild allocates a few dozen containers per entry and frees them a batch later;
#: at the default the collector walks them, and the views' memory, over and over
#: (docs/decisions/0004-gc-tuning-for-ingest.md measured the same on ingest).
GEN0_THRESHOLD = 100_000


@dataclass(frozen=True, slots=True)
class GroupJob:
    """What a process needs to catch up its group of views (sent to it pickled)."""

    settings: Settings
    store_name: str
    names: tuple[str, ...]
    lateness: timedelta
    batch_size: int
    workers: int
    sandboxed: bool
    until: int
    cache_cases: int | None


def group_jobs(projections: Projections, names: Sequence[str], head: int) -> list[GroupJob]:
    """The views `names` of a rebuild to `head`, in one job per process; none when the
    rebuild is better done in this process (see the module's docstring)."""
    store = projections.store
    settings = projections.settings
    if (settings is None or projections.processes < 2 or projections.guard is not None
            or head < PARALLEL_FROM
            or not isinstance(getattr(store.recorder, "datastore", None), PostgresDatastore)):
        return []
    groups = shares(names, projections.processes)
    context = projections.context
    return [GroupJob(settings=settings, store_name=projections.store_name,
                     names=tuple(group), lateness=context.lateness,
                     batch_size=projections.batch_size, workers=projections.workers,
                     sandboxed=context.evaluator is not IN_PROCESS, until=head,
                     cache_cases=context.cache_cases)
            for group in groups] if len(groups) > 1 else []


#: Entries processed and busy seconds per view, of one process.
Outcome = tuple[dict[str, int], dict[str, float]]


def _catch_up_group(job: GroupJob) -> Outcome:
    """In a rebuild process: its views caught up to `until` (their tables already made);
    entries processed and busy seconds per view."""
    from projections.runner import Projections  # here: the runner imports this module

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    evaluator = shared_sandbox(SandboxConfig.from_settings(job.settings)) if job.sandboxed \
        else IN_PROCESS
    projections = Projections(
        EventStore(job.settings), store_name=job.store_name, names=job.names,
        lateness=job.lateness, batch_size=job.batch_size, workers=job.workers,
        owns_store=True, evaluator=evaluator, cache_cases=job.cache_cases,
        spill_dir=job.settings.engine_spill_dir)
    try:
        return projections.catch_up(job.names, until=job.until), projections.busy
    finally:
        projections.close()


def catch_up_in_processes(
    jobs: Sequence[GroupJob], busy: dict[str, float], *,
    poll: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Run every job in its own (spawned) process; entries processed per view (their busy
    seconds added to `busy`). `poll` is called about twice a second while they run."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    processed: dict[str, int] = {}
    with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        futures: list[Future[Outcome]] = [pool.submit(_catch_up_group, j) for j in jobs]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                for future in pending:
                    future.cancel()
                break
            if poll is not None:
                poll()
        for future in futures:
            counts, seconds = future.result()  # raises the first failure
            processed.update(counts)
            for name, spent in seconds.items():
                busy[name] = busy.get(name, 0.0) + spent
    return processed
