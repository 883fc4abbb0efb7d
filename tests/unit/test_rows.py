"""Rows written directly are byte for byte what the library's mapper would store, so the
store reads them back through the mapper (and verification recomputes them) unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from ledger.adapters.store import OrjsonTranscoder
from ledger.adapters.store.rows import entry_row, linked_rows, receipt_row, stage
from ledger.domain.chain import GENESIS_HASH
from ledger.domain.envelope import Envelope
from ledger.domain.events import EntryRecorded, ReceiptIssued
from ledger.domain.recording import LedgerHead, plan_appends
from tests.support.envelopes import envelope

NOW = datetime(2026, 3, 2, 2, 0, 0, 123456, tzinfo=UTC)


class _Mapped(Application[Any]):
    def construct_transcoder(self) -> OrjsonTranscoder:
        return OrjsonTranscoder()


def _mapper() -> Any:
    return _Mapped({"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper


def env(event_id: str, **data: object) -> Envelope:
    return Envelope.from_validated(envelope(event_id, **data), "case:SO-1001")


texts = st.text(min_size=0, max_size=8)


@given(
    ids=st.lists(st.sampled_from(["a", "b", "c", "d", "é", "ü"]), min_size=1, max_size=8),
    note=texts,
    position=st.integers(min_value=0, max_value=2**40),
)
def test_linked_rows_are_the_mappers_rows_of_the_decided_events(
    ids: list[str], note: str, position: int
) -> None:
    batch = [(i, env(event_id, payload={"note": note})) for i, event_id in enumerate(ids)]
    plan = plan_appends("acme", batch, {})
    links = plan.link(LedgerHead("acme", position, "ab" * 32 if position else GENESIS_HASH))
    mapper = _mapper()
    expected = [mapper.to_stored_event(event) for event in plan.events(links, NOW)]
    rows = list(linked_rows(stage(plan), links, NOW))
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (s.originator_id, s.originator_version, s.topic, s.state) for s in expected
    ]


def test_direct_rows_are_the_mappers_rows() -> None:
    plan = plan_appends("acme", [(0, env("a")), (1, env("b"))], {})
    events = plan.events(plan.link(LedgerHead("acme")), NOW)
    mapper = _mapper()
    for event in events:
        direct = entry_row(event) if isinstance(event, EntryRecorded) else None
        if isinstance(event, ReceiptIssued):
            direct = receipt_row(event)
        assert direct == mapper.to_stored_event(event)


def received(event_id: str, text: str | None) -> Envelope:
    return Envelope.from_validated(envelope(event_id), "case:SO-1001", text)


@given(
    texts=st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=6),
    position=st.integers(min_value=0, max_value=2**40),
)
def test_linked_rows_with_received_texts_are_the_mappers_rows(
    texts: list[str | None], position: int
) -> None:
    batch = [(i, received(f"e{i}", text)) for i, text in enumerate(texts)]
    plan = plan_appends("acme", batch, {})
    links = plan.link(LedgerHead("acme", position, "ab" * 32 if position else GENESIS_HASH))
    mapper = _mapper()
    events = plan.events(links, NOW)
    rows = list(linked_rows(stage(plan), links, NOW))
    assert rows == [(s.originator_id, s.originator_version, s.topic, s.state)
                    for s in map(mapper.to_stored_event, events)]
    for event in events:
        if isinstance(event, EntryRecorded):
            assert entry_row(event) == mapper.to_stored_event(event)


def test_an_entry_without_received_text_is_stored_exactly_as_before_the_field_existed() -> None:
    plan = plan_appends("acme", [(0, env("a"))], {})
    entry = plan.events(plan.link(LedgerHead("acme")), NOW)[0]
    assert isinstance(entry, EntryRecorded)
    state = orjson.loads(entry_row(entry).state)
    assert list(state) == ["timestamp", "tenant", "kind", "stream", "envelope", "digest",
                           "prev_hash", "entry_hash"]
    assert orjson.loads(_mapper().to_stored_event(entry).state) == state


def test_an_entry_stored_before_the_field_existed_loads_without_received_text() -> None:
    plan = plan_appends("acme", [(0, env("a"))], {})
    entry = plan.events(plan.link(LedgerHead("acme")), NOW)[0]
    mapper = _mapper()
    loaded = mapper.to_domain_event(mapper.to_stored_event(entry))
    assert isinstance(loaded, EntryRecorded)
    assert loaded.received is None and loaded == entry


def test_received_text_is_stored_before_the_hashes_and_loads_back_unchanged() -> None:
    text = '{ "tenant" : "acme", "note": "\\u4e2d" }'
    plan = plan_appends("acme", [(0, received("a", text))], {})
    entry = plan.events(plan.link(LedgerHead("acme")), NOW)[0]
    assert isinstance(entry, EntryRecorded)
    state = orjson.loads(entry_row(entry).state)
    assert list(state)[-3:] == ["received", "prev_hash", "entry_hash"]
    assert state["received"] == text
    mapper = _mapper()
    loaded = mapper.to_domain_event(mapper.to_stored_event(entry))
    assert isinstance(loaded, EntryRecorded) and loaded.received == text


def test_received_text_changes_neither_the_digest_nor_the_hash_chain() -> None:
    plain = plan_appends("acme", [(0, env("a")), (1, env("b"))], {})
    texts = plan_appends("acme", [(0, received("a", ' {"x": 1} ')),
                                  (1, received("b", "[]"))], {})
    head = LedgerHead("acme", 7, "cd" * 32)
    assert plain.link(head) == texts.link(head)
    assert [e.digest for _, e in plain.appends] == [e.digest for _, e in texts.appends]
