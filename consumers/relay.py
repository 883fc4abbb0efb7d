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

Here the loop and its sessions; how a letter looks on the DLQ is consumers/dlq_records.py,
what the broker says of the DLQ topic (its committed tail, its size limit) dlq_broker.py.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from consumers.dead_letters import DEAD_LETTER_TOPIC, DeadLetterRecorded
from consumers.dlq_broker import (
    DEFAULT_MESSAGE_LIMIT,
    REQUEST_OVERHEAD,
    dlq_message_limit,
    last_published,
)
from consumers.dlq_records import dlq_record
from consumers.leader_lock import LeaderLock, leader_lock_for, run_as_leader
from consumers.observability import IngestMetrics
from ledger.adapters.store import EventStore
from ledger.config import Settings

log = logging.getLogger("consumers.relay")

#: Broker errors that are about one record, not the broker: such a letter goes as a
#: reference instead of failing its chunk again and again.
RECORD_ERRORS = ("MessageSizeTooLargeError", "RecordTooLargeError", "InvalidRecordError",
                 "CorruptRecordError")


def transactional_id(store_name: str, dlq_topic: str) -> str:
    return f"ledger-dlq-relay.{store_name}.{dlq_topic}"


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
        deadline = None if give_up_after_s is None else time.monotonic() + give_up_after_s
        run_as_leader(self.lock, self._session, stop, until_idle_s, "dead-letter relay",
                      deadline)

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
        bounded(producer.commit_transaction, self.op_timeout_s, "commit")
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
                   and type(future.exception).__name__ in RECORD_ERRORS]
        if refused:
            self._refused.update(refused)
            log.warning("the broker refused dead letters as records; sending them as "
                        "references", extra={"notification_ids": refused[:20]})
            raise RuntimeError(f"{len(refused)} dead letters refused by the broker")


def bounded(call: Callable[[], object], timeout_s: float, what: str) -> None:
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
