"""`ledger projections follow`: the read models kept current in a process of their own.

Beside workers that only derive (LEDGER_WORK_PROJECT=false), the views get a core of
their own instead of sharing the partition-0 worker's. One such process is enough (the
views are global); a second only repeats the work, harmlessly: each view's position is
its tracking record, and a batch another process wrote first is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from cli.background import FOLLOW_S, SLOW_S, logged_if_slow, outage_pause
from cli.root import build_ledger, configure_logging, load_settings, rule_evaluator
from cli.runtime import tune_gc_for_ingest
from ledger.adapters.store.locks import one_schema_change_at_a_time
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.responsibility.rules import RuleEvaluator
from projections.quarantine import ProjectionGuard
from projections.runner import Projections

log = logging.getLogger("cli.project")
LAG_EVERY_S = 1.0


class ViewMemory:
    """The cases the views hold in memory and set aside, on a process's /metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.in_memory = Gauge("ledger_projections_cases_in_memory", "Cases whose facts the "
                               "case-chains view holds in memory.", registry=registry)
        self.set_aside = Gauge("ledger_projections_cases_set_aside", "Settled cases the "
                               "case-chains view set aside on local disk "
                               "(LEDGER_PROJECTION_CACHE_CASES).", registry=registry)

    def observe(self, projections: Projections) -> None:
        held, aside = projections.cases_held()
        self.in_memory.set(held)
        self.set_aside.set(aside)


class ProjectorMetrics:
    """/metrics of `ledger projections follow`: how far the views trail the ledger."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.lag = Gauge("ledger_projections_lag", "Notification ids a view has not "
                         "reflected (ledger head - its position).", ["projection"],
                         registry=self.registry)
        self.slow_steps = Counter("ledger_projections_slow_steps", "Steps that took over "
                                  f"{SLOW_S:g} s.", registry=self.registry)
        self.projected = Counter("ledger_projections_entries", "Entries projected, summed "
                                 "over the views.", registry=self.registry)
        self.memory = ViewMemory(self.registry)
        self._lag_read = 0.0

    def serve(self, port: int) -> None:
        if port > 0:
            start_http_server(port, registry=self.registry)

    def timed(self, projections: Projections,
              step: Callable[[], int]) -> Callable[[], int]:
        def counted() -> int:
            started = time.monotonic()
            found = step()
            self.projected.inc(found)
            if time.monotonic() - started > SLOW_S:
                self.slow_steps.inc()
            # status() is a query a view: read once a second, not every step.
            if time.monotonic() - self._lag_read >= LAG_EVERY_S:
                self._lag_read = time.monotonic()
                for view in projections.status():
                    self.lag.labels(view.name).set(view.lag)
                self.memory.observe(projections)
            return found
        return counted


def projection_step(projections: Projections) -> Callable[[], int]:
    def project() -> int:
        if projections.store.max_notification_id() <= projections.reached:
            return 0  # one query while idle, not one per view
        return sum(projections.catch_up().values())
    return project


def open_projections(ledger: Ledger, settings: Settings,
                     evaluator: RuleEvaluator) -> Projections:
    """The read models as a worker keeps them: rules sandboxed, quarantine recorded."""
    # Processes started together would all create the views' tables of a fresh store.
    with one_schema_change_at_a_time(settings.database_url):
        return Projections.from_settings(settings, store=ledger.store, evaluator=evaluator,
                                         guard=projection_guard(ledger, settings))


def follow_projections() -> None:
    """Keep the read models current until interrupted (`ledger projections follow`)."""
    import signal

    # SIGTERM stops it as Ctrl-C does: as a container's PID 1, an unhandled one is ignored.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    settings = load_settings()
    configure_logging(settings)
    metrics = ProjectorMetrics()
    metrics.serve(settings.metrics_port)  # before the views' tables: probes answer early
    ledger = build_ledger(settings)
    projections = open_projections(ledger, settings, rule_evaluator(settings, warm=True))
    tune_gc_for_ingest()
    step = metrics.timed(projections, logged_if_slow("views", projection_step(projections)))
    stop = threading.Event()
    log.info("ledger projections follow: keeping the read models current")
    try:
        while not stop.is_set():
            try:
                found = step()
            except Exception as exc:
                outage_pause(stop, exc)
                continue
            if not found:
                stop.wait(FOLLOW_S)
    except KeyboardInterrupt:
        stop.set()
    finally:
        ledger.store.close()


def projection_guard(ledger: Ledger, settings: Settings) -> ProjectionGuard:
    """Quarantine for the projections: recorded in the ledger like derivation's."""
    return ProjectionGuard(ledger.store, lambda events: ledger.record_derived(events, None),
                           settings.quarantine_after)
