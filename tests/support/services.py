"""The PostgreSQL that deploy/local starts, as tests reach it.

Without LEDGER_TEST_DATABASE_URL the postgres tests fail, loudly, unless
LEDGER_SKIP_SERVICES=1.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql

SKIP_SERVICES = os.environ.get("LEDGER_SKIP_SERVICES") == "1"


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
