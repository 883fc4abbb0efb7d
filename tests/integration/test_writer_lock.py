"""Writers of one tenant in different processes take turns (PostgreSQL advisory lock)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from ledger.adapters.store import EventStore, locks
from ledger.config import Settings
from tests.support.services import drop_store_tables, postgres_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_stores() -> Iterator[tuple[EventStore, EventStore]]:
    """Two processes' stores on one PostgreSQL store (SQLite serializes writes itself)."""
    url = postgres_url()
    settings = Settings(database_url=url, store_name=f"t_{uuid.uuid4().hex[:12]}",
                        db_pool_size=2)
    first, second = EventStore(settings), EventStore(settings)
    yield first, second
    first.close()
    second.close()
    drop_store_tables(url, settings.store_name)


def test_a_second_writer_gets_the_turn_the_moment_the_first_ends(
    two_stores: tuple[EventStore, EventStore],
) -> None:
    first, second = two_stores
    got: list[tuple[bool, float]] = []

    def wait_for_turn() -> None:
        with second.writer_lock(["acme"]) as held:
            got.append((held, time.monotonic()))

    with first.writer_lock(["acme"]) as held_first:
        assert held_first
        waiter = threading.Thread(target=wait_for_turn)
        waiter.start()
        time.sleep(0.3)
        assert got == [], "the second writer waits while the first holds the turn"
        released_at = time.monotonic()
    waiter.join(10)
    ((held_second, at),) = got
    assert held_second and at - released_at < 0.25


def test_other_tenants_do_not_wait(two_stores: tuple[EventStore, EventStore]) -> None:
    first, second = two_stores
    with first.writer_lock(["acme"]), second.writer_lock(["globex"]) as held:
        assert held


def test_a_writer_that_waits_too_long_goes_on_without_the_turn(
    two_stores: tuple[EventStore, EventStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is an optimisation only: the store's unique keys keep positions safe."""
    first, second = two_stores
    monkeypatch.setattr(locks, "WRITER_LOCK_WAIT_S", 0.2)
    with first.writer_lock(["acme"]):
        started = time.monotonic()
        with second.writer_lock(["acme"]) as held:
            assert not held
        assert time.monotonic() - started < 5
    with second.writer_lock(["acme"]) as held:
        assert held, "the connection that timed out still takes the turn later"
