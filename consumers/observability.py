"""Counters and lag of Kafka ingest (its logs are JSON lines: ledger/adapters/logs.py).

Prometheus metrics come from prometheus-client (a real client library, text format at
`/metrics`); the same numbers are kept as plain per-partition stats for
`ledger consume --stats`, so the two can never tell different stories.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from consumers.batch import BatchResult


@dataclass(slots=True)
class PartitionStats:
    consumed: int = 0
    recorded: int = 0
    duplicate: int = 0
    dead_lettered: int = 0
    skipped_batches: int = 0
    position: int | None = None
    lag: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {
            "consumed": self.consumed,
            "recorded": self.recorded,
            "duplicate": self.duplicate,
            "dead_lettered": self.dead_lettered,
            "skipped_batches": self.skipped_batches,
            "position": self.position,
            "lag": self.lag,
        }


@dataclass(slots=True)
class IngestStats:
    """Totals and per-partition numbers of one consumer process."""

    partitions: dict[tuple[str, int], PartitionStats] = field(default_factory=dict)
    dlq_published: int = 0
    reconnects: int = 0

    def of(self, topic: str, partition: int) -> PartitionStats:
        return self.partitions.setdefault((topic, partition), PartitionStats())

    def totals(self) -> dict[str, int]:
        keys = ("consumed", "recorded", "duplicate", "dead_lettered", "skipped_batches")
        out = {k: sum(getattr(p, k) for p in self.partitions.values()) for k in keys}
        out["lag"] = sum(p.lag or 0 for p in self.partitions.values())
        out["dlq_published"] = self.dlq_published
        out["reconnects"] = self.reconnects
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "totals": self.totals(),
            "partitions": {
                f"{topic}:{partition}": stats.as_dict()
                for (topic, partition), stats in sorted(self.partitions.items())
            },
        }


class IngestMetrics:
    """The consumer's Prometheus metrics, in a registry of its own (one per consumer, so
    tests and several consumers in one process never collide), plus `stats`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.stats = IngestStats()
        self._lock = threading.Lock()
        labels = ["topic", "partition"]
        r = self.registry
        self.consumed = Counter(
            "ledger_kafka_consumed", "Messages read and processed.", labels, registry=r
        )
        self.recorded = Counter(
            "ledger_kafka_recorded", "Messages recorded as new ledger entries.", labels,
            registry=r,
        )
        self.duplicate = Counter(
            "ledger_kafka_duplicate", "Messages that were identical redeliveries.", labels,
            registry=r,
        )
        self.dead_lettered = Counter(
            "ledger_kafka_dead_lettered", "Messages refused and kept as dead letters.",
            ["topic", "partition", "rule"], registry=r,
        )
        self.skipped_batches = Counter(
            "ledger_kafka_batches_already_applied",
            "Batches skipped because their position was already recorded.", labels, registry=r,
        )
        self.failed_batches = Counter(
            "ledger_kafka_batches_failed", "Batches that hit a storage error (retried).",
            ["topic"], registry=r,
        )
        self.lag = Gauge(
            "ledger_kafka_consumer_lag", "High watermark minus next offset to apply.", labels,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "ledger_kafka_batch_seconds", "Time to apply one partition batch.", ["topic"],
            registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.reconnects = Counter(
            "ledger_kafka_consumer_reconnects", "Times this consumer left a group that had "
            "left partitions to nobody while it held none, and joined again.", ["topic"],
            registry=r,
        )
        self.dlq_published = Counter(
            "ledger_dlq_published", "Dead letters published to the DLQ topic.", ["topic"],
            registry=r,
        )

    def batch_applied(self, result: BatchResult, seconds: float) -> None:
        labels = (result.topic, str(result.partition))
        with self._lock:
            stats = self.stats.of(result.topic, result.partition)
            stats.consumed += result.consumed
            stats.recorded += result.recorded
            stats.duplicate += result.duplicate
            stats.dead_lettered += result.dead_lettered
            stats.position = result.last_offset + 1
        self.consumed.labels(*labels).inc(result.consumed)
        self.recorded.labels(*labels).inc(result.recorded)
        self.duplicate.labels(*labels).inc(result.duplicate)
        for rule, count in result.dead_letter_rules.items():
            self.dead_lettered.labels(*labels, rule).inc(count)
        self.batch_seconds.labels(result.topic).observe(seconds)

    def batch_skipped(self, topic: str, partition: int) -> None:
        with self._lock:
            self.stats.of(topic, partition).skipped_batches += 1
        self.skipped_batches.labels(topic, str(partition)).inc()

    def batch_failed(self, topic: str) -> None:
        self.failed_batches.labels(topic).inc()

    def consumer_reconnected(self, topic: str) -> None:
        with self._lock:
            self.stats.reconnects += 1
        self.reconnects.labels(topic).inc()

    def set_lag(self, topic: str, partition: int, position: int, lag: int) -> None:
        with self._lock:
            stats = self.stats.of(topic, partition)
            stats.position, stats.lag = position, lag
        self.lag.labels(topic, str(partition)).set(lag)

    def partition_released(self, topic: str, partition: int) -> None:
        """A partition this consumer no longer owns reports no lag from here."""
        with self._lock:
            self.stats.of(topic, partition).lag = None
        with contextlib.suppress(KeyError):
            self.lag.remove(topic, str(partition))

    def published(self, topic: str, count: int) -> None:
        with self._lock:
            self.stats.dlq_published += count
        self.dlq_published.labels(topic).inc(count)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.stats.as_dict()

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve `/metrics` on `port` (0: any free port); returns the port listened on."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)
