"""The pure decision: what a batch does to a tenant's ledger, with no store and no clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.domain.chain import GENESIS_HASH, entry_hash
from ledger.domain.envelope import Envelope, derived_uuid
from ledger.domain.events import EntryRecorded, ReceiptIssued
from ledger.domain.recording import LedgerHead, Status, decide_appends, plan_appends
from tests.support.envelopes import envelope

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def env(event_id: str, **data: object) -> Envelope:
    received = envelope(event_id, **data)
    return Envelope.from_validated(received, "case:SO-1001")


def test_first_entry_chains_from_genesis() -> None:
    decision = decide_appends(LedgerHead("acme"), [(0, env("a"))], {}, NOW)
    entry, receipt = decision.events
    assert isinstance(entry, EntryRecorded) and isinstance(receipt, ReceiptIssued)
    assert entry.position == 1 and entry.prev_hash == GENESIS_HASH
    assert entry.entry_hash == entry_hash(GENESIS_HASH, 1, entry.digest)
    assert receipt.position == 1 and receipt.originator_version == 1
    assert decision.head == LedgerHead("acme", 1, entry.entry_hash)


def test_appends_continue_from_the_head() -> None:
    head = LedgerHead("acme", 41, "ab" * 32)
    decision = decide_appends(head, [(0, env("a")), (1, env("b"))], {}, NOW)
    positions = [e.originator_version for e in decision.events if isinstance(e, EntryRecorded)]
    assert positions == [42, 43]


def test_a_recorded_key_with_identical_content_is_a_duplicate() -> None:
    first = decide_appends(LedgerHead("acme"), [(0, env("a"))], {}, NOW)
    receipt = first.events[1]
    assert isinstance(receipt, ReceiptIssued)
    again = decide_appends(first.head, [(0, env("a"))], {env("a").key: receipt}, NOW)
    assert again.events == []
    assert again.outcomes[0].status is Status.DUPLICATE and again.outcomes[0].position == 1


def test_a_recorded_key_with_other_content_is_a_conflict_naming_the_position() -> None:
    first = decide_appends(LedgerHead("acme"), [(0, env("a"))], {}, NOW)
    receipt = first.events[1]
    assert isinstance(receipt, ReceiptIssued)
    other = env("a", payload={"return_days": 1})
    again = decide_appends(first.head, [(5, other)], {other.key: receipt}, NOW)
    (outcome,) = again.outcomes
    assert outcome.status is Status.REJECTED and outcome.index == 5
    assert outcome.reasons[0].rule == "idempotency_conflict"
    assert "position 1" in outcome.reasons[0].message


def test_receipt_ids_cannot_collide_through_separator_characters() -> None:
    assert derived_uuid("receipt", "acme", "a#b", "c") != derived_uuid(
        "receipt", "acme", "a", "b#c"
    )


def test_an_envelope_of_another_tenant_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="tenant"):
        decide_appends(LedgerHead("globex"), [(0, env("a"))], {}, NOW)


def test_the_decision_is_deterministic() -> None:
    batch = [(i, env(f"e{i}")) for i in range(10)]
    one = decide_appends(LedgerHead("acme"), batch, {}, NOW)
    two = decide_appends(LedgerHead("acme"), batch, {}, NOW)
    assert one.events == two.events and one.outcomes == two.outcomes


def test_a_key_repeated_in_one_batch_is_a_duplicate_of_its_first_append() -> None:
    head = LedgerHead("acme", 9, "ab" * 32)
    decision = decide_appends(head, [(0, env("x")), (1, env("a")), (2, env("a"))], {}, NOW)
    assert [(o.status, o.position) for o in decision.outcomes] == [
        (Status.RECORDED, 10), (Status.RECORDED, 11), (Status.DUPLICATE, 11)]


def test_a_conflict_within_one_batch_names_the_position_its_key_took() -> None:
    other = env("a", payload={"return_days": 1})
    plan = plan_appends("acme", [(0, env("a")), (1, other)], {})
    (conflict,) = plan.conflicts(plan.link(LedgerHead("acme", 4, "ab" * 32)))
    assert conflict.index == 1 and "position 5" in conflict.reasons[0].message


def test_a_plan_needs_no_head_and_links_to_whichever_it_finds() -> None:
    plan = plan_appends("acme", [(0, env("a")), (1, env("b"))], {})
    early, late = plan.link(LedgerHead("acme")), plan.link(LedgerHead("acme", 7, "cd" * 32))
    assert [o.position for o in plan.outcomes(early)] == [1, 2]
    assert [o.position for o in plan.outcomes(late)] == [8, 9]
    assert late.end == LedgerHead("acme", 9, late.hashes[-1])
    assert late.hashes[0] == entry_hash("cd" * 32, 8, env("a").digest)
