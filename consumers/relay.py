"""The dead-letter outbox relay: stored dead letters -> the DLQ topic, each exactly once.

Dead letters are first written to the ledger's store, in the transaction of the batch
they came from (consumers/batch.py). This relay is a subscription on that committed log:
it reads `DeadLetterRecorded` events in notification order (the store's commit order)
and publishes them with their original key, value and headers, plus the `ledger.dlq.*`
headers. Publishing is never part of the ingest transaction (no dual write).

Why a crash can neither lose nor double a dead letter:

1. The relay publishes with a *transactional* producer whose `transactional.id` is fixed
   for the (store, DLQ topic) pair. Each chunk of dead letters is one Kafka transaction,
   and the chunks go in notification order, one after the other. So what is visible to a
   `read_committed` reader is always a prefix of the dead-letter log: all of the chunks up
   to some point, never part of a chunk.
2. Each DLQ message carries its notification id (`ledger.dlq.notification_id`). On start
   (and after any error) the relay calls `init_transactions()`, which fences any older
   relay instance with the same id and completes or aborts its open transaction, and only
   then reads the tail of every DLQ partition with `read_committed`. The highest
   notification id found there is the end of that prefix: the relay resumes after it.
   Nothing before it is missing (point 1), nothing after it is visible (aborted), so
   nothing is published twice and nothing is skipped.
3. Only one relay works at a time (a PostgreSQL advisory lock, or a file lock for the
   embedded SQLite store), so consumers do not keep fencing each other; the fencing of
   point 2 is what keeps correctness even when two believe they hold the lock.

The DLQ topic must be written by this relay only.

Dead letters of any size reach it. The producer is sized from the DLQ topic's own
`max.message.bytes` (read from the broker at every session start); a letter that would
not fit, or that Kafka cannot carry as it is (a tombstone without a key), or that the
broker refused as a record, goes as a *reference*: its key (if it fits), its reason and
source headers, `ledger.dlq.value: stored`, and a small JSON value naming the dead letter
in the store, which holds the original bytes (`ledger dlq list --json`). So one letter can
never hold up the ones after it (docs/decisions/0011-kafka-input-of-any-producer.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import orjson

from consumers.dead_letters import DEAD_LETTER_TOPIC, DeadLetterRecorded
from consumers.leader_lock import LeaderLock, leader_lock_for
from consumers.observability import IngestMetrics
from ledger.adapters.store import EventStore
from ledger.config import Settings

log = logging.getLogger("consumers.relay")

H_REASON = "ledger.dlq.reason"
H_SOURCE_TOPIC = "ledger.dlq.source.topic"
H_SOURCE_PARTITION = "ledger.dlq.source.partition"
H_SOURCE_OFFSET = "ledger.dlq.source.offset"
H_ID = "ledger.dlq.id"
H_NOTIFICATION = "ledger.dlq.notification_id"
H_SOURCE_LAST_OFFSET = "ledger.dlq.source.last_offset"
#: `stored`: the value on the DLQ is a reference, the original bytes are in the store.
H_VALUE = "ledger.dlq.value"
LEDGER_HEADERS = (H_REASON, H_SOURCE_TOPIC, H_SOURCE_PARTITION, H_SOURCE_OFFSET, H_ID,
                  H_NOTIFICATION, H_SOURCE_LAST_OFFSET, H_VALUE)
#: What Kafka allows when a topic says nothing else (the broker's message.max.bytes).
DEFAULT_MESSAGE_LIMIT = 1048588
#: Broker errors that are about one record, not the broker: such a letter goes as a
#: reference instead of failing its chunk again and again.
_RECORD_ERRORS = ("MessageSizeTooLargeError", "RecordTooLargeError", "InvalidRecordError",
                  "CorruptRecordError")


def ledger_headers(letter: DeadLetterRecorded, notification_id: int) -> list[tuple[str, bytes]]:
    """The reason and the source position of the message, and the letter's identity."""
    headers = [
        (H_REASON, orjson.dumps(letter.reasons)),
        (H_SOURCE_TOPIC, letter.source_topic.encode()),
        (H_SOURCE_PARTITION, str(letter.source_partition).encode()),
        (H_SOURCE_OFFSET, str(letter.source_offset).encode()),
        (H_ID, str(letter.originator_id).encode()),
        (H_NOTIFICATION, str(notification_id).encode()),
    ]
    if letter.source_last_offset is not None:
        headers.append((H_SOURCE_LAST_OFFSET, str(letter.source_last_offset).encode()))
    return headers


