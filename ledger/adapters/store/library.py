"""The eventsourcing library's application, configured for the ledger.

The store uses it for its recorder (SQLite or PostgreSQL), its mapper and its
notification log; the ledger's own aggregates are not the library's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    ProcessRecorder,
    Transcoder,
)

from ledger.domain.events import EntryRecorded


class OrjsonTranscoder(Transcoder):
    """orjson in and out; only `timestamp` needs reviving, every other field is JSON-native."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        state = orjson.loads(data)
        if isinstance(state, dict) and isinstance(state.get("timestamp"), str):
            state["timestamp"] = datetime.fromisoformat(state["timestamp"])
        return state


class LedgerApplication(Application[UUID]):
    """The library's application, used for its recorder, mapper and notification log."""

    def __init__(self, store_name: str, env: dict[str, str]) -> None:
        # The library names tables after the application (Postgres: <name>_events).
        self.name = store_name
        super().__init__(env)

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()


def writes_plain_rows(mapper: Mapper[UUID]) -> bool:
    """Whether the direct row mappings (`rows`) write what this mapper would: only with
    the plain orjson transcoder and no compression or encryption configured."""
    return (
        isinstance(mapper.transcoder, OrjsonTranscoder)
        and mapper.compressor is None
        and mapper.cipher is None
    )


def plain_entry(originator_id: UUID, version: int, state: bytes) -> EntryRecorded:
    """An entry's row decoded as the mapper decodes it (same object, same attribute dict in
    the same order), without its per-row topic resolution and id conversion: the rows
    every projection and every catch-up reads. Only for a `writes_plain_rows` mapper."""
    try:
        fields = orjson.loads(state)
        fields["timestamp"] = datetime.fromisoformat(fields["timestamp"])
    except Exception as e:
        raise MapperDeserialisationError(
            f"Failed to deserialise state of stored event with topic 'EntryRecorded', "
            f"originator_id '{originator_id}' and originator_version {version}: {e}") from e
    fields["originator_id"] = originator_id
    fields["originator_version"] = version
    fields.pop("class_version", None)
    entry = object.__new__(EntryRecorded)
    object.__setattr__(entry, "__dict__", fields)
    return entry
