"""What a broker delivers, read without ever being stopped by it.

kafka-python raises out of `poll()` when a record batch cannot be decoded (a codec it has
no library for, a failed CRC, a record whose header name is not UTF-8), and raises again
at the same offset on every poll and every restart: one bad batch stops a partition for
good. `install` swaps, on one consumer instance only, the client's record unpacking for
one that turns whatever cannot be decoded into an `InboundMessage` marked `undecodable`
(with the bytes that could be recovered), which the batch recorder dead-letters like any
other refused message, and moves the partition past it.

It also keeps each partition's last stable offset from the fetch responses: with
`read_committed` that, not the high watermark, is how far a consumer can read, and
transaction markers take offsets that are never returned as records.

This reaches into kafka-python's fetcher (its `PartitionRecords`, `DefaultRecordBatch`
internals), so kafka-python is pinned (pyproject.toml) and tests/unit/test_kafka_decoding.py
holds the two together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord, Fetcher, IsolationLevel
from kafka.record.util import decode_varint

from consumers.messages import InboundMessage, Undecodable
from ledger.domain.recording import Reason

log = logging.getLogger("consumers.fetching")

_MAGIC_V2 = 2


def install(consumer: Any) -> dict[Any, int]:
    """Make `consumer` dead-letter what it cannot decode; returns the dict its fetcher
    fills with each partition's last stable offset."""
    fetcher = consumer._fetcher
    fetcher.PartitionRecords = TolerantPartitionRecords
    stable: dict[Any, int] = {}
    parse = fetcher._parse_fetched_data

    def parse_and_note_stable(completed_fetch: Any) -> Any:
        offset = getattr(completed_fetch.partition_data, "last_stable_offset", -1)
        if offset is not None and offset >= 0:
            stable[completed_fetch.topic_partition] = offset
        return parse(completed_fetch)

    fetcher._parse_fetched_data = parse_and_note_stable
    return stable


def position(consumer: Any, tp: Any) -> int | None:
    """The client's fetch position of `tp` (no network): past every record it returned
    and every transaction marker or aborted batch it skipped."""
    try:
        state = consumer._subscription.position(tp)
    except (KeyError, AttributeError):
        return None
    return None if state is None else int(state.offset)


class TolerantPartitionRecords(Fetcher.PartitionRecords):  # type: ignore[misc]
    """kafka-python's unpacking of one fetch response, with every decode step guarded."""

    def _unpack_records(
        self, tp: Any, records: Any, key_deserializer: Any, value_deserializer: Any
    ) -> Iterator[Any]:
        batch = records.next_batch()
        last_batch = None
        while batch is not None:
            last_batch = batch
            if batch.magic < _MAGIC_V2:  # no broker this ledger supports writes these
                yield from self._legacy(tp, batch)
                batch = records.next_batch()
                continue
            if batch.next_offset <= self.fetch_offset:
                batch = records.next_batch()  # before the position (a fetch may start early)
                continue
            yield from self._batch(tp, batch, key_deserializer, value_deserializer)
            batch = records.next_batch()
        if last_batch is not None and last_batch.magic == _MAGIC_V2:
            done = int(getattr(self, "next_fetch_offset"))  # noqa: B009  (untyped base)
            self.next_fetch_offset = max(done, last_batch.next_offset)
        self.drain()

    def _batch(
        self, tp: Any, batch: Any, key_deserializer: Any, value_deserializer: Any
    ) -> Iterator[Any]:
        first = max(batch.base_offset, self.fetch_offset)
        try:
            if self._skipped(batch):
                self.next_fetch_offset = batch.next_offset
                return
            records = iter(batch)  # decompresses
        except Exception as exc:
            yield self._undecodable_batch(tp, batch, first, exc, _delivered_bytes(batch))
            return
        expected = batch.base_offset
        topic, partition, epoch = tp.topic, tp.partition, self.leader_epoch
        plain = key_deserializer is None and value_deserializer is None
        while True:
            try:
                # The hot path: as lean as kafka-python's own loop (one record per turn).
                for record in records:
                    offset = record.offset
                    expected = offset + 1
                    key, value, headers = record.key, record.value, record.headers
                    if not plain:
                        key = self._deserialize(key_deserializer, topic, headers, key)
                        value = self._deserialize(value_deserializer, topic, headers, value)
                    self.records_read += 1
                    self.bytes_read += record.size_in_bytes
                    self.next_fetch_offset = expected
                    yield ConsumerRecord(topic, partition, epoch, offset, record.timestamp,
                                         record.timestamp_type, key, value, headers,
                                         record.checksum, -1, -1, -1)
                return
            except Exception as exc:
                salvaged = salvage_record(tp, batch, expected, exc)
                if salvaged is None:
                    if max(expected, first) <= batch.last_offset:
                        unread = bytes(batch._buffer[batch._pos:])  # the records not read
                        yield self._undecodable_batch(tp, batch, max(expected, first), exc,
                                                      unread)
                    return
                expected = salvaged.offset + 1
                self.next_fetch_offset = expected
                yield salvaged

    def _skipped(self, batch: Any) -> bool:
        """kafka-python's read_committed rules: aborted batches and control markers are
        not returned (raises when the batch header itself is unreadable)."""
        if self.check_crcs and not batch.validate_crc():
            raise ValueError(f"record batch at offset {batch.base_offset} failed its CRC check")
        if self.isolation_level == IsolationLevel.READ_COMMITTED and batch.has_producer_id():
            self._consume_aborted_transactions_up_to(batch.last_offset)
            if self._contains_abort_marker(batch):
                self.aborted_producer_ids.discard(batch.producer_id)
            elif self._is_batch_aborted(batch):
                return True
        return bool(batch.is_control_batch)

    def _undecodable_batch(
        self, tp: Any, batch: Any, first: int, exc: BaseException, raw: bytes | None
    ) -> InboundMessage:
        """The rest of a batch, from `first` to its last offset, as one message whose value
        is what is left of it: the batch as delivered (header, compressed records and all)
        or, past a record that could not be read, the records not read."""
        last = batch.last_offset
        self.next_fetch_offset = batch.next_offset
        log.error("record batch could not be decoded; dead-lettering it",
                  extra={"topic": tp.topic, "partition": tp.partition, "first": first,
                         "last": last, "error": repr(exc)})
        reason = Reason("undecodable_batch", "",
                        f"offsets {first}..{last} could not be decoded: {_describe(exc)}")
        return InboundMessage(tp.topic, tp.partition, last, None, raw, (),
                              Undecodable(reason, first))

    def _legacy(self, tp: Any, batch: Any) -> Iterator[Any]:
        for record in batch:
            self.next_fetch_offset = record.offset + 1
            yield ConsumerRecord(
                tp.topic, tp.partition, self.leader_epoch, record.offset, record.timestamp,
                record.timestamp_type, record.key, record.value, record.headers,
                record.checksum, -1, -1, -1)


