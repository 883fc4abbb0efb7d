"""The ledger's recording rules (docs/domain-rules.md, Envelope), on SQLite and on real
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from eventsourcing.persistence import Tracking

from ledger.application.recording import Ledger
from ledger.domain.chain import GENESIS_HASH, entry_hash
from ledger.domain.envelope import content_digest
from ledger.domain.events import ledger_stream_id
from tests.support.clock import FixedClock
from tests.support.envelopes import envelope


def statuses(outcomes: list) -> list[str]:  # type: ignore[type-arg]
    return [o.status.value for o in outcomes]


def test_new_events_are_recorded_at_the_next_positions(ledger: Ledger) -> None:
    outcomes = ledger.record([envelope("a"), envelope("b")])
    assert statuses(outcomes) == ["recorded", "recorded"]
    assert [o.position for o in outcomes] == [1, 2]
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]


def test_identical_redelivery_is_a_duplicate_and_records_nothing(ledger: Ledger) -> None:
    ledger.record([envelope("a")])
    again = ledger.record([envelope("a")])
    assert statuses(again) == ["duplicate"]
    assert again[0].position == 1
    assert len(ledger.store.entries("acme")) == 1


def test_same_key_with_different_content_is_an_idempotency_conflict(ledger: Ledger) -> None:
    ledger.record([envelope("a")])
    changed = ledger.record([envelope("a", payload={"return_days": 2})])
    assert statuses(changed) == ["rejected"]
    assert changed[0].reasons[0].rule == "idempotency_conflict"
    (entry,) = ledger.store.entries("acme")
    assert entry.envelope["data"]["payload"] == {"return_days": 7}, "never overwritten"


def test_a_key_repeated_within_one_batch_is_judged_against_the_first(ledger: Ledger) -> None:
    outcomes = ledger.record(
        [envelope("a"), envelope("a"), envelope("a", payload={"return_days": 1})]
    )
    assert statuses(outcomes) == ["recorded", "duplicate", "rejected"]
    assert len(ledger.store.entries("acme")) == 1


def test_a_redelivery_after_a_clean_stream_is_still_found_by_its_taken_key(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After appends that met no taken key the ledger stops reading receipts first; the
    store's unique key still refuses a taken one, and the batch is decided again."""
    reads: list[int] = []
    real = ledger.store.receipts
    monkeypatch.setattr(ledger.store, "receipts", lambda keys: reads.append(1) or real(keys))
    ledger.record([envelope("a")])
    ledger.record([envelope("b")])
    reads.clear()
    ledger.record([envelope("c")])
    assert reads == [], "a clean stream is not looked up"
    mixed = ledger.record([envelope("d"), envelope("a"), envelope("b", payload={"x": 1})])
    assert statuses(mixed) == ["recorded", "duplicate", "rejected"]
    assert [o.position for o in mixed] == [4, 1, None]
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b", "c", "d"]
    assert ledger.store.head("acme").position == 4


def test_one_bad_event_neither_blocks_nor_half_applies_the_others(ledger: Ledger) -> None:
    bad = envelope("bad")
    del bad["data"]["actor_id"]
    outcomes = ledger.record([envelope("a"), bad, "not an object", envelope("b")])
    assert statuses(outcomes) == ["recorded", "rejected", "rejected", "recorded"]
    assert outcomes[1].reasons[0].field == "data.actor_id"
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]


