"""Shared fixtures: one abstract ledger suite runs on SQLite and on the real PostgreSQL.

PostgreSQL comes from deploy/local (make test starts it and sets LEDGER_TEST_DATABASE_URL).
Without it the postgres tests fail, loudly, unless LEDGER_SKIP_SERVICES=1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger.adapters.eventstore import EventStore
from ledger.adapters.validation import EventValidator
from ledger.application.recording import Ledger
from ledger.config import Settings

SKIP_SERVICES = os.environ.get("LEDGER_SKIP_SERVICES") == "1"


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def postgres_url() -> str:
    url = os.environ.get("LEDGER_TEST_DATABASE_URL")
    if not url:
        if SKIP_SERVICES:
            pytest.skip("LEDGER_SKIP_SERVICES=1: PostgreSQL tests skipped")
        pytest.fail(
            "LEDGER_TEST_DATABASE_URL is not set: start PostgreSQL with "
            "`deploy/local/postgres.sh start` and export "
            "LEDGER_TEST_DATABASE_URL=$(deploy/local/postgres.sh url ledger_test), "
            "or run `make test`"
        )
    return url


def drop_store_tables(url: str, store_name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for suffix in ("events", "tracking"):
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                    sql.Identifier(f"{store_name}_{suffix}")
                )
            )


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


def envelope(
    event_id: str = "SO-1001-submitted",
    *,
    tenant: str = "acme",
    source: str = "erp/orders",
    subject: str = "SO-1001",
    time: str = "2026-03-02T10:00:00+08:00",
    **data: Any,
) -> dict[str, Any]:
    """A valid ledger.operation.submitted envelope; keyword args override its data."""
    payload: dict[str, Any] = {
        "actor_id": "e-li",
        "operation": "sales_order",
        "payload": {"return_days": 7},
    }
    payload.update(data)
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": "ledger.operation.submitted",
        "time": time,
        "tenant": tenant,
        "subject": subject,
        "data": payload,
    }
