"""Wires one `ledger consume` process: topics, consumer, DLQ relay, reminder relay,
metrics, stats.

Kept apart from the CLI so tests and the benchmark run exactly what the command runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from consumers.consumer import ConsumerOptions, LedgerConsumer
from consumers.obligation_relay import ObligationRelay
from consumers.observability import IngestMetrics
from consumers.relay import DeadLetterRelay
from consumers.topics import ensure_topics
from ledger.application.recording import Ledger
from ledger.config import Settings

log = logging.getLogger("consumers.service")


@dataclass(frozen=True, slots=True)
class ConsumeConfig:
    topic: str
    group: str
    batch_size: int
    linger_ms: int
    relay: bool = True
    #: Run the reminder outbox relay (consumers/obligation_relay.py) beside the consumer.
    obligations: bool = True
    metrics_port: int | None = None
    until_idle_s: float | None = None
    client_id: str = "ledger-consume"


def config_from(settings: Settings, **overrides: object) -> ConsumeConfig:
    values: dict[str, object] = {
        "topic": settings.events_topic,
        "group": settings.kafka_group,
        "batch_size": settings.consume_batch_size,
        "linger_ms": settings.consume_linger_ms,
        "metrics_port": settings.metrics_port,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ConsumeConfig(**values)  # type: ignore[arg-type]


def ensure_ingest_topics(settings: Settings, topic: str | None = None) -> dict[str, int]:
    return ensure_topics(
        settings.kafka_bootstrap,
        {topic or settings.events_topic: settings.kafka_partitions,
         settings.dlq_topic: settings.dlq_partitions},
        settings.kafka_replication_factor,
    )


def serve_metrics(metrics: IngestMetrics, port: int) -> int | None:
    """Serve /metrics; a taken port falls back to any free one (several consumers on one
    host), which is logged so it can be scraped."""
    try:
        return metrics.serve(port)
    except OSError:
        actual = metrics.serve(0)
        log.warning("metrics port taken; serving on another",
                    extra={"wanted": port, "port": actual})
        return actual


def run_consume(
    ledger: Ledger,
    settings: Settings,
    config: ConsumeConfig,
    stop: threading.Event,
    metrics: IngestMetrics | None = None,
    on_started: Callable[[int | None], None] | None = None,
) -> IngestMetrics:
    """Run the consumer (and, unless disabled, the DLQ and reminder relays beside it)
    until `stop`."""
    metrics = metrics or IngestMetrics()
    ensure_ingest_topics(settings, config.topic)
    reminders = _start_obligation_relay(ledger, settings) if config.obligations else None
    port = serve_metrics(metrics, config.metrics_port) if config.metrics_port is not None else None
    relay_thread: threading.Thread | None = None
    relay_stop = threading.Event()
    relay: DeadLetterRelay | None = None
    if config.relay:
        relay = DeadLetterRelay(ledger.store, settings, metrics=metrics)
        relay_thread = threading.Thread(
            target=relay.run, args=(relay_stop,), name="dlq-relay", daemon=True
        )
        relay_thread.start()
    consumer = LedgerConsumer(
        ledger,
        ConsumerOptions(
            bootstrap=settings.kafka_bootstrap,
            topic=config.topic,
            group=config.group,
            batch_size=config.batch_size,
            linger_ms=config.linger_ms,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
            max_message_bytes=settings.kafka_max_message_bytes,
            stall_after_s=settings.kafka_stall_after_s,
            client_id=config.client_id,
        ),
        metrics,
        on_dead_letters=relay.wake if relay is not None else None,
    )
    log.info("consuming", extra={"topic": config.topic, "group": config.group,
                                 "metrics_port": port, "relay": config.relay})
    if on_started is not None:
        on_started(port)
    try:
        consumer.run(stop, until_idle_s=config.until_idle_s)
    finally:
        if reminders is not None:
            reminders[0].set()
            reminders[1].join(timeout=30)
        if relay is not None and relay_thread is not None:
            relay_stop.set()
            relay_thread.join(timeout=30)
            if config.until_idle_s is not None and not stop.is_set() \
                    and not relay_thread.is_alive():
                # Publish what this run dead-lettered before returning, unless told to
                # stop (SIGTERM) or the DLQ cannot be reached: the letters wait in the
                # store for the next relay either way.
                relay.run(stop, until_idle_s=1.0, give_up_after_s=FINAL_RELAY_S)
    return metrics


def _start_obligation_relay(
    ledger: Ledger, settings: Settings
) -> tuple[threading.Event, threading.Thread]:
    """The reminder relay as a thread: one `ledger consume` deployment serves both outboxes
    (its leader lock lets one replica publish; the others wait their turn)."""
    ensure_topics(settings.kafka_bootstrap, {settings.obligations_topic: settings.kafka_partitions},
                  settings.kafka_replication_factor)
    stop = threading.Event()
    relay = ObligationRelay(ledger.store, settings)
    thread = threading.Thread(target=relay.run, args=(stop,), name="obligation-relay",
                              daemon=True)
    thread.start()
    return stop, thread


#: How long `--until-idle` goes on publishing dead letters after the consumer stopped.
FINAL_RELAY_S = 60.0