def test_the_envelope_is_kept_exactly_as_received(ledger: Ledger) -> None:
    sent = envelope("a", payload={"return_days": 7, "note": "七天无理由", "ratio": 0.1})
    sent["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ledger.record([sent])
    (entry,) = ledger.store.entries("acme")
    assert entry.envelope == sent
    assert entry.digest == content_digest(sent)


def test_the_same_id_from_two_sources_names_two_events(ledger: Ledger) -> None:
    outcomes = ledger.record([envelope("1", source="erp/orders"), envelope("1", source="crm")])
    assert statuses(outcomes) == ["recorded", "recorded"]


def test_tenants_never_share_positions_or_entries(ledger: Ledger) -> None:
    ledger.record([envelope("a", tenant="acme"), envelope("a", tenant="globex")])
    ledger.record([envelope("b", tenant="globex")])
    assert [e.position for e in ledger.store.entries("acme")] == [1]
    assert [e.event_id for e in ledger.store.entries("globex")] == ["a", "b"]
    assert all(e.tenant == "globex" for e in ledger.store.entries("globex"))


def test_each_entry_is_hash_chained_to_its_predecessor(ledger: Ledger) -> None:
    ledger.record([envelope("a"), envelope("b")])
    ledger.record([envelope("c")])
    prev = GENESIS_HASH
    for entry in ledger.store.entries("acme"):
        assert entry.prev_hash == prev
        assert entry.entry_hash == entry_hash(prev, entry.position, entry.digest)
        prev = entry.entry_hash


def test_recording_time_comes_from_the_injected_clock(ledger: Ledger, clock: FixedClock) -> None:
    clock.advance(timedelta(hours=5))
    ledger.record([envelope("a")])
    (entry,) = ledger.store.entries("acme")
    assert entry.timestamp == clock.now


def test_per_case_order_is_arrival_order(ledger: Ledger) -> None:
    ledger.record([envelope(f"e{i}", subject="SO-9") for i in range(5)])
    case = [e.event_id for e in ledger.store.entries("acme") if e.stream == "case:SO-9"]
    assert case == [f"e{i}" for i in range(5)]


def test_a_tracking_position_is_recorded_with_its_events(ledger: Ledger) -> None:
    ledger.record([envelope("a")], tracking=Tracking("kafka:ledger.events:3", 41))
    assert ledger.store.max_tracking_id("kafka:ledger.events:3") == 41
    ledger.record([envelope("a")], tracking=Tracking("kafka:ledger.events:3", 42))
    assert ledger.store.max_tracking_id("kafka:ledger.events:3") == 42, "even with no new events"


def test_concurrent_writers_never_record_a_key_twice(
    make_ledger: Callable[[], Ledger],
) -> None:
    """Separate ledgers on one store race over the same keys, as separate processes would."""
    writers = [make_ledger() for _ in range(3)]
    batches = [[envelope(f"k{i}") for i in range(j, j + 40)] for j in (0, 20, 30)]
    results: list[list[str]] = [[] for _ in writers]

    def run(i: int) -> None:
        for start in range(0, 40, 5):
            results[i] += statuses(writers[i].record(batches[i][start : start + 5]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(writers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = writers[0].store.entries("acme")
    ids = [e.event_id for e in entries]
    assert sorted(ids) == sorted({f"k{i}" for i in range(70)})
    assert len(ids) == len(set(ids)) == 70
    assert [e.position for e in entries] == list(range(1, 71))
    assert sum(r.count("recorded") for r in results) == 70


@pytest.mark.parametrize("count", [1, 250])
def test_a_batch_is_one_transaction(ledger: Ledger, count: int) -> None:
    outcomes = ledger.record([envelope(f"x{i}") for i in range(count)])
    assert statuses(outcomes) == ["recorded"] * count


def test_a_batch_whose_position_was_already_tracked_is_refused(ledger: Ledger) -> None:
    from ledger.application.recording import AlreadyTracked

    ledger.record([envelope("a")], tracking=Tracking("kafka:t:0", 10))
    with pytest.raises(AlreadyTracked):
        ledger.record([envelope("b")], tracking=Tracking("kafka:t:0", 10))
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a"], "nothing half-applied"


def test_entries_read_back_are_the_objects_the_librarys_mapper_would_make(
    ledger: Ledger,
) -> None:
    ledger.record([envelope(f"e{i}", subject=f"case-{i % 3}") for i in range(5)])
    store = ledger.store
    stored = store.stored_events(ledger_stream_id("acme"))
    assert stored
    for row, entry in zip(stored, store.entries("acme"), strict=True):
        by_mapper = store.decode(row)
        assert type(entry) is type(by_mapper)
        assert entry.__dict__ == by_mapper.__dict__
        assert list(entry.__dict__) == list(by_mapper.__dict__)
    by_position = [e for _, e in store.entry_notifications(0, 100)]
    assert [e.__dict__ for e in by_position] == [store.decode(r).__dict__ for r in stored]
