"""The store's PostgreSQL sessions carry the settings the operator chose, not the library's."""

from __future__ import annotations

import uuid

import pytest

from ledger.adapters.store import EventStore
from ledger.config import Settings
from tests.support.services import drop_store_tables, postgres_url

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(("seconds", "shown"), [(60, "1min"), (0, "0")])
def test_a_session_left_idle_in_a_transaction_is_ended_after_the_configured_timeout(
    seconds: int, shown: str
) -> None:
    url = postgres_url()
    settings = Settings(database_url=url, store_name=f"t_{uuid.uuid4().hex[:12]}",
                        db_pool_size=1, db_idle_in_transaction_timeout_s=seconds)
    store = EventStore(settings)
    try:
        datastore = store._postgres.datastore  # type: ignore[union-attr]
        with datastore.transaction(commit=False) as curs:
            curs.execute("SHOW idle_in_transaction_session_timeout")
            row = curs.fetchone()
            assert row is not None and row["idle_in_transaction_session_timeout"] == shown
    finally:
        store.close()
        drop_store_tables(url, settings.store_name)