class NullValued(tuple):  # type: ignore[type-arg]
    """A header whose value is null, as kafka-python's producer can send it.

    Its `send()` insists on bytes values, while its record builder writes None as the
    protocol's null (length -1). So the pair reads as `(name, b"")` where `send()` checks
    it and unpacks as `(name, None)` where the builder writes it."""

    def __new__(cls, name: str) -> NullValued:
        return super().__new__(cls, (name, None))

    def __getitem__(self, index: Any) -> Any:
        value = super().__getitem__(index)
        return b"" if value is None and index in (1, -1) else value

    def __iter__(self) -> Iterator[Any]:
        return iter((super().__getitem__(0), None))


class Headers(list):  # type: ignore[type-arg]
    """Headers that may hold `NullValued` ones: false for the one place in kafka-python's
    producer that sums header value lengths (a statistic) when the list is true."""

    def __bool__(self) -> bool:
        return bool(len(self)) and not any(type(h) is NullValued for h in self)


def dlq_headers(
    letter: DeadLetterRecorded, notification_id: int
) -> list[tuple[str, bytes | None]]:
    """The original headers (a null value stays null), then the ledger's."""
    original: list[tuple[str, bytes | None]] = [
        NullValued(name) if value is None else (name, value)
        for name, value in letter.original_headers if name not in LEDGER_HEADERS]
    return Headers([*original, *ledger_headers(letter, notification_id)])


def reference_value(letter: DeadLetterRecorded, notification_id: int, why: str) -> bytes:
    """The DLQ value of a letter sent as a reference to its stored copy."""
    value = letter.value
    return orjson.dumps({"stored_dead_letter": {
        "id": str(letter.originator_id),
        "notification_id": notification_id,
        "why": why,
        "value_bytes": None if value is None else len(value),
        "value_sha256": None if value is None else hashlib.sha256(value).hexdigest(),
    }})


def dlq_record(
    letter: DeadLetterRecorded, notification_id: int, limit: int,
    size_of: Callable[[bytes | None, bytes | None, list[Any]], int],
    refused: bool = False,
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]:
    """(key, value, headers) of a letter on the DLQ: as it arrived if Kafka can carry it
    in `limit` bytes, else a reference (module docstring)."""
    key, value = letter.key, letter.value
    headers = dlq_headers(letter, notification_id)
    if key is None and value is None:
        why = "a record needs a key or a value"
    elif refused:
        why = "the broker refused the record"
    elif size_of(key, value, headers) > limit:
        why = f"larger than the DLQ topic's max.message.bytes ({limit})"
    else:
        return key, value, headers
    reference = reference_value(letter, notification_id, why)
    stored: list[tuple[str, bytes | None]] = [(H_VALUE, b"stored")]
    minimal = [*ledger_headers(letter, notification_id), *stored]
    for candidate_key, candidate_headers in ((key, Headers([*headers, *stored])),
                                             (key, minimal), (None, minimal)):
        if size_of(candidate_key, reference, candidate_headers) <= limit:
            return candidate_key, reference, candidate_headers
    return None, reference, [*stored]


def transactional_id(store_name: str, dlq_topic: str) -> str:
    return f"ledger-dlq-relay.{store_name}.{dlq_topic}"


# --- reading what is already on the DLQ --------------------------------------------------


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
                found = _read_range(consumer, tp, start, ends[tp], deadline)
                if found is not None or start == begins[tp]:
                    best = max(best, found or 0)
                    break
                window *= 8
        return best
    finally:
        consumer.close(autocommit=False)


def _read_range(consumer: Any, tp: Any, start: int, end: int, deadline: float) -> int | None:
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


# --- the relay ---------------------------------------------------------------------------


