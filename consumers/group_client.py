"""The consumer-group member's Kafka client: its options, how kafka-python is set up for
it, and what the member asks of the client besides records (how far a partition can be
read, the advisory commit).

The member's policy (positions from the store, batches, failures) stays in
consumers/consumer.py; the client's record decoding is consumers/fetching.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consumers import fetching

# The member's logger: these lines are part of its story (and filtered by its name).
log = logging.getLogger("consumers.consume")

TP = Any  # kafka.TopicPartition (kafka-python ships no type hints)
#: Called by the client, from inside poll, with the partitions revoked or assigned.
OnRebalance = Callable[[list[TP]], None]
# New topics and partitions are noticed within this long (kafka-python's default: 5 min):
# a member that joined before its client knew the topic's partitions is assigned nothing
# until the next refresh. (Waiting for the partitions before subscribing, instead, made
# kafka-python 3.0's group rejoin hang now and then: tests/fault.)
METADATA_MAX_AGE_MS = 30_000


def liveness_options(session_timeout_ms: int) -> dict[str, int]:
    """How a member stays counted in its group and learns of new partitions: the same for
    the ingest consumers and the workers (consumers/work_group.py)."""
    return {
        "session_timeout_ms": session_timeout_ms,
        "heartbeat_interval_ms": max(1000, session_timeout_ms // 3),
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
    }


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    bootstrap: str
    topic: str
    group: str
    batch_size: int = 2000
    linger_ms: int = 100
    session_timeout_ms: int = 10000
    max_partition_fetch_bytes: int = 4 * 1024 * 1024
    #: A larger message is dead-lettered unread (rule message_too_large; consumers/batch.py).
    max_message_bytes: int = 1024 * 1024
    client_id: str = "ledger-consume"
    commit_interval_s: float = 1.0
    max_backoff_s: float = 5.0
    #: Reconnect when partitions of the topic have belonged to nobody this long while
    #: this member held none (see consumers/group_health.py).
    stall_after_s: float = 10.0


def connect(
    options: ConsumerOptions, client_id: str, on_revoked: OnRebalance,
    on_assigned: OnRebalance,
) -> tuple[Any, dict[TP, int]]:
    """A client subscribed to the topic (read_committed, no auto-commit: positions are the
    store's), and the dict consumers/fetching.py fills with the last stable offsets."""
    from kafka import KafkaConsumer
    from kafka.consumer.subscription_state import ConsumerRebalanceListener

    class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: Any) -> None:
            on_revoked(list(revoked))

        def on_partitions_assigned(self, assigned: Any) -> None:
            on_assigned(list(assigned))

    o = options
    consumer = KafkaConsumer(
        bootstrap_servers=o.bootstrap,
        group_id=o.group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=o.batch_size,
        max_partition_fetch_bytes=o.max_partition_fetch_bytes,
        fetch_max_wait_ms=min(o.linger_ms, 500),
        **liveness_options(o.session_timeout_ms),
    )
    stable = fetching.install(consumer)
    consumer.subscribe([o.topic], listener=Rebalance())
    return consumer, stable


def readable_end(consumer: Any, stable: dict[TP, int], tp: TP) -> int | None:
    """How far a read_committed consumer can read `tp`: its last stable offset, else
    (none fetched yet) the high watermark, else None."""
    end = stable.get(tp)
    return consumer.highwater(tp) if end is None else end


def commit_advisory(consumer: Any, offsets: dict[TP, int]) -> None:
    """Tell Kafka how far the member is (for humans and tools); never relied upon."""
    from kafka.structs import OffsetAndMetadata

    committed = {tp: OffsetAndMetadata(n, "", -1) for tp, n in offsets.items()}
    try:
        consumer.commit_async(offsets=committed)
    except Exception as exc:  # advisory: a failed commit changes nothing that matters
        log.debug("advisory commit failed", extra={"error": repr(exc)})
