"""What the ledger stores. Immutable, past tense, each carrying who/when.

They follow eventsourcing's DomainEventProtocol (originator_id, originator_version,
timestamp), so the library's mapper and recorders store them, but they are plain frozen
dataclasses of JSON-native values: the envelope is evidence and must round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.domain.envelope import derived_uuid


def ledger_stream_id(tenant: str) -> UUID:
    """Each tenant's ledger is one stream: its versions are the tenant's positions."""
    return derived_uuid("ledger", tenant)


@dataclass(frozen=True)
class EntryRecorded:
    """An event was appended to a tenant's ledger at `originator_version` (its position)."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    tenant: str
    kind: str
    stream: str
    envelope: dict[str, Any]
    digest: str
    #: The event's UTF-8 text exactly as it arrived (whitespace, key order, escapes), when
    #: the ingest path had one; `envelope` is its value and `digest` hashes that value.
    #: Before the hashes, so the store encodes it with the entry's other position-free
    #: fields, ahead of the writer's turn (ledger/adapters/store/rows.py).
    received: str | None = field(default=None, kw_only=True)
    prev_hash: str
    entry_hash: str

    def __post_init__(self) -> None:
        # Absent rather than null in the stored state, so entries without it are stored
        # byte for byte as before the field existed (the class default reads as None).
        if self.received is None:
            object.__delattr__(self, "received")

    @property
    def position(self) -> int:
        return self.originator_version

    @property
    def event_id(self) -> str:
        return str(self.envelope["id"])

    @property
    def source(self) -> str:
        return str(self.envelope["source"])


@dataclass(frozen=True)
class ReceiptIssued:
    """The idempotency key (tenant, source, id) was taken by the entry at `position`.

    Stored as version 1 of a stream named by the key, so the store's own uniqueness
    constraint makes a second recording of the same key impossible, even under races.
    """

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    tenant: str
    source: str
    event_id: str
    digest: str
    position: int


ENTRY_KIND_INBOUND = "inbound"
ENTRY_KIND_DERIVED = "derived"
