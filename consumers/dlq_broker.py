"""What the broker says of the DLQ topic: the last notification id committed on it (where
the relay resumes, consumers/relay.py point 2) and the size of message it accepts."""

from __future__ import annotations

import logging

from consumers.dlq_records import H_NOTIFICATION
from consumers.topic_tail import highest_stamp

log = logging.getLogger("consumers.relay")

#: What Kafka allows when a topic says nothing else (the broker's message.max.bytes).
DEFAULT_MESSAGE_LIMIT = 1048588
#: Room beyond one record for the request and batch headers around it.
REQUEST_OVERHEAD = 16 * 1024


def last_published(bootstrap: str, dlq_topic: str, timeout_s: float = 30.0) -> int:
    """The highest notification id among the committed messages on the DLQ topic (0: none)."""
    return highest_stamp(bootstrap, dlq_topic, H_NOTIFICATION, "ledger-dlq-relay-tail",
                         timeout_s)


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
