"""Where an outbox relay resumes: the highest position it stamped on a topic's committed tail.

Both relays (dead letters, reminders) stamp each message with the store's notification id
in a header and publish in transactions, so the largest id among the committed messages
says how far the previous run got, whatever the store recorded before a crash.
"""

from __future__ import annotations

import time
from typing import Any


def highest_stamp(bootstrap: str, topic: str, header: str, client_id: str,
                  timeout_s: float = 30.0) -> int:
    """The highest `header` value among the committed messages on `topic` (0: none).

    Reads each partition's tail with `read_committed`, widening the window until it finds
    a stamped message (transaction markers take offsets too) or reaches the start.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, isolation_level="read_committed",
                             client_id=client_id)
    deadline = time.monotonic() + timeout_s
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return 0
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends, begins = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
        best = 0
        for tp in tps:
            window = 64
            while True:
                start = max(begins[tp], ends[tp] - window)
                found = _read_range(consumer, tp, start, ends[tp], header, deadline)
                if found is not None or start == begins[tp]:
                    best = max(best, found or 0)
                    break
                window *= 8
        return best
    finally:
        consumer.close(autocommit=False)


def _read_range(consumer: Any, tp: Any, start: int, end: int, header: str,
                deadline: float) -> int | None:
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
                value = dict(record.headers or ()).get(header)
                if value is not None:
                    best = max(best or 0, int(value))
    return best
