"""PostgreSQL appends by binary COPY, in the library's own transaction.

The rows are mapped directly where the store encodes plainly (`rows`), staged before a
writer's turn, and sent by COPY instead of the library's array of composite values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import InterfaceError, Mapper, OperationalError, Tracking
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow

from ledger.adapters.store.dialects import copy_events
from ledger.adapters.store.library import writes_plain_rows
from ledger.adapters.store.rows import (
    Row,
    Staged,
    StagedPlan,
    entry_row,
    linked_rows,
    receipt_row,
    stage,
)
from ledger.domain.events import EntryRecorded, ReceiptIssued
from ledger.domain.recording import AppendPlan, Links


class CopyAppend:
    """Rows of events and staged plans, and their append by COPY (PostgreSQL only)."""

    def __init__(self, recorder: PostgresProcessRecorder, mapper: Mapper[UUID]) -> None:
        self._recorder = recorder
        self._mapper = mapper
        #: Whether entries and receipts are mapped (and plans staged) directly.
        self.plain_rows = writes_plain_rows(mapper)
        self._copy = copy_events(recorder)

    def stage(self, plans: Sequence[AppendPlan]) -> list[Staged]:
        if self.plain_rows:
            return [stage(plan) for plan in plans]
        return list(plans)

    def linked_rows(
        self,
        staged: Sequence[Staged],
        links: Sequence[Links],
        now: datetime,
        others: Sequence[DomainEventProtocol[Any]],
    ) -> list[Row]:
        """The rows of staged plans (entries and receipts), then of `others`."""
        rows: list[Row] = []
        for item, link in zip(staged, links, strict=True):
            assert isinstance(item, StagedPlan)
            rows += linked_rows(item, link, now)
        rows += [self.row(event) for event in others]
        return rows

    def row(self, event: DomainEventProtocol[Any]) -> Row:
        """The row of an event: entries and receipts (two rows per ingested event) by
        their direct mapping when the store encodes plainly, anything else by the mapper.
        """
        kind = type(event)
        if self.plain_rows and kind is EntryRecorded:
            stored = entry_row(cast(EntryRecorded, event))
        elif self.plain_rows and kind is ReceiptIssued:
            stored = receipt_row(cast(ReceiptIssued, event))
        else:
            stored = self._mapper.to_stored_event(event)
        return (cast(UUID, stored.originator_id), stored.originator_version, stored.topic,
                stored.state)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def append(self, rows: Sequence[Row], trackings: Sequence[Tracking]) -> None:
        """The library's PostgreSQL insert, with the rows sent by binary COPY.

        Same transaction, same statements and order as `PostgresProcessRecorder.insert_events`
        (tracking upsert, `LOCK TABLE ... IN EXCLUSIVE MODE` so notification ids follow commit
        order, `NOTIFY` for subscribers, then the rows), and the same retry on connection
        errors. Only the rows travel differently: the library sends one array of composite
        values, which psycopg escapes as text in Python (two thirds of the ledger's append
        time, measured with pyinstrument); binary COPY sends them as they are. A duplicate
        key still fails the whole transaction with an IntegrityError, at the end of the COPY.
        """
        with self._recorder.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            _as_the_library_begins(self._recorder, curs, trackings, bool(rows))
            if rows:
                with curs.copy(self._copy) as out:
                    out.set_types(["uuid", "int8", "text", "bytea"])
                    for row in rows:
                        out.write_row(row)


def _as_the_library_begins(
    recorder: PostgresProcessRecorder,
    curs: Cursor[DictRow],
    trackings: Sequence[Tracking],
    has_rows: bool,
) -> None:
    """What `insert_events` does before inserting its rows, by the recorder's own methods
    (its tracking insert once per reader: a derivation round records several tenants').

    The one place that reaches into the library's private recorder methods: they hold
    its tracking-table checks and statements, the table lock and the channel name, which
    an append beside the library must issue exactly as the library would.
    """
    for tracking in trackings:
        recorder._insert_tracking(curs, tracking)
    if has_rows:
        recorder._lock_table(curs)
        recorder._notify_channel(curs)
