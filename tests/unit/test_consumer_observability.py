"""Ingest counters in Prometheus text format and in --stats, and JSON logs."""

from __future__ import annotations

import logging

import orjson
from prometheus_client import generate_latest

from cli.kafka import stats_table
from consumers.batch import BatchResult
from consumers.observability import IngestMetrics
from ledger.adapters.logs import JsonFormatter


def applied(partition: int, consumed: int = 0, recorded: int = 0, duplicate: int = 0,
            dead_lettered: int = 0) -> BatchResult:
    return BatchResult("ledger.events", partition, 0, 9, consumed=consumed, recorded=recorded,
                       duplicate=duplicate, dead_lettered=dead_lettered)


def test_applied_batches_add_up_per_partition_and_in_total() -> None:
    metrics = IngestMetrics()
    first = applied(0, consumed=10, recorded=7, duplicate=2, dead_lettered=1)
    first.dead_letter_rules = {"invalid_json": 1}
    metrics.batch_applied(first, 0.01)
    metrics.batch_applied(applied(1, consumed=5, recorded=5), 0.02)
    metrics.set_lag("ledger.events", 1, 10, 4)
    snapshot = metrics.snapshot()
    assert snapshot["totals"] == {
        "consumed": 15, "recorded": 12, "duplicate": 2, "dead_lettered": 1,
        "skipped_batches": 0, "lag": 4, "dlq_published": 0, "reconnects": 0,
    }
    assert snapshot["partitions"]["ledger.events:1"]["lag"] == 4


def test_the_counters_are_exposed_in_prometheus_text_format() -> None:
    metrics = IngestMetrics()
    result = applied(2, consumed=3, recorded=1, duplicate=1, dead_lettered=1)
    result.dead_letter_rules = {"required": 1}
    metrics.batch_applied(result, 0.01)
    metrics.set_lag("ledger.events", 2, 10, 5)
    text = generate_latest(metrics.registry).decode()
    assert 'ledger_kafka_consumed_total{partition="2",topic="ledger.events"} 3.0' in text
    assert 'ledger_kafka_recorded_total{partition="2",topic="ledger.events"} 1.0' in text
    assert 'ledger_kafka_duplicate_total{partition="2",topic="ledger.events"} 1.0' in text
    assert ('ledger_kafka_dead_lettered_total{partition="2",rule="required",'
            'topic="ledger.events"} 1.0') in text
    assert 'ledger_kafka_consumer_lag{partition="2",topic="ledger.events"} 5.0' in text


def test_two_consumers_in_one_process_keep_their_own_counters() -> None:
    a, b = IngestMetrics(), IngestMetrics()
    a.batch_applied(applied(0, consumed=1, recorded=1), 0.0)
    assert b.snapshot()["totals"]["consumed"] == 0


def test_the_stats_table_has_a_row_per_partition_and_a_total() -> None:
    metrics = IngestMetrics()
    metrics.batch_applied(applied(0, consumed=2, recorded=2), 0.0)
    metrics.batch_applied(applied(1, consumed=1, duplicate=1), 0.0)
    assert stats_table(metrics.snapshot()).row_count == 3


def test_logs_are_one_json_object_with_the_extra_fields() -> None:
    record = logging.LogRecord("consumers.x", logging.INFO, __file__, 1, "batch %s", ("ok",),
                               None)
    record.partition = 3
    line = orjson.loads(JsonFormatter().format(record))
    assert line["msg"] == "batch ok" and line["partition"] == 3
    assert line["level"] == "info" and line["logger"] == "consumers.x"
    assert line["ts"].endswith("Z")
