"""Derived ids are fixed forever: stores written before any rewrite must still be found."""

from __future__ import annotations

from uuid import UUID, uuid5

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.envelope import LEDGER_NAMESPACE, IdempotencyKey, derived_uuid


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_derived_ids_are_uuid5_of_the_parts_as_a_json_array(parts: list[str]) -> None:
    expected = uuid5(LEDGER_NAMESPACE, orjson.dumps(parts).decode())
    assert derived_uuid.__wrapped__(*parts) == expected


def test_a_receipt_id_is_pinned() -> None:
    key = IdempotencyKey("acme", "erp/orders", "so-1001-submitted")
    assert key.receipt_id == UUID(str(uuid5(
        LEDGER_NAMESPACE, '["receipt","acme","erp/orders","so-1001-submitted"]')))


def test_parts_never_run_together() -> None:
    assert derived_uuid("a#b", "c") != derived_uuid("a", "b#c")
