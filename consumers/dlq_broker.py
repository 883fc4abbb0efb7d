"""What the broker says of the DLQ topic: the last notification id committed on it (where
the relay resumes, consumers/relay.py point 2) and the size of message it accepts."""

from __future__ import annotations

import logging
import time
from typing import Any

from consumers.dlq_records import H_NOTIFICATION

log = logging.getLogger("consumers.relay")

#: What Kafka allows when a topic says nothing else (the broker's message.max.bytes).
DEFAULT_MESSAGE_LIMIT = 1048588
#: Room beyond one record for the request and batch headers around it.
REQUEST_OVERHEAD = 16 * 1024


def last_published(bootstrap: str, dlq_topic: str, timeout_s: float = 30.0) -> int:
    """The highest notification id among the committed messages on the DLQ topic (0: none).

    Reads each partition's tail with `read_committed`, widening the window until it finds
    a message of the relay (transaction markers take offsets too) or reaches the start.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="ledger-dlq-relay-tail",
    )
    deadline = time.monotonic() + timeout_s
    try:
        partitions = consumer.partitions_for_topic(dlq_topic)
        if not partitions:
            return 0
        tps = [TopicPartition(dlq_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        begins = consumer.beginning_offsets(tps)
        best = 0
        for tp in tps:
            window = 64
            while True:
                start = max(begins[tp], ends[tp] - window)
                found = read_range(consumer, tp, start, ends[tp], deadline)
                if found is not None or start == begins[tp]:
                    best = max(best, found or 0)
                    break
                window *= 8
        return best
    finally:
        consumer.close(autocommit=False)


def read_range(consumer: Any, tp: Any, start: int, end: int, deadline: float) -> int | None:
    if start >= end:
        return None
    consumer.pause(*consumer.assignment())
    consumer.resume(tp)
    consumer.seek(tp, start)
    best: int | None = None
    while consumer.position(tp) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading the tail of {tp} took too long")
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                value = dict(record.headers or ()).get(H_NOTIFICATION)
                if value is not None:
                    best = max(best or 0, int(value))
    return best


def dlq_message_limit(bootstrap: str, dlq_topic: str) -> int:
    """The DLQ topic's `max.message.bytes` (the broker's default when it cannot say)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ledger-dlq-relay",
                                 request_timeout_ms=15000)
    except Exception as exc:
        log.warning("broker limits unknown; assuming the default", extra={"error": repr(exc)})
        return DEFAULT_MESSAGE_LIMIT
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, dlq_topic,
                                  {"max.message.bytes": None})
        described = admin.describe_configs([resource], config_filter="all")
        value = described["topic"][dlq_topic]["max.message.bytes"]["value"]
        return int(value)
    except Exception as exc:
        log.warning("broker limits unknown; assuming the default", extra={"error": repr(exc)})
        return DEFAULT_MESSAGE_LIMIT
    finally:
        admin.close()
