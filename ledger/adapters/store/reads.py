"""What callers read from the store, in one place.

Heads and positions (a tenant's head, a stream's version, a reader's tracking position,
the last notification id); a tenant's entries after a position (and its receipts, and
its entries found by envelope); streams by topic and their events, raw or decoded
(tokens, checkpoints, audit trails); and events of topics in commit order (every
tenant's entries, dead letters for the outbox, tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, ProcessRecorder, StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg import sql
from psycopg.rows import tuple_row

from ledger.adapters.store.dialects import (
    ROWS_HOLDING,
    STREAM_IDS,
    STREAM_LAST_ID,
    STREAMS_AFTER,
    dialect_of,
)
from ledger.adapters.store.library import plain_entry, writes_plain_rows
from ledger.adapters.store.rows import ENTRY_TOPIC
from ledger.domain.checkpoint import CheckpointSigned, checkpoint_stream_id
from ledger.domain.envelope import IdempotencyKey
from ledger.domain.events import EntryRecorded, ReceiptIssued, ledger_stream_id
from ledger.domain.recording import LedgerHead

#: Entry rows after a notification id, up to a stop, in commit order (`{id}`: the dialect's
#: notification id column): what `entry_notifications` decodes itself.
ENTRIES_AFTER = (
    "SELECT {id} AS id, CAST(originator_id AS TEXT), originator_version, state FROM {table} "
    "WHERE {id} > ? AND {id} <= ? AND topic = ? ORDER BY {id} LIMIT ?"
)
#: No stop: past any notification id either backend hands out.
NO_STOP = 2**62


class StoreReads:
    """The store's read API, on the library's recorder and mapper; thread-safe."""

    def __init__(self, recorder: ProcessRecorder, mapper: Mapper[UUID]) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._dialect = dialect_of(recorder)
        #: Entry rows decoded here rather than by the mapper (same objects, a third of the
        #: cost): only when the mapper would decode plain orjson.
        self._plain = writes_plain_rows(mapper)
        self._entries_after = ENTRIES_AFTER.replace("{id}", self._dialect.notification_column)
        #: Stream ids as the backend returns them -> UUID (SQLite hands out text).
        self._stream_ids: dict[str, UUID] = {}
        self._tenants: dict[UUID, str] = {}
        self._entries_pg: sql.Composed | None = None
        if isinstance(recorder, PostgresProcessRecorder):
            self._entries_pg = sql.SQL(self._entries_after.replace("?", "%s")).format(
                table=sql.Identifier(recorder.datastore.schema, recorder.events_table_name))

    @property
    def recorder(self) -> ProcessRecorder:
        return self._recorder

    def decode(self, stored: StoredEvent) -> object:
        """A stored row as its domain event (raises if the row is damaged)."""
        return self._mapper.to_domain_event(stored)

    # --- heads and positions ---

    def head(self, tenant: str) -> LedgerHead:
        last = self._last(ledger_stream_id(tenant))
        if last is None:
            return LedgerHead(tenant)
        entry = self._entry(last)
        return LedgerHead(tenant, entry.position, entry.entry_hash)

    def stream_version(self, stream_id: UUID) -> int:
        last = self._last(stream_id)
        return last.originator_version if last is not None else 0

    def max_tracking_id(self, application_name: str) -> int | None:
        return self._recorder.max_tracking_id(application_name)

    def max_notification_id(self) -> int:
        return self._recorder.max_notification_id() or 0

    def last_notification_id(self, tenant: str) -> int:
        """The notification id of the tenant's newest ledger entry (0: none yet): a read
        model at or past it shows everything the tenant's ledger holds now."""
        statement = STREAM_LAST_ID.replace("{id}", self._dialect.notification_column)
        rows = self._dialect.select(statement, (ledger_stream_id(tenant),))
        return int(rows[0]["id"]) if rows else 0

    # --- a tenant's entries and receipts ---

    def entries(
        self, tenant: str, after: int = 0, limit: int | None = None
    ) -> list[EntryRecorded]:
        stored = self._recorder.select_events(ledger_stream_id(tenant), gt=after, limit=limit)
        return [self._entry(s) for s in stored]

    def iter_entries(
        self, tenant: str, after: int = 0, page: int = 1000
    ) -> Iterator[EntryRecorded]:
        while True:
            batch = self.entries(tenant, after, page)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].position

    def receipts(self, keys: Iterable[IdempotencyKey]) -> dict[IdempotencyKey, ReceiptIssued]:
        by_id = {key.receipt_id: key for key in keys}
        found: dict[IdempotencyKey, ReceiptIssued] = {}
        for stored in self._dialect.first_versions(by_id.keys()):
            receipt = cast(ReceiptIssued, self._mapper.to_domain_event(stored))
            found[by_id[receipt.originator_id]] = receipt
        return found

    def find_entries(
        self,
        tenant: str,
        *,
        event_id: str | None = None,
        source: str | None = None,
        stream: str | None = None,
    ) -> list[EntryRecorded]:
        """The tenant's entries whose envelope has this id (and source), or this stream.

        The database narrows the rows by a byte search for the JSON-encoded value (so a
        damaged row elsewhere cannot break the look-up); the match is then exact, here.
        No index serves this yet: it reads the tenant's rows in the database.
        """
        needle = event_id if event_id is not None else stream
        if needle is None:
            raise ValueError("find_entries needs an event_id or a stream")
        rows = self._dialect.select(
            ROWS_HOLDING, (ledger_stream_id(tenant), ENTRY_TOPIC, orjson.dumps(needle))
        )
        found: list[EntryRecorded] = []
        for row in rows:
            entry = self._entry(
                StoredEvent(
                    originator_id=UUID(str(row["originator_id"])),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
            )
            envelope = entry.envelope
            if event_id is not None and envelope.get("id") != event_id:
                continue
            if source is not None and envelope.get("source") != source:
                continue
            if stream is not None and entry.stream != stream:
                continue
            found.append(entry)
        return found

    def entries_mentioning(self, tenant: str, text: str) -> list[EntryRecorded]:
        """The tenant's entries whose stored state holds `text` as a JSON string (a byte
        search in the database, like `find_entries`; for rare types, e.g. quarantines)."""
        rows = self._dialect.select(
            ROWS_HOLDING, (ledger_stream_id(tenant), ENTRY_TOPIC, orjson.dumps(text))
        )
        return [self._entry(StoredEvent(UUID(str(row["originator_id"])),
                                        row["originator_version"], row["topic"],
                                        bytes(row["state"])))
                for row in rows]

    # --- streams and their events ---

    def stream_ids(self, topic: str) -> list[UUID]:
        """Every stream holding an event of `topic` (a full scan: for verify and sweeps)."""
        rows = self._dialect.select(STREAM_IDS, (topic,))
        return sorted(UUID(str(row["originator_id"])) for row in rows)

    def stored_events(
        self, stream_id: UUID, after: int = 0, limit: int | None = None
    ) -> Sequence[StoredEvent]:
        """Rows as stored, undecoded: verification must survive a row that no longer parses."""
        return self._recorder.select_events(stream_id, gt=after, limit=limit)

    def stream_events(self, stream_id: UUID) -> list[object]:
        """Every event of one stream, decoded (tokens, audit trails)."""
        return [self._mapper.to_domain_event(s) for s in self._recorder.select_events(stream_id)]

    def checkpoints(self, tenant: str, after: int = 0) -> list[CheckpointSigned]:
        """The tenant's signed checkpoints after sequence number `after`, oldest first."""
        stored = self._recorder.select_events(checkpoint_stream_id(tenant), gt=after)
        return [cast(CheckpointSigned, self._mapper.to_domain_event(s)) for s in stored]

    def latest_checkpoint(self, tenant: str) -> CheckpointSigned | None:
        last = self._last(checkpoint_stream_id(tenant))
        return cast(CheckpointSigned, self._mapper.to_domain_event(last)) if last else None

    # --- events of topics, in commit order ---

    def entry_notifications(
        self, after: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, EntryRecorded]]:
        """Ledger entries of every tenant in commit order, after notification id `after`."""
        if self._plain:
            rows = self._entry_rows(after, NO_STOP if stop is None else stop, limit)
            return [(int(row[0]), plain_entry(self._stream_id(row[1]), row[2], bytes(row[3])))
                    for row in rows]
        notifications = self._recorder.select_notifications(
            after, limit, stop=stop, topics=[ENTRY_TOPIC], inclusive_of_start=False
        )
        return [(n.id, self._entry(n)) for n in notifications]

    def entry_streams(self, after: int, limit: int) -> list[tuple[int, UUID, int]]:
        """(notification id, stream id, position in the tenant's ledger) of ledger entries
        after notification id `after`, in commit order, nothing decoded: which tenants'
        ledgers moved and how far, cheaply."""
        statement = STREAMS_AFTER.replace("{id}", self._dialect.notification_column)
        rows = self._dialect.select(statement, (after, ENTRY_TOPIC, limit))
        return [(int(row["id"]), self._stream_id(str(row["originator_id"])),
                 int(row["originator_version"])) for row in rows]

    def tenant_of_stream(self, stream: UUID) -> str | None:
        """The tenant whose ledger `stream` is (None: no such ledger), named by its first
        entry, read once per stream."""
        tenant = self._tenants.get(stream)
        if tenant is None:
            first = self._recorder.select_events(stream, gt=0, limit=1)
            if not first:
                return None
            tenant = self._entry(first[0]).tenant
            if len(self._tenants) < 100_000:  # one per tenant: bounded all the same
                self._tenants[stream] = tenant
        return tenant

    def notifications(
        self, topics: Sequence[str], after: int = 0, limit: int = 1000
    ) -> list[tuple[int, DomainEventProtocol[Any]]]:
        """Stored events of the given topics (class paths) after a notification id, in commit
        order, each with its notification id: what an outbox relay or a listing reads."""
        found = self._recorder.select_notifications(
            after, limit, topics=list(topics), inclusive_of_start=False
        )
        return [(n.id, self._mapper.to_domain_event(n)) for n in found]

    def events_of_topic(self, topic: str, page: int = 1000) -> Iterator[object]:
        """Every event of one type across the store, in commit order."""
        after = 0
        while True:
            batch = self.notifications([topic], after, page)
            for _, event in batch:
                yield event
            if len(batch) < page:
                return
            after = batch[-1][0]

    def _last(self, stream_id: UUID) -> StoredEvent | None:
        last = self._recorder.select_events(stream_id, desc=True, limit=1)
        return last[0] if last else None

    def _entry_rows(self, after: int, stop: int, limit: int) -> list[Any]:
        """(id, stream id as text, version, state) rows: on PostgreSQL binary and as tuples,
        which halves the read (bytea as hex text and a dict per row cost as much as the
        query); elsewhere the dialect's."""
        params = (after, stop, ENTRY_TOPIC, limit)
        if self._entries_pg is None:
            return self._dialect.select(self._entries_after, params)
        datastore = cast(PostgresProcessRecorder, self._recorder).datastore
        with datastore.get_connection() as conn, \
                conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(self._entries_pg, params, prepare=True)
            return curs.fetchall()

    def _stream_id(self, value: str) -> UUID:
        found = self._stream_ids.get(value)
        if found is None:
            found = UUID(value)
            if len(self._stream_ids) < 100_000:  # one per tenant: bounded all the same
                self._stream_ids[value] = found
        return found

    def _entry(self, stored: StoredEvent) -> EntryRecorded:
        if self._plain and stored.topic == ENTRY_TOPIC and isinstance(stored.originator_id,
                                                                      UUID):
            return plain_entry(stored.originator_id, stored.originator_version,
                               bytes(stored.state))
        return cast(EntryRecorded, self._mapper.to_domain_event(stored))
