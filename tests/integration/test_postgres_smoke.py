"""Smoke test against the real PostgreSQL started by deploy/local/postgres.sh.

Needs $LEDGER_TEST_DATABASE_URL (set by `make test`), e.g.
    LEDGER_TEST_DATABASE_URL="$(deploy/local/postgres.sh url ledger_test)" pytest -m postgres
An unset URL or an unreachable server FAILS the test; set
LEDGER_SKIP_SERVICES=1 to skip it deliberately.
"""

from __future__ import annotations

import pytest

from tests.support.services import postgres_url

pytestmark = pytest.mark.postgres


def _database_url() -> str:
    return postgres_url()


def test_postgres_is_reachable_and_version_15_or_newer() -> None:
    import psycopg

    url = _database_url()
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"cannot connect to LEDGER_DATABASE_URL ({exc}). "
            "Is `deploy/local/postgres.sh start` running?",
            pytrace=False,
        )
    with conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
        assert row is not None
        version_num = row[0]
        assert version_num >= 150000, f"server_version_num={version_num}, need PostgreSQL >= 15"
        encoding = conn.execute("SHOW server_encoding").fetchone()
        assert encoding is not None and encoding[0] == "UTF8"
