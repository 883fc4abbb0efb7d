"""The reminder outbox (docs/domain-rules.md, Obligations and reminders): the engine's
obligation entries -> the `ledger.obligations` topic, each exactly once.

The ledger itself is the outbox: `obligation.opened`, `obligation.due_soon`,
`deadline.missed` and `obligation.escalated` are derived entries, committed with the
engine's position. This relay follows the committed log in notification order and
publishes each as a CloudEvent `ledger.obligation.opened|due_soon|missed|escalated`
(schemas/asyncapi.yaml, channel ledgerObligations), key = the holder's id, so one
holder's reminders stay in one partition, in ledger order.

Exactly once, as the dead-letter relay does it (consumers/relay.py):

1. A transactional producer with a `transactional.id` fixed per (store, topic); each
   chunk of the log is one Kafka transaction, chunks in order, so a `read_committed`
   reader sees a prefix of the reminders, never part of a chunk.
2. Every message carries its notification id (`ledger.notification_id`). A session
   starts with `init_transactions()` (fencing an older relay and settling its open
   transaction), then resumes after the highest of: the highest notification id on the
   topic's committed tail, and the relay's position in the store (`relay:<topic>`,
   written only after a chunk's commit, so chunks without reminders are not read again).
   Both are points up to which everything is published: nothing is skipped or doubled.
3. One relay works at a time (the leader lock of consumers/leader_lock.py); fencing keeps
   it correct even when two think they hold it.

The topic must be written by this relay only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import orjson
from eventsourcing.persistence import Tracking

from consumers.leader_lock import LeaderLock, leader_lock_for, run_as_leader
from consumers.topic_tail import highest_stamp
from ledger.adapters.store import AppendConflict, EventStore
from ledger.config import Settings
from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded
from ledger.domain.responsibility.verdicts import obligation_key

log = logging.getLogger("consumers.obligation_relay")

SOURCE = "ledger/obligations"
H_NOTIFICATION = "ledger.notification_id"
#: Derived entry type -> the CloudEvent type on the reminder topic.
REMINDERS = {
    "obligation.opened": "ledger.obligation.opened",
    "obligation.due_soon": "ledger.obligation.due_soon",
    "deadline.missed": "ledger.obligation.missed",
    "obligation.escalated": "ledger.obligation.escalated",
}
CHUNK = 500


def relay_reader(topic: str) -> str:
    return f"relay:{topic}"


def reminder(entry: EntryRecorded) -> tuple[str, dict[str, Any]] | None:
    """(key, CloudEvent) of a reminder entry; None for any other entry (or one that names
    nobody to remind, such as a missed contribution of a unit without a head)."""
    envelope = entry.envelope
    type_ = REMINDERS.get(str(envelope.get("type")))
    if entry.kind != ENTRY_KIND_DERIVED or type_ is None:
        return None
    data: dict[str, Any] = dict(envelope["data"])
    holder, identity = _holder(envelope["type"], data)
    if holder is None:
        return None
    data.update(obligation_id=identity, holder_id=holder)
    event: dict[str, Any] = {
        "specversion": "1.0", "id": envelope["id"], "source": SOURCE, "type": type_,
        "time": envelope["time"], "tenant": entry.tenant, "subject": envelope.get("subject"),
        "datacontenttype": "application/json", "data": data,
    }
    if envelope.get("traceparent"):
        event["traceparent"] = envelope["traceparent"]
    return holder, event


def _holder(type_: str, data: Mapping[str, Any]) -> tuple[str | None, str]:
    """Who is reminded, and the obligation's id (the same from opening to end)."""
    if type_ == "deadline.missed":
        holder = data.get("owner_id")
        return holder, obligation_key(data["obligation"], data["case_id"], data.get("step"),
                                      data.get("violation_id"), holder, data.get("party"))
    if type_ == "obligation.escalated":  # the new holder is told; the id is theirs
        kind = data.get("obligation", "review")
        return data["to_id"], obligation_key(kind, str(data.get("case_id", "")),
                                             data.get("step"), data.get("violation_id"),
                                             data["to_id"])
    return data["holder_id"], str(data["obligation_id"])


def transactional_id(store_name: str, topic: str) -> str:
    return f"ledger-obligation-relay.{store_name}.{topic}"


def last_published(bootstrap: str, topic: str, timeout_s: float = 30.0) -> int:
    """The highest notification id among the committed messages on the topic (0: none)."""
    return highest_stamp(bootstrap, topic, H_NOTIFICATION, "ledger-obligation-relay-tail",
                         timeout_s)


class ObligationRelay:
    """Publishes reminder entries to the obligations topic; see the module docstring."""

    def __init__(self, store: EventStore, settings: Settings, *, topic: str | None = None,
                 bootstrap: str | None = None, chunk: int = CHUNK,
                 lock: LeaderLock | None = None) -> None:
        self.store = store
        self.topic = topic or settings.obligations_topic
        self.bootstrap = bootstrap or settings.kafka_bootstrap
        self.chunk = chunk
        self.lock = lock or leader_lock_for(settings, self.topic)
        self.transactional_id = transactional_id(settings.store_name, self.topic)
        self.reader = relay_reader(self.topic)
        self.position = 0
        self.published = 0

    def run(self, stop: threading.Event, until_idle_s: float | None = None) -> None:
        """Relay until `stop` (with `until_idle_s`: until nothing came for that long)."""
        run_as_leader(self.lock, self._session, stop, until_idle_s, "obligation relay")

    def _session(self, stop: threading.Event, until_idle_s: float | None) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap,
                                 transactional_id=self.transactional_id, acks="all",
                                 client_id="ledger-obligation-relay", linger_ms=5,
                                 max_block_ms=30000, request_timeout_ms=30000)
        try:
            producer.init_transactions()
            stored = self.store.max_tracking_id(self.reader) or 0
            self.position = max(stored, last_published(self.bootstrap, self.topic))
            log.info("obligation relay started", extra={"published_up_to": self.position})
            idle_since = time.monotonic()
            while not stop.is_set():
                if not self.lock.held():
                    log.warning("obligation relay lost its leader lock")
                    return
                if self.step(producer):
                    idle_since = time.monotonic()
                    continue
                if until_idle_s is not None and time.monotonic() - idle_since >= until_idle_s:
                    return
                stop.wait(0.5)
        finally:
            with contextlib.suppress(Exception):
                producer.close(timeout=2)

    def step(self, producer: Any) -> int:
        """One chunk of the log, its reminders in one transaction; entries covered."""
        batch = self.store.entry_notifications(self.position, self.chunk)
        if not batch:
            return 0
        messages = [(n, found) for n, entry in batch if (found := reminder(entry))]
        if messages:
            producer.begin_transaction()
            for notification_id, (key, event) in messages:
                producer.send(self.topic, key=key.encode(), value=orjson.dumps(event),
                              headers=[(H_NOTIFICATION, str(notification_id).encode())])
            producer.flush(timeout=30)
            producer.commit_transaction()
            self.published += len(messages)
        self.position = batch[-1][0]
        # After the commit only: the stored position never runs ahead of the topic.
        with contextlib.suppress(AppendConflict):
            self.store.append([], Tracking(self.reader, self.position))
        return len(batch)
