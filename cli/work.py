"""`ledger work`: derivation and projection workers.

Embedded (SQLite, no Kafka): one worker follows the store's notification log for every
tenant. Kafka: workers are members of a consumer group on the entries topic, to which
committed entries are relayed keyed by tenant; Kafka assigns the partitions (so the
tenants) to members, and a worker derives the tenants it is woken for from their own
recorded positions. The member holding partition 0 also runs the relay and, unless
`ledger projections follow` does (LEDGER_WORK_PROJECT=false, cli/project.py), the
projections (global read models with their own positions): Kafka's assignment, not a
home-made election, decides who, and a rebalance overlap is refused by the positions.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from cli.background import FOLLOW_S, SLOW_S, Duties, logged_if_slow, outage_pause
from cli.project import ViewMemory, open_projections, projection_step
from cli.root import (
    build_engine,
    build_ledger,
    configure_logging,
    load_settings,
)
from cli.runtime import tune_gc_for_ingest
from consumers.entries_relay import EntriesRelay, wake_up
from ledger.application.derivation import ResponsibilityEngine, derived_position
from ledger.application.follower import FollowerThread
from ledger.application.quarantine import describe
from ledger.config import Settings
from projections.runner import Projections

log = logging.getLogger("cli.work")
IDLE_S = 0.05
LAG_EVERY_S = 1.0
POLL_MS = 100  # the derivation loop's wait for wake-ups (returns at once when one comes)


def work_mode(settings: Settings) -> str:
    return settings.work_mode


class WorkMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.lag = Gauge("ledger_work_verdict_lag", "Entries of a tenant not yet derived.",
                         ["tenant"], registry=self.registry)
        self.quarantined = Counter("ledger_work_quarantined", "Cases quarantined by this "
                                   "worker.", registry=self.registry)
        self.derived = Counter("ledger_work_entries_read", "Tenant entries derived.",
                               registry=self.registry)
        self.reconnected = Counter("ledger_work_group_rejoins", "Times this worker joined "
                                   "its group again, found holding nothing while partitions "
                                   "had no owner.", registry=self.registry)
        self.round_seconds = Histogram("ledger_work_round_seconds", "Wall time of a "
                                       "derivation round.", registry=self.registry,
                                       buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
        self.cases_in_memory = Gauge("ledger_work_cases_in_memory", "Cases whose facts this "
                                     "worker holds in memory.", registry=self.registry)
        self.cases_set_aside = Gauge("ledger_work_cases_set_aside", "Settled cases set aside "
                                     "on local disk (LEDGER_ENGINE_CACHE_CASES).",
                                     registry=self.registry)
        self.view_memory = ViewMemory(self.registry)
        self._lagging: set[str] = set()
        self._lag_read = 0.0

    def serve(self, port: int) -> None:
        if port > 0:
            start_http_server(port, registry=self.registry)

    def observe(self, engine: ResponsibilityEngine, tenants: set[str], read: int,
                quarantined_before: int, projections: Projections | None = None) -> None:
        self.derived.inc(read)
        self.quarantined.inc(engine.quarantined - quarantined_before)
        # The lag costs two queries a tenant: measured once a second, not every round.
        self._lagging |= tenants
        if time.monotonic() - self._lag_read < LAG_EVERY_S:
            return
        self._lag_read = time.monotonic()
        self.cases_in_memory.set(engine.cases_in_memory())
        self.cases_set_aside.set(engine.cases_set_aside())
        if projections is not None:
            self.view_memory.observe(projections)
        for tenant in sorted(self._lagging):
            head = engine.store.head(tenant).position
            self.lag.labels(tenant).set(max(0, head - derived_position(engine.store, tenant)))
        self._lagging = set()


class Worker:
    """One round at a time: derive the tenants with work, then project."""

    def __init__(self, engine: ResponsibilityEngine, projections: Projections | None,
                 metrics: WorkMetrics) -> None:
        self.engine = engine
        self.projections = projections
        self.metrics = metrics

    def round(self, tenants: set[str] | None = None, batches: int = 1000) -> int:
        """Derive `tenants` (None: discover them from the store's log) until they are
        caught up or have taken `batches` batches each, then bring the projections up;
        returns entries read."""
        before, started = self.engine.quarantined, time.monotonic()
        if tenants is None:
            read = self.engine.run_once()
        else:
            self.engine.mark_dirty(tenants)
            read = 0
            for _ in range(batches):
                got = self.engine.run_dirty()
                read += got
                if got == 0:
                    break
        if self.projections is not None:
            try:
                read += sum(self.projections.catch_up().values())
            except Exception as exc:  # retried next round; a case quarantined at the limit
                log.warning("projections failed (retried): %s", describe(exc))
        self.metrics.observe(self.engine, tenants or set(), read, before, self.projections)
        took = time.monotonic() - started
        self.metrics.round_seconds.observe(took)
        if took > SLOW_S:  # what a late verdict waited for, in the operator's log
            log.warning("slow round: %.1f s for %s entries of %s tenants", took, read,
                        len(tenants) if tenants is not None else "discovered")
        return read


def run_embedded(worker: Worker, stop: threading.Event, until_idle: bool) -> None:
    while not stop.is_set():
        try:
            read = worker.round()
        except Exception as exc:
            outage_pause(stop, exc)
            continue
        if read == 0 and worker.engine.idle:
            if until_idle:
                return
            stop.wait(IDLE_S)


def run_kafka(settings: Settings, worker: Worker, projections: Projections,
              stop: threading.Event, until_idle: bool) -> None:
    from kafka import TopicPartition

    from consumers.publisher import make_producer
    from consumers.topics import ensure_topics
    from consumers.work_group import WorkGroupMember

    ensure_topics(settings.kafka_bootstrap, {settings.entries_topic: settings.kafka_partitions},
                  settings.kafka_replication_factor)
    member = WorkGroupMember(settings)
    relay = EntriesRelay(worker.engine.store, make_producer(settings.kafka_bootstrap,
                                                            "ledger-work-relay"),
                         settings.entries_topic)
    duties = leader_duties(relay, projections, settings)
    worker.projections = None  # the views follow in the leader's own thread
    first = TopicPartition(settings.entries_topic, 0)
    quiet_since = time.monotonic()
    held: set[int] = set()
    read = 0
    try:
        while not stop.is_set():
            consumer = member.consumer
            # Making progress: a look at the broker, not a wait (wake-ups of other tenants
            # join the next round). A tenant only failing (an outage) waits as before.
            polled: dict[Any, list[Any]] = consumer.poll(
                timeout_ms=0 if read and not worker.engine.idle else POLL_MS)
            held = _log_assignment(consumer.assignment(), held)
            duties.hold(first in consumer.assignment())
            if member.check():  # left holding nothing while partitions had no owner
                worker.metrics.reconnected.inc()
                read = 0
                continue
            tenants = woken(worker.engine, polled)
            try:
                # A tenant that failed (an outage) stays dirty: retried without a message.
                busy = tenants or not worker.engine.idle
                # One batch of each tenant with work, then back to the broker: a tenant
                # whose entries keep coming would otherwise hold up one woken after it.
                read = worker.round(tenants, batches=1) if busy else 0
                if not busy:  # the lag of the last tenants derived, once it is due
                    worker.metrics.observe(worker.engine, set(), 0, worker.engine.quarantined)
            except Exception as exc:
                worker.engine.mark_dirty(tenants)
                outage_pause(stop, exc)
                read = 0
                continue
            if polled:
                _commit(consumer)
            if polled or read or duties.moved():
                quiet_since = time.monotonic()
            elif until_idle and time.monotonic() - quiet_since > 3.0:
                return
    finally:
        duties.stop()
        member.close()
        relay.producer.close()


def leader_duties(relay: EntriesRelay, projections: Projections,
                  settings: Settings) -> Duties:
    """What the partition-0 member runs beside its derivation, each in its own thread:
    the relay, and the views unless a `ledger projections follow` process keeps them."""
    relaying = FollowerThread("entries-relay", logged_if_slow("relay", relay.step), FOLLOW_S)
    if not settings.work_project:
        return Duties(relaying)
    return Duties(relaying, FollowerThread(
        "projections", logged_if_slow("views", projection_step(projections)), FOLLOW_S))


def woken(engine: ResponsibilityEngine, polled: dict[Any, list[Any]]) -> set[str]:
    """Tenants with entries the engine has not taken in: a wake-up for what its memory
    already holds (its own derived events, relayed back) costs no read."""
    tenants: set[str] = set()
    for records in polled.values():
        for record in records:
            said = wake_up(record.value)
            if said is not None and said[1] > engine.known_position(said[0]):
                tenants.add(said[0])
    return tenants


def _log_assignment(assignment: set[Any], held: set[int]) -> set[int]:
    """Say which partitions (so which tenants) this worker now derives, when it changes."""
    now = {tp.partition for tp in assignment}
    if now != held:
        log.info("partitions assigned: %s%s", sorted(now), " (and the relay's duties)"
                 if 0 in now else "")
    return now


def _commit(consumer: Any) -> None:
    """Offsets after the work: a crash redelivers, harmlessly. They are advisory (positions
    are in the store), so a commit the broker cannot take now is left to the next one."""
    from kafka.errors import KafkaError

    try:
        consumer.commit()
    except KafkaError as exc:
        log.warning("offsets not committed (next time): %s", describe(exc))


def work(
    until_idle: Annotated[bool, typer.Option("--until-idle",
                                             help="Exit once caught up.")] = False,
) -> None:
    """Derive responsibility and keep the read models current (see LEDGER_WORK_MODE)."""
    # SIGTERM ends it as Ctrl-C does (positions in the store: nothing lost or doubled); as
    # a container's PID 1 an unhandled one would be ignored until the grace period ends.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    settings = load_settings()
    configure_logging(settings)
    ledger = build_ledger(settings)
    engine = build_engine(ledger, settings, live=settings.engine_live and not until_idle)
    projections = open_projections(ledger, settings, engine.evaluator)
    tune_gc_for_ingest()  # derivation allocates per entry as ingest does: ~12% of its CPU
    metrics = WorkMetrics()
    metrics.serve(settings.metrics_port)
    worker = Worker(engine, projections, metrics)
    stop = threading.Event()
    mode = work_mode(settings)
    log.info("ledger work: %s mode", mode)
    try:
        if mode == "kafka":
            run_kafka(settings, worker, projections, stop, until_idle)
        else:
            run_embedded(worker, stop, until_idle)
    except KeyboardInterrupt:
        stop.set()
    finally:
        tenants = engine.tenants_in_memory()
        ledger.store.close()
        engine.close()
    typer.echo(f"ledger work ({mode}): {tenants} tenants in memory; "
               f"{engine.quarantined} quarantined")
