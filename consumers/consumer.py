"""`ledger consume`: a Kafka consumer-group member that feeds partition batches to the ledger.

Positions live in the ledger's store, not in Kafka: on every assignment a partition is
sought to its recorded position + 1 (tracking record `kafka:<topic>:<partition>`, written
in the same transaction as the batch's events, see consumers/batch.py). Kafka's committed
offsets are written after the database commit and are advisory only (they let tools such
as kafka-consumer-groups show progress); they are never read back.

Failure handling, in one rule: after anything goes wrong with a batch, the partition's
next offset becomes max(first offset of the failed batch, recorded position + 1), and the
messages are read from Kafka again. A batch that had in fact been committed (the
connection broke during COMMIT) is then recognised by its position (`AlreadyTracked`)
and skipped; a store that is down is retried with backoff while the group membership is
kept alive by polling. A member left holding nothing while the broker says its partitions
belong to nobody rejoins with a fresh client (consumers/group_health.py).

Nothing the broker delivers stops a partition: what the client cannot decode comes out
of consumers/fetching.py as a message marked undecodable and is dead-lettered in its
batch. Offsets need not be contiguous (transaction markers, aborted and compacted
records leave gaps), so a batch is handed over when nothing repositioned its partition
since it was read, and lag is measured to the last stable offset from the client's
position, which is past the markers. The client's options and set-up, and what the
member asks of it besides records, are consumers/group_client.py.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from consumers import fetching, group_client
from consumers.batch import BatchRecorder, BatchResult, PreparedBatch, tracking_name
from consumers.group_client import TP, ConsumerOptions
from consumers.group_health import AssignmentWatch, GroupProbe, Verdict
from consumers.messages import InboundMessage
from consumers.observability import IngestMetrics
from consumers.partitions import PartitionState
from ledger.application.recording import AlreadyTracked, Ledger

__all__ = ["ConsumerOptions", "LedgerConsumer"]  # ConsumerOptions: from group_client

log = logging.getLogger("consumers.consume")

#: An empty assignment is checked with the broker (consumers/group_health.py) once it
#: has lasted this long, then every PROBE_EVERY_S while it lasts.
EMPTY_ASSIGNMENT_GRACE_S = 3.0
PROBE_EVERY_S = 5.0


def _message(record: Any) -> InboundMessage:
    if type(record) is InboundMessage:  # undecodable: made by consumers/fetching.py
        return record
    headers = record.headers
    return InboundMessage(record.topic, record.partition, record.offset, record.key,
                          record.value, tuple((str(k), v) for k, v in headers) if headers else ())


class LedgerConsumer:
    """One member of the consumer group. Not thread-safe: one thread runs `run`."""

    def __init__(
        self,
        ledger: Ledger,
        options: ConsumerOptions,
        metrics: IngestMetrics | None = None,
        on_dead_letters: Callable[[], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.options = options
        self.metrics = metrics or IngestMetrics()
        self._recorder = BatchRecorder(ledger, options.max_message_bytes)
        self._on_dead_letters = on_dead_letters or (lambda: None)
        self._partitions: dict[TP, PartitionState] = {}
        self._epochs = 0  # the source of every partition's epoch
        self._stable: dict[TP, int] = {}  # last stable offsets, kept by consumers/fetching.py
        self._failures = 0
        self._joined = False
        self._consumer: Any = None
        self._watch = AssignmentWatch(EMPTY_ASSIGNMENT_GRACE_S, PROBE_EVERY_S,
                                      options.stall_after_s)
        # Unique per client, so that the group's description tells this member apart.
        self._client_id = f"{options.client_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._probe = GroupProbe(options.bootstrap, options.group, options.topic,
                                 self._client_id)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-writer")
        self._in_flight: tuple[TP, list[InboundMessage], Future[tuple[BatchResult, float]]] | None
        self._in_flight = None

    # --- Kafka client ------------------------------------------------------------------

    def _connect(self) -> Any:
        consumer, self._stable = group_client.connect(self.options, self._client_id,
                                                      self._revoked, self._assigned)
        return consumer

    # --- rebalance callbacks (run inside poll) --------------------------------------------

    def _revoked(self, revoked: list[TP]) -> None:
        """Forget what was buffered: the next owner reads it again from the recorded position.

        The batch in flight is waited for first, so the next owner finds its position.
        No offsets are committed here: committing from inside the revocation (with
        kafka-python 3.0) left the group's rejoin unfinished, the consumer assigned
        nothing and polling forever. They are advisory; the store has the positions."""
        self._settle()
        for state in self._partitions.values():
            state.to_commit = None
        for tp in revoked:
            self._partitions.pop(tp, None)
            self.metrics.partition_released(tp.topic, tp.partition)
        log.info("partitions revoked", extra={"partitions": sorted(tp.partition for tp in revoked)})

    def _assigned(self, assigned: list[TP]) -> None:
        """Seek every new partition to its recorded position + 1 (paused until known)."""
        self._joined = True
        for tp in assigned:
            self._partitions.setdefault(tp, PartitionState())
        pending = self._pending()
        if pending:
            self._consumer.pause(*pending)
        partitions = sorted(tp.partition for tp in assigned)
        log.info("partitions assigned", extra={"partitions": partitions})
        self._resolve_pending()

    def _resolve_pending(self) -> None:
        """Read pending partitions' positions from the store; keeps them paused while the
        store is unreachable (messages are not read before their position is known)."""
        for tp in self._pending():
            try:
                recorded = self.ledger.store.max_tracking_id(tracking_name(tp.topic, tp.partition))
            except Exception as exc:
                log.warning("store unreachable; partition stays paused",
                            extra={"partition": tp.partition, "error": repr(exc)})
                return
            state = self._partitions[tp]
            if recorded is None:
                self._consumer.seek_to_beginning(tp)
                state.next = 0
            else:
                self._consumer.seek(tp, recorded + 1)
                state.next = recorded + 1
            self._new_epoch(state)
            self._consumer.resume(tp)
            log.info("partition positioned", extra={"partition": tp.partition,
                                                    "recorded": recorded, "next": state.next})

    def _pending(self) -> list[TP]:
        return sorted((tp for tp, s in self._partitions.items() if s.pending),
                      key=lambda t: t.partition)

    # --- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event, until_idle_s: float | None = None) -> None:
        """Consume until `stop` is set (or, with `until_idle_s`, until caught up and idle
        that long), then apply what is buffered and leave the group."""
        self._consumer = self._connect()
        last_data = time.monotonic()
        last_commit = last_lag = 0.0
        try:
            while not stop.is_set():
                self._resolve_pending()
                polled = self._poll(stop)
                now = time.monotonic()
                got = self._buffer(polled, now)
                if got:
                    last_data = now
                self._flush(now, everything=not got)
                if self._in_flight is not None and self._in_flight[2].done():
                    self._settle()  # the last batch of a burst: count it without waiting
                if now - last_lag >= 1.0:
                    self._update_lag()
                    last_lag = now
                if now - last_commit >= self.options.commit_interval_s:
                    self._commit_advisory()
                    last_commit = now
                self._watch_assignment(now)
                if until_idle_s is not None and now - last_data >= until_idle_s and self._idle():
                    totals = self.metrics.snapshot()["totals"]
                    log.info("caught up and idle; stopping", extra=totals)
                    break
            self._flush(time.monotonic(), everything=True)
            self._settle()
            self._commit_advisory()
        finally:
            self._writer.shutdown(wait=True)  # a transaction in flight ends either way
            self._update_lag()
            self._consumer.close(autocommit=False)
            self._probe.close()

    def _poll(self, stop: threading.Event) -> dict[TP, list[Any]]:
        """Records of the assigned partitions; a client error (what consumers/fetching.py
        could not turn into a dead letter, e.g. a fetch response cut short) is logged and
        polled again after a pause, while the other partitions go on."""
        poll_ms = max(10, min(self.options.linger_ms, 200))
        try:
            polled: dict[TP, list[Any]] = self._consumer.poll(
                timeout_ms=poll_ms, max_records=self.options.batch_size)
        except Exception as exc:
            self._failures += 1
            self.metrics.batch_failed(self.options.topic)
            log.error("poll failed; polling again", extra={"error": repr(exc),
                                                           "attempt": self._failures})
            stop.wait(min(self.options.max_backoff_s, 0.25 * 2 ** min(self._failures, 5)))
            return {}
        return polled

    def _new_epoch(self, state: PartitionState) -> None:
        self._epochs += 1
        state.epoch = self._epochs

    # --- a member left with nothing (consumers/group_health.py) ---------------------------

    def _watch_assignment(self, now: float) -> None:
        verdict = self._watch.observe(now, holding=bool(self._partitions))
        if verdict is not Verdict.PROBE:
            return
        view = self._probe.view()
        if self._watch.probed(time.monotonic(), view) is Verdict.RECONNECT and view:
            log.warning("partitions belong to nobody while this member holds none; "
                        "reconnecting to the group",
                        extra={"unowned": sorted(view.unowned), "group_state": view.state,
                               "after_s": self.options.stall_after_s})
            self.metrics.consumer_reconnected(self.options.topic)
            self._reconnect()

    def _reconnect(self) -> None:
        """A fresh client and a fresh join; positions come from the store as always."""
        self._settle()
        self._partitions.clear()
        self._watch.reset()
        self._joined = False
        try:
            self._consumer.close(autocommit=False)
        except Exception as exc:  # the old client is being dropped for misbehaving
            log.warning("closing the stalled client failed", extra={"error": repr(exc)})
        self._consumer = self._connect()

    def _buffer(self, polled: dict[TP, list[Any]], now: float) -> int:
        got = 0
        for tp, records in polled.items():
            state = self._partitions.get(tp)
            if state is None or state.next is None:
                continue
            buffer = state.buffer
            last = buffer[-1].offset if buffer else state.next - 1
            for record in records:
                if record.offset > last:  # older ones: fetched before a seek, or re-delivered
                    buffer.append(_message(record))
                    last = record.offset
                    got += 1
            if buffer and state.first_at is None:
                state.first_at = now
        return got

    def _flush(self, now: float, everything: bool) -> None:
        linger = self.options.linger_ms / 1000.0
        size = self.options.batch_size
        for tp, state in list(self._partitions.items()):
            if not state.buffer:
                continue
            waited = now - (state.first_at if state.first_at is not None else now)
            if not everything and len(state.buffer) < size and waited < linger:
                continue
            epoch, buffer = state.epoch, state.take_buffer()
            for start in range(0, len(buffer), size):
                if not self._submit(tp, buffer[start : start + size], epoch):
                    break

    # --- the pipeline: this thread prepares batch N+1 while the writer appends batch N ---
    #
    # One batch at most is in flight, so batches are appended in the order they were read,
    # and a batch is only handed over if its partition was not repositioned since it was
    # read, so its predecessor succeeded (after a failure the partition is repositioned
    # and whatever was prepared past the failure is dropped, to be read again). Offsets
    # need not follow on: transaction markers and aborted records leave gaps.

    def _submit(self, tp: TP, batch: list[InboundMessage], epoch: int) -> bool:
        """Prepare `batch` (overlapping the append in flight), then hand it to the writer."""
        prepared = self._recorder.prepare(batch)
        self._settle()
        state = self._partitions.get(tp)
        if state is None or state.next is None or state.epoch != epoch or \
                batch[0].offset < state.next:
            return False  # revoked, or repositioned by a failure of the batch before it
        state.next = batch[-1].offset + 1
        future = self._writer.submit(self._timed_apply, prepared)
        self._in_flight = (tp, batch, future)
        return True

    def _timed_apply(self, prepared: PreparedBatch) -> tuple[BatchResult, float]:
        started = time.perf_counter()
        result = self._recorder.apply(prepared)
        return result, time.perf_counter() - started

    def _settle(self) -> None:
        """Wait for the batch in flight, if any, and act on how it ended."""
        if self._in_flight is None:
            return
        tp, batch, future = self._in_flight
        self._in_flight = None
        try:
            result, seconds = future.result()
        except AlreadyTracked:
            self.metrics.batch_skipped(tp.topic, tp.partition)
            log.info("batch already applied; skipping it",
                     extra={"partition": tp.partition, "first": batch[0].offset,
                            "last": batch[-1].offset})
            self._reposition(tp, batch[0].offset)
            return
        except Exception as exc:
            self._failures += 1
            self.metrics.batch_failed(tp.topic)
            log.error("batch failed; it will be read again",
                      extra={"partition": tp.partition, "first": batch[0].offset,
                             "last": batch[-1].offset, "error": repr(exc),
                             "attempt": self._failures})
            self._reposition(tp, batch[0].offset)
            time.sleep(min(self.options.max_backoff_s, 0.25 * 2 ** min(self._failures, 5)))
            return
        self._failures = 0
        state = self._partitions.get(tp)
        if state is not None and state.next is not None:  # still ours: tell Kafka (advisory)
            state.to_commit = batch[-1].offset + 1
        self.metrics.batch_applied(result, seconds)
        if result.dead_lettered:
            self._on_dead_letters()

    def _reposition(self, tp: TP, failed_from: int) -> None:
        """Next offset := max(first offset of the failed batch, recorded position + 1)."""
        state = self._partitions.get(tp)
        if state is not None:
            state.take_buffer()
        nxt = failed_from
        try:
            recorded = self.ledger.store.max_tracking_id(tracking_name(tp.topic, tp.partition))
            if recorded is not None:
                nxt = max(nxt, recorded + 1)
        except Exception as exc:
            log.warning("store unreachable while repositioning", extra={"error": repr(exc)})
        if state is not None and state.next is not None:
            state.next = nxt
            self._new_epoch(state)
            self._consumer.seek(tp, nxt)

    def _lag(self, tp: TP, nxt: int) -> tuple[int, int] | None:
        """(position, lag) of a partition: lag is the last stable offset (how far a
        read_committed consumer can read) minus the position. With nothing of the
        partition buffered or in flight, the client's position counts too: it is past
        the transaction markers and aborted records, which are never records here."""
        end = group_client.readable_end(self._consumer, self._stable, tp)
        if end is None:
            return None
        in_flight = self._in_flight is not None and self._in_flight[0] == tp
        state = self._partitions.get(tp)
        if (state is None or not state.buffer) and not in_flight:
            nxt = max(nxt, fetching.position(self._consumer, tp) or nxt)
        return nxt, max(0, end - nxt)

    def _update_lag(self) -> None:
        for tp, state in list(self._partitions.items()):
            lag = self._lag(tp, state.next) if state.next is not None else None
            if lag is not None:
                self.metrics.set_lag(tp.topic, tp.partition, *lag)

    def _idle(self) -> bool:
        states = self._partitions
        if not self._joined or self._in_flight is not None or \
                any(s.pending or s.buffer for s in states.values()):
            return False
        if not states:
            # Nothing for us only if the broker says the others own every partition.
            return self._watch.observe(time.monotonic(), holding=False) is Verdict.IDLE
        for tp, state in states.items():
            lag = self._lag(tp, state.next) if state.next is not None else None
            if lag is None or lag[1] > 0:
                return False
        return True

    def _commit_advisory(self) -> None:
        """Tell Kafka how far we are (for humans and tools); never relied upon."""
        due = {tp: s.to_commit for tp, s in self._partitions.items() if s.to_commit is not None}
        if not due:
            return
        for tp in due:
            self._partitions[tp].to_commit = None
        group_client.commit_advisory(self._consumer, due)
