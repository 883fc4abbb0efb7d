"""Smoke test against the real Kafka broker started by deploy/local/kafka.sh.

Bootstrap: $LEDGER_KAFKA_BOOTSTRAP (default 127.0.0.1:19092). An unreachable
broker FAILS the test (a silently skipped integration test proves nothing);
set LEDGER_SKIP_SERVICES=1 to skip it deliberately.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest

pytestmark = [
    pytest.mark.kafka,
    # kafka-python loads its protocol schemas with importlib.resources' legacy API.
    pytest.mark.filterwarnings(
        r"ignore:.*is deprecated\. Use files\(\) instead:DeprecationWarning"
    ),
]

BOOTSTRAP = os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
N_MESSAGES = 100
PARTITIONS = 3
CONSUME_DEADLINE_S = 60.0


def _admin_or_fail() -> Any:
    """An admin client for BOOTSTRAP; FAILS the calling test if unreachable."""
    if os.environ.get("LEDGER_SKIP_SERVICES") == "1":
        pytest.skip("LEDGER_SKIP_SERVICES=1: Kafka smoke test skipped on request")
    from kafka import KafkaAdminClient

    opts: dict[str, Any] = {"client_id": "ledger-kafka-smoke", "request_timeout_ms": 15000}
    if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG:
        opts["bootstrap_timeout_ms"] = 10000  # fail fast when nothing listens
    try:
        client = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, **opts)
        client.describe_cluster()
    except Exception as exc:  # NoBrokersAvailable, KafkaTimeoutError, ...
        pytest.fail(
            f"Kafka broker not reachable at {BOOTSTRAP} ({type(exc).__name__}: {exc}). "
            "Start it with `deploy/local/kafka.sh start` (or `deploy/local/services.sh up`), "
            "point LEDGER_KAFKA_BOOTSTRAP at another broker, "
            "or set LEDGER_SKIP_SERVICES=1 to skip service tests.",
            pytrace=False,
        )
    return client


def test_produce_and_consume_100_keyed_messages() -> None:
    from kafka.admin import NewTopic

    admin = _admin_or_fail()
    topic = f"ledger-smoke-{uuid.uuid4().hex}"
    try:
        admin.create_topics(
            [NewTopic(name=topic, num_partitions=PARTITIONS, replication_factor=1)],
            timeout_ms=30000,
        )
        try:
            _round_trip(topic)
        finally:
            admin.delete_topics([topic], timeout_ms=30000)
    finally:
        admin.close()


def _round_trip(topic: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    sent = {
        f"key-{i:03d}".encode(): f"value-{i:03d}-{uuid.uuid4().hex}".encode()
        for i in range(N_MESSAGES)
    }

    producer = KafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        client_id="ledger-kafka-smoke-producer",
        acks="all",
        retries=5,
        max_block_ms=30000,
        request_timeout_ms=30000,
    )
    try:
        futures = [producer.send(topic, key=k, value=v) for k, v in sent.items()]
        producer.flush(timeout=30)
        metadata = [f.get(timeout=30) for f in futures]
    finally:
        producer.close(timeout=10)
    assert len(metadata) == N_MESSAGES
    assert all(m.topic == topic for m in metadata)
    # Keyed messages: the same key always lands on the same partition.
    partition_of = {k: m.partition for k, m in zip(sent, metadata, strict=True)}

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        client_id="ledger-kafka-smoke-consumer",
        group_id=f"ledger-smoke-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: dict[bytes, bytes] = {}
    duplicates: list[bytes] = []
    wrong_partition: list[bytes] = []
    deadline = time.monotonic() + CONSUME_DEADLINE_S
    try:
        while len(received) < N_MESSAGES and time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500, max_records=N_MESSAGES)
            for tp, records in batches.items():
                for rec in records:
                    if rec.key in received:
                        duplicates.append(rec.key)
                    received[rec.key] = rec.value
                    if partition_of.get(rec.key) != tp.partition:
                        wrong_partition.append(rec.key)
    finally:
        consumer.close()

    assert len(received) == N_MESSAGES, (
        f"got {len(received)}/{N_MESSAGES} messages back from {topic} "
        f"within {CONSUME_DEADLINE_S:.0f}s"
    )
    assert received == sent
    assert not duplicates, f"duplicate deliveries: {duplicates[:5]}"
    assert not wrong_partition, f"records read from an unexpected partition: {wrong_partition[:5]}"