class DeadLetterRelay:
    """Publishes stored dead letters to the DLQ topic; see the module docstring."""

    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        *,
        bootstrap: str | None = None,
        dlq_topic: str | None = None,
        chunk: int = 500,
        metrics: IngestMetrics | None = None,
        lock: LeaderLock | None = None,
        op_timeout_s: float = 30.0,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap or settings.kafka_bootstrap
        self.dlq_topic = dlq_topic or settings.dlq_topic
        self.chunk = chunk
        self.op_timeout_s = op_timeout_s
        self.metrics = metrics
        self.lock = lock or leader_lock_for(settings, self.dlq_topic)
        self.transactional_id = transactional_id(settings.store_name, self.dlq_topic)
        self._wake = threading.Event()
        self.position = 0
        self.limit = DEFAULT_MESSAGE_LIMIT
        #: Letters the broker refused as records: sent as references from then on.
        self._refused: set[int] = set()

    def wake(self) -> None:
        """New dead letters were committed: look now instead of at the next tick."""
        self._wake.set()

    def run(
        self, stop: threading.Event, until_idle_s: float | None = None,
        give_up_after_s: float | None = None,
    ) -> None:
        """Relay until `stop` (or, with `until_idle_s`, until nothing is left that long;
        with `give_up_after_s`, no longer than that: what is left stays in the store for
        the next relay)."""
        failures = 0
        deadline = None if give_up_after_s is None else time.monotonic() + give_up_after_s
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                log.warning("relay gave up for now; the rest waits in the store",
                            extra={"published_up_to": self.position})
                return
            if not self.lock.acquire():
                if until_idle_s is not None:
                    return  # another relay is working; it will publish what is left
                stop.wait(2.0)
                continue
            try:
                self._session(stop, until_idle_s)
                if until_idle_s is not None:
                    return
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("relay session ended; starting over",
                            extra={"error": repr(exc), "attempt": failures})
                stop.wait(min(5.0, 0.5 * 2 ** min(failures, 4)))
            finally:
                self.lock.release()

    def _session(self, stop: threading.Event, until_idle_s: float | None) -> None:
        from kafka import KafkaProducer

        self.limit = dlq_message_limit(self.bootstrap, self.dlq_topic)
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap,
            transactional_id=self.transactional_id,
            acks="all",
            client_id="ledger-dlq-relay",
            linger_ms=5,
            max_block_ms=30000,
            request_timeout_ms=30000,
            max_request_size=self.limit + REQUEST_OVERHEAD,
        )
        try:
            producer.init_transactions()
            self.position = last_published(self.bootstrap, self.dlq_topic)
            log.info("relay started", extra={"published_up_to": self.position,
                                             "topic": self.dlq_topic})
            idle_since = time.monotonic()
            while not stop.is_set():
                if not self.lock.held():
                    log.warning("relay lost its leader lock")
                    return
                sent = self._publish_chunk(producer)
                if sent:
                    idle_since = time.monotonic()
                    continue
                if until_idle_s is not None and time.monotonic() - idle_since >= until_idle_s:
                    return
                self._wake.wait(0.5)
                self._wake.clear()
        finally:
            with contextlib.suppress(Exception):
                producer.close(timeout=2)

    def _publish_chunk(self, producer: Any) -> int:
        batch = self.store.notifications([DEAD_LETTER_TOPIC], after=self.position,
                                         limit=self.chunk)
        if not batch:
            return 0
        producer.begin_transaction()
        sent: list[tuple[int, Any]] = []
        for notification_id, event in batch:
            letter = cast(DeadLetterRecorded, event)
            key, value, headers = dlq_record(letter, notification_id, self.limit,
                                             producer._estimate_size_in_bytes,
                                             notification_id in self._refused)
            sent.append((notification_id,
                         producer.send(self.dlq_topic, key=key, value=value, headers=headers)))
        # Bounded waits: commit_transaction() itself waits without a limit while the
        # broker is away; a session that times out is dropped and the next one's
        # init_transactions() settles the open transaction either way (module docstring).
        producer.flush(timeout=self.op_timeout_s)
        self._note_refused(sent)
        _bounded(producer.commit_transaction, self.op_timeout_s, "commit")
        self.position = batch[-1][0]
        if self.metrics is not None:
            self.metrics.published(self.dlq_topic, len(batch))
        log.info("dead letters published", extra={"count": len(batch),
                                                  "up_to": self.position})
        return len(batch)


    def _note_refused(self, sent: list[tuple[int, Any]]) -> None:
        """Letters the broker refused as records go as references from now on; the
        chunk's transaction fails and the next session sends it again."""
        refused = [n for n, future in sent if future.failed()
                   and type(future.exception).__name__ in _RECORD_ERRORS]
        if refused:
            self._refused.update(refused)
            log.warning("the broker refused dead letters as records; sending them as "
                        "references", extra={"notification_ids": refused[:20]})
            raise RuntimeError(f"{len(refused)} dead letters refused by the broker")


#: Room beyond one record for the request and batch headers around it.
REQUEST_OVERHEAD = 16 * 1024


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


def _bounded(call: Callable[[], object], timeout_s: float, what: str) -> None:
    """Run a blocking client call with a deadline (kafka-python gives some calls none)."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name=f"dlq-relay-{what}", daemon=True).start()
    if not done.wait(timeout_s):
        raise TimeoutError(f"{what} took longer than {timeout_s:.0f}s")
    if errors:
        raise errors[0]
