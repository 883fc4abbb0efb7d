"""The read models behind the query routes, and the worker keeping them current.

The views are built on first use. `ReadSide(run_projections=True)` also keeps them
current in a background thread started by the app's lifespan (optionally running the
responsibility engine first in each round); a query then waits briefly (`freshness_s`)
for the views to reflect the ledger as it was when the query arrived.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from ledger.application.recording import Ledger
from ledger.config import Settings
from projections.quarantine import ProjectionGuard
from projections.reads import ReadModels
from projections.runner import Projections
from projections.worker import ProjectionWorker


class ReadSide:
    """The read models behind the routes (and, if asked, the worker keeping them current)."""

    def __init__(
        self, ledger: Ledger, *, projections: Projections | None = None,
        settings: Settings | None = None, run_projections: bool = False,
        upstream: Callable[[], int] | None = None, freshness_s: float = 2.0,
        idle_s: float = 0.5,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self._projections = projections
        self.run_projections = run_projections
        self.upstream = upstream
        self.freshness_s = freshness_s
        self.idle_s = idle_s
        self.worker: ProjectionWorker | None = None
        self._lock = threading.Lock()

    @property
    def projections(self) -> Projections:
        with self._lock:
            if self._projections is None:
                self._projections = self._open_projections()
            return self._projections

    def _open_projections(self) -> Projections:
        """The views of the ledger's store, as the settings say (the defaults without)."""
        if self.settings is None:
            return Projections(self.ledger.store)
        # The process that keeps the views current sets a failing case aside, as a worker
        # does, rather than stopping every view on it.
        ledger = self.ledger
        guard = ProjectionGuard(ledger.store, lambda events: ledger.record_derived(
            events, None), self.settings.quarantine_after) if self.run_projections else None
        return Projections.from_settings(self.settings, store=ledger.store, guard=guard)

    def reads(self) -> ReadModels:
        if self.worker is not None:
            self.worker.wait_current(self.freshness_s)
        return ReadModels(self.projections)

    def start(self) -> None:
        if self.run_projections and self.worker is None:
            self.worker = ProjectionWorker(self.projections, idle_s=self.idle_s,
                                           upstream=self.upstream).start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts the projection worker (when the read side was asked to run one)."""
    read_side: ReadSide | None = getattr(app.state, "read_side", None)
    if read_side is not None:
        await run_in_threadpool(read_side.start)
    try:
        yield
    finally:
        if read_side is not None:
            await run_in_threadpool(read_side.stop)
