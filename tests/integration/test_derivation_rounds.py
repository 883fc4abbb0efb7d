"""A derivation round records every tenant it derived at once, where the store can.

On PostgreSQL a round's derived events and the tenants' positions go in one transaction
(one append instead of one per tenant); on SQLite, whose library append records a single
reader's position, each tenant is recorded alone. Either way the verdicts are those of a
tenant-by-tenant run, and a tenant another worker derived first is read on, not doubled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from ledger.application.derivation import ResponsibilityEngine, derived_position, engine_reader
from ledger.application.recording import Ledger
from tests.fault.work_harness import derived_by_case, doubled, tenant_stream
from tests.support.scenario import LATENESS

TENANTS = ("north", "south", "east")


def _recorded(ledger: Ledger) -> list[int]:
    """Counts the derivation appends (one item per call: how many positions it carried)."""
    calls: list[int] = []
    original = ledger.record_derived

    def counted(envelopes: Any, tracking: Any) -> Any:
        calls.append(0 if tracking is None else 1 if isinstance(tracking, Tracking)
                     else len(tracking))
        return original(envelopes, tracking)

    ledger.record_derived = counted  # type: ignore[method-assign]
    return calls


def _fill(ledger: Ledger) -> None:
    for seed, tenant in enumerate(TENANTS):
        ledger.record(tenant_stream(tenant, 12, seed=seed))


def test_a_round_records_all_its_tenants_in_one_append_where_the_store_can(
    ledger: Ledger,
) -> None:
    _fill(ledger)
    engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock)
    calls = _recorded(ledger)

    engine.mark_dirty(set(TENANTS))
    engine.run_dirty()

    heads = {t: ledger.store.head(t).position for t in TENANTS}
    assert all(derived_position(ledger.store, t) > 0 for t in TENANTS)
    if ledger.store.tracks_many:
        assert calls == [3]
    else:
        assert calls == [1, 1, 1]
    assert all(heads[t] > len(tenant_stream(t, 12, seed=s)) for s, t in enumerate(TENANTS))


def test_verdicts_of_a_shared_round_are_those_of_one_tenant_at_a_time(
    make_ledger: Callable[[], Ledger],
) -> None:
    together, alone = make_ledger(), make_ledger()
    _fill(together)
    engine = ResponsibilityEngine(together, LATENESS, together.clock)
    engine.run_until_idle()
    shared = {t: derived_by_case(together.store, t) for t in TENANTS}

    for tenant in TENANTS:  # the same ledger again, each tenant derived on its own
        for events in derived_by_case(together.store, tenant).values():
            assert events
    one = ResponsibilityEngine(alone, LATENESS, alone.clock)
    for tenant in TENANTS:
        one.mark_dirty({tenant})
        while one.derive_tenant(tenant):
            pass
    assert {t: derived_by_case(alone.store, t) for t in TENANTS} == shared


def test_a_tenant_derived_elsewhere_first_is_read_on_and_the_others_are_recorded(
    make_ledger: Callable[[], Ledger],
) -> None:
    ledger = make_ledger()
    _fill(ledger)
    engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock)
    assert engine.assess("south", "SO-00000") is None  # south in its memory, not derived yet
    other = make_ledger()  # a rebalance: another worker derives south meanwhile
    ResponsibilityEngine(other, LATENESS, other.clock).derive_tenant("south")
    calls = _recorded(ledger)

    engine.mark_dirty(set(TENANTS))
    engine.run_until_idle()

    for tenant in TENANTS:
        assert doubled(ledger.store, tenant) == []
        assert derived_position(ledger.store, tenant) > 0
    assert ledger.store.max_tracking_id(engine_reader("south")) is not None
    assert calls  # what south's ledger already said is read, not said again


@pytest.mark.parametrize("tenants", [1, 3])
def test_a_round_with_nothing_new_records_nothing(ledger: Ledger, tenants: int) -> None:
    _fill(ledger)
    engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock)
    engine.run_until_idle()
    calls = _recorded(ledger)

    engine.mark_dirty(set(TENANTS[:tenants]))
    engine.run_dirty()

    assert calls == []


def test_several_ledgers_read_at_once_are_those_read_one_by_one(ledger: Ledger) -> None:
    _fill(ledger)
    ResponsibilityEngine(ledger, LATENESS, ledger.clock).run_until_idle()
    store = ledger.store
    after = {"north": 0, "south": 7, "east": 30, "nobody": 0}

    at_once = store.entries_of(after, 25)
    heads = store.heads([*TENANTS, "nobody"])

    for tenant, position in after.items():
        one = store.entries(tenant, position, 25)
        assert [e.position for e in at_once[tenant]] == [e.position for e in one]
        assert [e.entry_hash for e in at_once[tenant]] == [e.entry_hash for e in one]
        assert heads[tenant] == store.head(tenant)
