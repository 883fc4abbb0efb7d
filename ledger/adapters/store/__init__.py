"""The ledger's event store: `EventStore` (appends and the `StoreReads` read API).

Modules: `store` (the facade), `reads` (what callers read), `copy_append` (PostgreSQL
appends by COPY), `rows` (rows encoded directly), `dialects` (SQL for SQLite and
PostgreSQL), `locks` (the writer's turn, the schema lock), `library` (the eventsourcing
library's application).
"""

from ledger.adapters.store.library import OrjsonTranscoder
from ledger.adapters.store.reads import StoreReads
from ledger.adapters.store.rows import ENTRY_TOPIC, RECEIPT_TOPIC, Staged
from ledger.adapters.store.store import AppendConflict, EventStore, StoreUnavailable

__all__ = [
    "ENTRY_TOPIC",
    "RECEIPT_TOPIC",
    "AppendConflict",
    "EventStore",
    "OrjsonTranscoder",
    "Staged",
    "StoreReads",
    "StoreUnavailable",
]
