"""Verdicts do not depend on how derivation is spread over workers (both backends).

Hypothesis draws the number of workers, which worker holds which tenant in each round
(a rebalance moves a tenant to a worker whose memory of it is stale or empty), the batch
sizes of ingest and derivation, how many settled cases a worker keeps in memory (the rest
set aside and brought back when news reaches them), and how the tenants' streams
interleave on arrival; the
derived events of every case must be exactly those of one engine replaying the same
ledger in one go, none doubled.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.adapters.case_spill import CaseSpill
from ledger.adapters.store import EventStore
from ledger.adapters.validation import default_validator
from ledger.application.case_cache import CaseCache
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.config import Settings
from tests.fault.work_harness import derived_by_case, doubled, interleaved, tenant_stream
from tests.support.clock import FixedClock
from tests.support.scenario import LATENESS
from tests.support.services import drop_store_tables, postgres_url

TENANTS = ("north", "south", "east")
STREAMS = {t: tenant_stream(t, 24, seed=i) for i, t in enumerate(TENANTS)}


def _store_settings(backend: str, tmp: Path) -> Settings:
    if backend == "sqlite":
        return Settings(home=tmp / uuid.uuid4().hex, database_url=None)
    return Settings(database_url=postgres_url(), store_name=f"h_{uuid.uuid4().hex[:12]}",
                    db_pool_size=4)


def _ledger(store: Settings) -> Ledger:
    return Ledger(EventStore(store), default_validator(), FixedClock())


def _engine(ledger: Ledger, batch_size: int, cases: int | None = None) -> ResponsibilityEngine:
    cache = None if cases is None else CaseCache(CaseSpill(), cases)
    return ResponsibilityEngine(ledger, LATENESS, ledger.clock, batch_size=batch_size,
                                cases=cache)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[str]]]:
    """One engine, one process, the whole ledger in one go."""
    ledger = _ledger(_store_settings("sqlite", tmp_path_factory.mktemp("reference")))
    try:
        for events in STREAMS.values():
            ledger.record(events)
        _engine(ledger, 2000).run_until_idle()
        return {t: derived_by_case(ledger.store, t) for t in TENANTS}
    finally:
        ledger.store.close()


@pytest.fixture
def made(backend: str, tmp_path: Path) -> Iterator[list[Settings]]:
    """Stores made by the examples, dropped afterwards (PostgreSQL)."""
    stores: list[Settings] = []
    yield stores
    for store in stores:
        if store.database_url:
            drop_store_tables(store.database_url, store.store_name)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    workers=st.integers(min_value=1, max_value=4),
    chunk=st.integers(min_value=1, max_value=40),
    batch_sizes=st.lists(st.integers(min_value=1, max_value=64), min_size=4, max_size=4),
    cases=st.sampled_from([None, 0, 3]),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_verdicts_are_the_same_whatever_the_workers_batches_memory_and_arrival_order(
    backend: str, tmp_path: Path, made: list[Settings],
    reference: dict[str, dict[str, list[str]]],
    workers: int, chunk: int, batch_sizes: list[int], cases: int | None, seed: int,
) -> None:
    store = _store_settings(backend, tmp_path)
    made.append(store)
    ingest = _ledger(store)
    # Each worker is an engine of its own (its own connection and memory, as a process).
    engines = [_engine(_ledger(store), batch_sizes[i % len(batch_sizes)], cases)
               for i in range(workers)]
    rnd = random.Random(seed)
    try:
        for part in interleaved(STREAMS, chunk, seed):
            ingest.record(part)
            owner = {t: rnd.randrange(workers) for t in TENANTS}  # this round's assignment
            for index, engine in enumerate(engines):
                engine.mark_dirty({t for t, o in owner.items() if o == index})
                engine.run_dirty()
        last = engines[rnd.randrange(workers)]  # whoever holds everything at the end
        last.mark_dirty(set(TENANTS))
        while not last.idle:
            last.run_dirty()
        for tenant in TENANTS:
            got = derived_by_case(ingest.store, tenant)
            assert not doubled(ingest.store, tenant)
            assert {c: sorted(ids) for c, ids in got.items()} == \
                {c: sorted(ids) for c, ids in reference[tenant].items()}
    finally:
        for engine in engines:
            engine.store.close()
        ingest.store.close()
