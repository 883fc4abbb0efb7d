"""Producers the ledger did not write, for the Kafka ingest tests on the real broker.

- Kafka's own console producer (the kafka-tools jars deploy/local/kafka/pom.xml resolves
  from Maven Central), which compresses batches with any codec Kafka has;
- kafka-python's transactional producer (commit one transaction, abort another);
- the official CloudEvents SDK, binary and structured content modes;
- a record whose header name is not UTF-8 (the protocol allows bytes), and batches
  damaged on the broker's disk (a codec no client knows, a failed CRC).
"""

from __future__ import annotations

import struct
import subprocess
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crc32c import crc32c

from tests.fault.harness import BOOTSTRAP, REPO, Sent

KAFKA_LIB = REPO / "deploy" / "local" / "kafka" / "lib"
KAFKA_LOGS = REPO / "deploy" / "local" / ".data" / "kafka" / "logs"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"


def console_produce(
    topic: str, messages: Sequence[tuple[bytes | None, bytes]], codec: str
) -> None:
    """Publish keyed messages with Kafka's console producer, batches compressed by `codec`
    (one batch per call: the lines go out together with a long linger)."""
    lines = b"".join((key or b"") + b"\t" + value + b"\n" for key, value in messages)
    subprocess.run(
        ["java", "-cp", f"{KAFKA_LIB}/*", CONSOLE_PRODUCER, "--bootstrap-server", BOOTSTRAP,
         "--topic", topic, "--compression-codec", codec,
         "--property", "parse.key=true", "--property", "key.separator=\t",
         "--producer-property", "acks=all", "--producer-property", "linger.ms=500",
         "--producer-property", "batch.size=1048576"],
        input=lines, check=True, timeout=120, capture_output=True,
    )


class RawName(str):
    """A header name whose bytes on the wire are `raw` (kafka-python encodes names with
    `.encode("utf-8")`): the way to put a name that is not UTF-8 into a record."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawName:
        made = super().__new__(cls, "x" * len(raw))
        made.raw = raw
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def produce(
    topic: str, messages: Sequence[tuple[bytes | None, bytes | None, list[Any]]],
    partition: int | None = None, **config: Any,
) -> list[Sent]:
    """kafka-python, acks=all, one message after the other (each its own batch)."""
    from kafka import KafkaProducer

    from consumers.dlq_records import Headers

    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=0,
                             max_block_ms=60000, **config)
    sent: list[Sent] = []
    try:
        for key, value, headers in messages:
            headers = Headers(headers)  # may hold consumers.dlq_records.NullValued ones
            meta = producer.send(topic, key=key, value=value, headers=headers,
                                 partition=partition).get(timeout=60)
            sent.append(Sent(key, value or b"", meta.partition, meta.offset))
    finally:
        producer.close(timeout=10)
    return sent


def transactions(
    topic: str, committed: Sequence[tuple[bytes | None, bytes]],
    aborted: Sequence[tuple[bytes | None, bytes]],
) -> None:
    """One transaction committed, then one aborted, by kafka-python's transactional producer."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all",
                             transactional_id=f"it-tx-{uuid.uuid4().hex[:8]}")
    try:
        producer.init_transactions()
        for messages, commit in ((committed, True), (aborted, False)):
            producer.begin_transaction()
            for key, value in messages:
                producer.send(topic, key=key, value=value)
            producer.flush()
            if commit:
                producer.commit_transaction()
            else:
                producer.abort_transaction()
    finally:
        producer.close(timeout=10)


def cloud_event(envelope: dict[str, Any]) -> Any:
    """The SDK's CloudEvent of one of the ledger's envelopes."""
    from cloudevents.core.v1.event import CloudEvent

    attributes: dict[str, Any] = {k: v for k, v in envelope.items() if k != "data"}
    attributes["time"] = datetime.fromisoformat(envelope["time"])  # the SDK wants a datetime
    return CloudEvent(attributes=attributes, data=envelope["data"])


def binary_mode(envelope: dict[str, Any]) -> tuple[bytes | None, bytes, list[Any]]:
    """(key, value, headers) of the event in binary content mode, made by the SDK."""
    from cloudevents.core.bindings.kafka import to_binary
    from cloudevents.core.formats.json import JSONFormat

    message = to_binary(cloud_event(envelope), JSONFormat(),
                        key_mapper=lambda e: e.get_attributes().get("subject"))
    key = message.key.encode() if isinstance(message.key, str) else message.key
    return key, message.value, list(message.headers.items())


def structured_mode(envelope: dict[str, Any]) -> tuple[bytes | None, bytes, list[Any]]:
    from cloudevents.core.bindings.kafka import to_structured
    from cloudevents.core.formats.json import JSONFormat

    message = to_structured(cloud_event(envelope), JSONFormat(),
                            key_mapper=lambda e: e.get_attributes().get("subject"))
    key = message.key.encode() if isinstance(message.key, str) else message.key
    return key, message.value, list(message.headers.items())


# --- damage on the broker's disk ---------------------------------------------------------

_BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")  # v2 record batch header, 61 bytes
_ATTRIBUTES_AT = 21
_CRC_AT = 17


def damage_batch(topic: str, partition: int, base_offset: int, how: str) -> None:
    """Change the batch at `base_offset` in the partition's log, in place (same length,
    so the broker's indexes stay right and it serves the bytes as they now are):
    `codec` marks it compressed with a codec no client has (the CRC made to match),
    `crc` flips a byte of its records (the CRC left as it was)."""
    path = KAFKA_LOGS / f"{topic}-{partition}" / "00000000000000000000.log"
    data = bytearray(path.read_bytes())
    pos = 0
    while pos + _BATCH_HEADER.size <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + length
        if base == base_offset:
            _damage(data, pos, end, how)
            with path.open("r+b") as fh:
                fh.seek(pos)
                fh.write(bytes(data[pos:end]))
            return
        pos = end
    raise AssertionError(f"no batch at offset {base_offset} in {path}")


def _damage(data: bytearray, pos: int, end: int, how: str) -> None:
    if how == "codec":
        attributes = struct.unpack_from(">h", data, pos + _ATTRIBUTES_AT)[0]
        struct.pack_into(">h", data, pos + _ATTRIBUTES_AT, (attributes & ~0x07) | 0x06)
        struct.pack_into(">I", data, pos + _CRC_AT, crc32c(bytes(data[pos + _ATTRIBUTES_AT:end])))
    elif how == "crc":
        data[end - 2] ^= 0xFF
    else:
        raise ValueError(how)


def allow_messages_up_to(topic: str, size: int) -> None:
    """Raise a topic's max.message.bytes (the broker's default is about 1 MB)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                            {"max.message.bytes": str(size)})])
    finally:
        admin.close()
