"""`ledger publish FILE.jsonl`: upstream systems' (and tests') way onto the events topic.

Each line is sent as it is in the file (the bytes on Kafka are the bytes of the line), with
`acks=all`, keyed as docs/domain-rules.md, Envelope says (consumers.messages.message_key).
A line that is not JSON is refused unless `raw` is set: poison-message tests need to
publish such lines on purpose, an upstream system should not do it by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.messages import message_key, parse_value
from ledger.adapters.validation import EventValidator


@dataclass(slots=True)
class PublishReport:
    lines: int = 0
    published: int = 0
    not_json_skipped: int = 0
    failed: int = 0
    partitions: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def iter_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            stripped = line.rstrip(b"\r\n")
            if stripped.strip():
                yield stripped


def keyed(line: bytes, validator: EventValidator) -> tuple[bytes | None, bool]:
    """(key, is_json) of one line."""
    value, problem = parse_value(line)
    if problem is not None:
        return None, False
    key = message_key(value, validator)
    return (key.encode() if key is not None else None), True


def make_producer(bootstrap: str, client_id: str = "ledger-publish") -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=8 * 1024 * 1024,
        compression_type=None,
        max_block_ms=60000,
        request_timeout_ms=30000,
    )


def publish_lines(
    producer: Any,
    topic: str,
    lines: Iterator[bytes],
    *,
    raw: bool = False,
    validator: EventValidator | None = None,
    progress: Callable[[int], None] | None = None,
) -> PublishReport:
    """Send every line; wait for every acknowledgement; count what happened."""
    validator = validator or EventValidator()
    report = PublishReport()

    def acked(metadata: Any) -> None:
        report.published += 1
        report.partitions[metadata.partition] = report.partitions.get(metadata.partition, 0) + 1

    def failed(exc: BaseException) -> None:
        report.failed += 1
        if len(report.errors) < 10:
            report.errors.append(repr(exc))

    pending = 0
    for line in lines:
        report.lines += 1
        key, is_json = keyed(line, validator)
        if not is_json and not raw:
            report.not_json_skipped += 1
        else:
            producer.send(topic, key=key, value=line).add_callback(acked).add_errback(failed)
        pending += 1
        if progress is not None and pending >= 1000:
            progress(pending)
            pending = 0
    producer.flush()
    if progress is not None and pending:
        progress(pending)
    return report


def publish_file(
    path: Path,
    bootstrap: str,
    topic: str,
    *,
    raw: bool = False,
    progress: Callable[[int], None] | None = None,
) -> PublishReport:
    producer = make_producer(bootstrap)
    try:
        return publish_lines(producer, topic, iter_lines(path), raw=raw, progress=progress)
    finally:
        producer.close(timeout=30)
