"""Several processes start side by side (consumers, API workers): their stores open at once."""

from __future__ import annotations

import threading
import uuid

import pytest

from ledger.adapters.store import EventStore
from ledger.config import Settings
from tests.support.services import drop_store_tables, postgres_url

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("round_", range(3))
def test_stores_opened_at_the_same_moment_all_open(round_: int) -> None:
    """The library creates its tables and a function shared by every store of the schema
    (CREATE OR REPLACE FUNCTION) on start; two sessions doing it at once used to fail with
    PostgreSQL's "tuple concurrently updated", killing a consumer at start-up."""
    url = postgres_url()
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    starters = 6
    barrier = threading.Barrier(starters)
    errors: list[BaseException] = []
    opened: list[EventStore] = []

    def open_store(name: str) -> None:
        barrier.wait()
        try:
            opened.append(EventStore(Settings(database_url=url, store_name=name,
                                              db_pool_size=1)))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(names[i % 2],))
               for i in range(starters)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(opened) == starters
    finally:
        for store in opened:
            store.close()
        for name in names:
            drop_store_tables(url, name)
