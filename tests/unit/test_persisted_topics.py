"""The topics stored with every event ("module:Class") are part of the storage format.

A class that moves or is renamed would leave every stored event under a topic that no
longer resolves (and every query filtering by topic empty), so each stored topic is
pinned here, exactly; a move must go through ledger/adapters/topics.py.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import eventsourcing.utils
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import TopicError, get_topic, resolve_topic

from consumers.dead_letters import DeadLetterRecorded, DeadLetterResolved
from ledger.adapters.signing import Signer
from ledger.adapters.store import EventStore
from ledger.adapters.topics import MOVED, register_moved
from ledger.adapters.validation import EventValidator
from ledger.application.recording import Ledger
from ledger.application.sealing import Sealer
from ledger.application.tokens import AuditTrail, TokenService
from ledger.config import Settings
from ledger.domain.access import EvidenceRead, Principal, Role, TokenIssued, TokenRevoked
from ledger.domain.checkpoint import CheckpointCosigned, CheckpointSigned, SigningKeyAnnounced
from ledger.domain.events import EntryRecorded, ReceiptIssued
from ledger.resources import WORKED_EXAMPLES
from tests.support.clock import FixedClock
from tests.support.envelopes import make_envelope

PERSISTED: dict[str, type] = {
    "ledger.domain.events:EntryRecorded": EntryRecorded,
    "ledger.domain.events:ReceiptIssued": ReceiptIssued,
    "ledger.domain.access:TokenIssued": TokenIssued,
    "ledger.domain.access:TokenRevoked": TokenRevoked,
    "ledger.domain.access:EvidenceRead": EvidenceRead,
    "ledger.domain.checkpoint:CheckpointSigned": CheckpointSigned,
    "ledger.domain.checkpoint:CheckpointCosigned": CheckpointCosigned,
    "ledger.domain.checkpoint:SigningKeyAnnounced": SigningKeyAnnounced,
    "consumers.dead_letters:DeadLetterRecorded": DeadLetterRecorded,
    "consumers.dead_letters:DeadLetterResolved": DeadLetterResolved,
}


@pytest.mark.parametrize("topic", sorted(PERSISTED))
def test_a_persisted_event_class_is_stored_under_its_pinned_topic(topic: str) -> None:
    assert get_topic(PERSISTED[topic]) == topic
    assert resolve_topic(topic) is PERSISTED[topic]


def test_no_persisted_class_has_moved_so_no_old_topic_is_aliased() -> None:
    assert dict(MOVED) == {}


def test_a_store_in_use_writes_no_topic_beyond_the_pinned_ones(tmp_path: Path) -> None:
    """Events ingested (the worked examples), a token issued and revoked, an evidence read
    and a checkpoint: every topic the store then holds is pinned above."""
    store, clock = EventStore(Settings(home=tmp_path, database_url=None)), FixedClock()
    try:
        ledger = Ledger(store, EventValidator(), clock)
        lines = WORKED_EXAMPLES.read_bytes().splitlines()
        ledger.record([orjson.loads(line) for line in lines if line.strip()])
        tokens = TokenService(store, clock)
        token_id = tokens.create("acme", Role.AUDITOR, None, "test").split("_")[1]
        tokens.revoke(token_id, "test")
        principal = Principal(token_id, "acme", Role.AUDITOR)
        AuditTrail(store, clock).record(principal, "/v1/cases/{case_id}/chain", "SO-1001", "")
        signer = Signer("k", Ed25519PrivateKey.generate())
        assert Sealer(store, signer, clock, 4, timedelta(hours=1)).seal("acme") is not None
    finally:
        store.close()
    with closing(sqlite3.connect(tmp_path / "ledger.sqlite")) as db:
        stored = {topic for (topic,) in db.execute("SELECT DISTINCT topic FROM stored_events")}

    assert stored <= set(PERSISTED)
    assert {"ledger.domain.events:EntryRecorded", "ledger.domain.access:EvidenceRead",
            "ledger.domain.checkpoint:CheckpointSigned"} <= stored


def test_an_event_stored_under_an_old_topic_loads_once_the_old_topic_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private topic cache, so the alias does not outlive the test.
    monkeypatch.setattr(eventsourcing.utils, "_topic_cache", {})
    old_topic = "ledger.receipts:ReceiptIssued"
    store = EventStore(Settings(home=tmp_path, database_url=None))
    try:
        Ledger(store, EventValidator(), FixedClock()).record([make_envelope("a")])
        receipt = next(store.events_of_topic(get_topic(ReceiptIssued)))
        assert isinstance(receipt, ReceiptIssued)
        [written] = store.recorder.select_events(receipt.originator_id)
        stream = uuid4()  # the receipt again, as a store written before the move holds it
        store.recorder.insert_events([StoredEvent(stream, 1, old_topic, written.state)])

        with pytest.raises(TopicError):
            store.stream_events(stream)
        register_moved({old_topic: ReceiptIssued})
        [loaded] = store.stream_events(stream)
    finally:
        store.close()

    assert isinstance(loaded, ReceiptIssued)
    assert (loaded.event_id, loaded.position) == (receipt.event_id, receipt.position)
