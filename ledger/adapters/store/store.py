"""The ledger's event store on the eventsourcing library (SQLite or PostgreSQL).

Entries, receipts and (for Kafka ingest) tracking records go through the library's
process recorder, so each batch and its read position commit in one transaction; on
PostgreSQL the rows travel by binary COPY (`copy_append`). Reads are `StoreReads`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, cast

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProcessRecorder,
    Tracking,
)
from eventsourcing.postgres import PostgresProcessRecorder

from ledger.adapters.store.copy_append import CopyAppend
from ledger.adapters.store.library import LedgerApplication
from ledger.adapters.store.locks import one_schema_change_at_a_time, writer_turn
from ledger.adapters.store.many import ManyStreams
from ledger.adapters.store.reads import StoreReads
from ledger.adapters.store.rows import Row, Staged, StagedPlan
from ledger.config import Settings
from ledger.domain.events import EntryRecorded, ledger_stream_id
from ledger.domain.recording import AppendPlan, LedgerHead, Links
from ledger.errors import LedgerError


class AppendConflict(LedgerError):
    """Another writer appended first (or took a key first); reload and decide again."""

    code = "append-conflict"
    retryable = True


class StoreUnavailable(LedgerError):
    """The database did not take the append in time (a lock it waited for too long, a
    broken or refused connection); nothing was stored, and the same append may succeed."""

    code = "store-unavailable"
    retryable = True


class EventStore(StoreReads):
    """Reads and appends ledger entries; one instance per process, thread-safe."""

    def __init__(self, settings: Settings) -> None:
        env = settings.eventsourcing_env()
        with one_schema_change_at_a_time(settings.database_url):
            self._app = LedgerApplication(settings.store_name, env)
        super().__init__(cast(ProcessRecorder, self._app.recorder), self._app.mapper)
        self._store_name = settings.store_name
        recorder = self._app.recorder
        self._postgres = recorder if isinstance(recorder, PostgresProcessRecorder) else None
        self.is_postgres = self._postgres is not None
        #: PostgreSQL's appends by COPY (None on SQLite, where the library inserts).
        self._copy = (
            CopyAppend(self._postgres, self._app.mapper) if self._postgres is not None else None
        )
        self._many = ManyStreams(self._postgres) if self._postgres is not None else None

    def entries_of(self, positions: dict[str, int], limit: int) -> dict[str, list[EntryRecorded]]:
        """Up to `limit` entries of each tenant's ledger after its position (one round trip
        on PostgreSQL, `many`)."""
        if self._many is None or len(positions) < 2:
            return {t: self.entries(t, after, limit) for t, after in positions.items()}
        tenants = {ledger_stream_id(t): t for t in positions}
        found: dict[str, list[EntryRecorded]] = {t: [] for t in positions}
        for stored in self._many.after({s: positions[t] for s, t in tenants.items()}, limit):
            entry = self._entry(stored)
            found[tenants[entry.originator_id]].append(entry)
        return found

    def heads(self, tenants: Iterable[str]) -> dict[str, LedgerHead]:
        """Where each tenant's ledger ends (one round trip on PostgreSQL, `many`)."""
        chosen = list(tenants)
        if self._many is None or len(chosen) < 2:
            return {t: self.head(t) for t in chosen}
        heads = {t: LedgerHead(t) for t in chosen}
        by_stream = {ledger_stream_id(t): t for t in chosen}
        for stored in self._many.last(by_stream):
            entry = self._entry(stored)
            tenant = by_stream[entry.originator_id]
            heads[tenant] = LedgerHead(tenant, entry.position, entry.entry_hash)
        return heads

    @property
    def name(self) -> str:
        """The store's name (LEDGER_STORE_NAME): the prefix of its tables and locks."""
        return self._store_name

    def close(self) -> None:
        self._app.close()

    def append(
        self, events: Sequence[DomainEventProtocol[Any]], tracking: Tracking | None = None
    ) -> None:
        """Store events (and the reader's position) in one transaction, or none of them."""
        if self._copy is not None:
            self._append_rows([self._copy.row(event) for event in events],
                              () if tracking is None else (tracking,))
            return
        try:
            self._app.events.put(list(events), tracking=tracking)
        except IntegrityError as exc:
            raise AppendConflict(str(exc)) from exc
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    def stage(self, plans: Sequence[AppendPlan]) -> list[Staged]:
        """Encode what the plans' rows can hold before their positions are known, for
        `append_linked` (done before a writer takes its turn; a no-op where rows are not
        written directly)."""
        if self._copy is not None:
            return self._copy.stage(plans)
        return list(plans)

    def append_linked(
        self,
        staged: Sequence[Staged],
        links: Sequence[Links],
        now: datetime,
        others: Sequence[DomainEventProtocol[Any]] = (),
        trackings: Sequence[Tracking] = (),
    ) -> None:
        """Store linked plans' entries and receipts, then `others`, with the readers'
        positions, in one transaction (`append`'s contract, from staged plans). Several
        positions only where `tracks_many`."""
        if self._copy is None or not self._copy.plain_rows:
            if len(trackings) > 1:
                raise ValueError("this store records one reader's position per append")
            events: list[DomainEventProtocol[Any]] = []
            for item, link in zip(staged, links, strict=True):
                plan = item.plan if isinstance(item, StagedPlan) else item
                events += plan.events(link, now)
            self.append([*events, *others], trackings[0] if trackings else None)
            return
        self._append_rows(self._copy.linked_rows(staged, links, now, others), trackings)

    @property
    def tracks_many(self) -> bool:
        """Whether one append can record several readers' positions (PostgreSQL's COPY
        appends: a derivation round records every tenant it derived at once)."""
        return self._copy is not None and self._copy.plain_rows

    def writer_lock(self, tenants: Iterable[str]) -> AbstractContextManager[bool]:
        """Hold, across processes, the turn to append to these tenants' ledgers; yields
        whether it is held (`locks.writer_turn`; never on SQLite)."""
        datastore = self._postgres.datastore if self._postgres is not None else None
        return writer_turn(datastore, self._store_name, tenants)

    def _append_rows(self, rows: Sequence[Row], trackings: Sequence[Tracking]) -> None:
        assert self._copy is not None
        try:
            self._copy.append(rows, trackings)
        except IntegrityError as exc:
            raise AppendConflict(str(exc)) from exc
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailable(str(exc)) from exc
