"""Shared fixtures: one abstract ledger suite runs on SQLite and on the real PostgreSQL.

PostgreSQL comes from deploy/local (make test starts it and sets LEDGER_TEST_DATABASE_URL).
Without it the postgres tests fail, loudly, unless LEDGER_SKIP_SERVICES=1.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.adapters.store import EventStore
from ledger.adapters.validation import EventValidator
from ledger.application.recording import Ledger
from ledger.config import Settings
from tests.support.clock import FixedClock
from tests.support.services import drop_store_tables, postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Settings]:
    """Settings for a fresh, empty store on each backend."""
    if request.param == "sqlite":
        yield Settings(home=tmp_path, database_url=None)
        return
    url = postgres_url()
    store_name = f"t_{uuid.uuid4().hex[:12]}"
    yield Settings(database_url=url, store_name=store_name, db_pool_size=4)
    drop_store_tables(url, store_name)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def make_ledger(settings: Settings, clock: FixedClock) -> Iterator[Callable[[], Ledger]]:
    """Ledgers on the same store, as separate processes would have them."""
    made: list[Ledger] = []
    validator = EventValidator()

    def make() -> Ledger:
        ledger = Ledger(EventStore(settings), validator, clock)
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        ledger.store.close()


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    return make_ledger()

