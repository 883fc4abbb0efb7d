"""Creating the ledger's topics when they are missing (consume and publish both do)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

log = logging.getLogger("consumers.topics")


def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    replication_factor: int = 1,
    timeout_s: float = 60.0,
) -> dict[str, int]:
    """Create each topic with its partition count unless it exists; returns every topic's
    actual partition count (an existing topic keeps the count it has).

    Retries while the broker is not reachable yet, up to `timeout_s`.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap, client_id="ledger-admin", request_timeout_ms=15000
            )
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, count, replication_factor)
            for name, count in partitions.items()
            if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=30000)
                log.info("topics created", extra={"topics": [t.name for t in missing]})
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another process: what we wanted
        return partition_counts(admin, list(partitions), deadline)
    finally:
        admin.close()


def partition_counts(admin: object, topics: list[str], deadline: float) -> dict[str, int]:
    """Partition counts from the cluster metadata (waits for a just-created topic)."""
    while True:
        described = admin.describe_topics(topics)  # type: ignore[attr-defined]
        counts = {
            t.get("name", t.get("topic")): len(t["partitions"])
            for t in described
            if not t.get("error_code")
        }
        if all(counts.get(name) for name in topics) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)