def _delivered_bytes(batch: Any) -> bytes:
    """The batch's bytes as the broker sent them (decompression, which replaces them,
    did not succeed when this is called)."""
    return bytes(batch._buffer)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def salvage_record(
    tp: Any, batch: Any, expected: int, exc: BaseException
) -> InboundMessage | None:
    """The record the batch failed to read, read leniently: moves the batch past it and
    returns it marked undecodable, or None when not even its length and offset can be
    read (the caller then gives up on the rest of the batch)."""
    buffer, start = batch._buffer, batch._pos
    try:
        length, pos = decode_varint(buffer, start)
        end = pos + length
        _attributes, pos = decode_varint(buffer, pos)
        _timestamp_delta, pos = decode_varint(buffer, pos)
        offset_delta, pos = decode_varint(buffer, pos)
    except (IndexError, ValueError):
        return None
    offset = batch.base_offset + offset_delta
    if length <= 0 or end > len(buffer) or not expected <= offset <= batch.last_offset:
        return None
    batch._pos = end
    batch._next_record_index += 1
    fields = _lenient_fields(buffer, pos, end)
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    if fields is None:
        key, value, headers = None, bytes(buffer[start:end]), ()
        what = "its fields could not be read (the value is the whole record)"
    else:
        key, value, headers, names = fields
        bad = [name for name in names if not _is_utf8(name)]
        what = (f"header name {bad[0]!r} is not UTF-8 (kept escaped)" if bad
                else "it could not be read")
    reason = Reason("undecodable_record", "", f"offset {offset}: {what}; {_describe(exc)}")
    log.error("record could not be decoded; dead-lettering it",
              extra={"topic": tp.topic, "partition": tp.partition, "offset": offset,
                     "error": repr(exc)})
    return InboundMessage(tp.topic, tp.partition, offset, key, value, headers,
                          Undecodable(reason, offset))


def _lenient_fields(
    buffer: bytearray, pos: int, end: int
) -> tuple[bytes | None, bytes | None, tuple[tuple[str, bytes | None], ...], list[bytes]] | None:
    """Key, value and headers of a v2 record; header names that are not UTF-8 are kept
    with their bytes escaped (`\\xff`), so they can be shown and sent on."""
    try:
        key, pos = _read_bytes(buffer, pos)
        value, pos = _read_bytes(buffer, pos)
        count, pos = decode_varint(buffer, pos)
        headers: list[tuple[str, bytes | None]] = []
        names: list[bytes] = []
        for _ in range(count):
            name, pos = _read_bytes(buffer, pos)
            header_value, pos = _read_bytes(buffer, pos)
            names.append(name or b"")
            headers.append(((name or b"").decode("utf-8", "backslashreplace"), header_value))
    except (IndexError, ValueError):
        return None
    if pos != end:
        return None
    return key, value, tuple(headers), names


def _read_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    if pos + size > len(buffer):
        raise IndexError("field runs past the record")
    return bytes(buffer[pos : pos + size]), pos + size


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
