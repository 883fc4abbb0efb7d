"""Checkpoints stored before they were also signed notes still load (version 1 -> 2)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import orjson
from eventsourcing.persistence import StoredEvent

from ledger.adapters.store import EventStore
from ledger.config import Settings
from ledger.domain.checkpoint import CheckpointSigned

VERSION_1_STATE = {
    "timestamp": "2026-03-02T02:00:00+00:00",
    "tenant": "acme", "tree_size": 4, "root_hash": "00" * 32, "key_id": "k",
    "signature": "c2ln", "tiles": [],
}


def test_a_version_1_checkpoint_loads_without_a_note(tmp_path: Path) -> None:
    store = EventStore(Settings(home=tmp_path, database_url=None))
    try:
        stored = StoredEvent(uuid4(), 1, "ledger.domain.checkpoint:CheckpointSigned",
                             orjson.dumps(VERSION_1_STATE))
        checkpoint = store.decode(stored)
    finally:
        store.close()
    assert isinstance(checkpoint, CheckpointSigned)
    assert (checkpoint.origin, checkpoint.note_signature) == (None, None)
    assert checkpoint.tree_head() is None and checkpoint.tree_size == 4
