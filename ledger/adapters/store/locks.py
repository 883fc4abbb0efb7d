"""Advisory locks of the store: the writer's turn per tenant and the schema lock.

Both are PostgreSQL session locks; on SQLite, whose writes are serialized anyway and
whose tables one process creates, neither is taken.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

WRITER_LOCK_WAIT_S = 30.0

# The name it has always logged under, which log filters may select.
log = logging.getLogger("ledger.eventstore")

#: The advisory lock under which a process opens a store (creates what is missing).
SCHEMA_LOCK_KEY = int.from_bytes(hashlib.sha256(b"ledger-schema").digest()[:8], "big",
                                 signed=True)


def writer_lock_key(store_name: str, tenant: str) -> int:
    """The advisory lock (a signed 64-bit key) of one tenant's ledger in one store.

    A collision between two tenants only makes their writers take turns."""
    digest = hashlib.sha256(f"ledger-writer\x00{store_name}\x00{tenant}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def writer_turn(
    datastore: PostgresDatastore | None, store_name: str, tenants: Iterable[str]
) -> Iterator[bool]:
    """Hold, across processes, the turn to append to these tenants' ledgers; yields
    whether it is held (never on SQLite: `datastore` is None).

    Only an optimisation, never a guarantee: two writers of one tenant that read the
    same head both decide, and the store's unique key refuses the second
    (`AppendConflict`: decided and sent again); waiting for the other writer's commit
    costs less (docs/decisions/0003-writer-lock.md). A PostgreSQL session lock on a
    connection of its own (autocommit, so no transaction is left idle), waited for by
    PostgreSQL itself, so the turn passes the moment it is released; taken in key
    order, so two writers never wait for each other. A writer that does not get it
    within `WRITER_LOCK_WAIT_S`, or whose lock connection fails, goes on without it.
    """
    keys = sorted({writer_lock_key(store_name, t) for t in tenants})
    if datastore is None or not keys:
        yield False
        return
    with datastore.get_connection() as conn:
        held: list[int] = []
        try:
            deadline = time.monotonic() + WRITER_LOCK_WAIT_S
            for key in keys:
                _wait_for_advisory_lock(conn, key, deadline - time.monotonic())
                held.append(key)
        except Exception as exc:  # e.g. the lock connection broke: go on without it
            log.warning("appending without the writer lock", extra={"error": repr(exc)})
            _release(conn, held)
            yield False
            return
        try:
            yield True
        finally:
            _release(conn, held)


def _wait_for_advisory_lock(conn: Any, key: int, timeout_s: float) -> None:
    """Take the session lock `key`, waiting at most `timeout_s` (else LockNotAvailable).

    The wait is PostgreSQL's own, so the lock passes the moment it is released; the
    timeout is a transaction-local setting, so the session keeps its own."""
    timeout = sql.Literal(f"{max(1, int(timeout_s * 1000))}ms")
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(timeout))
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))


def _release(conn: Any, keys: list[int]) -> None:
    """Unlock; if that fails, close the connection (its locks die with its session) so
    the pool never hands out a connection that still holds one."""
    try:
        for key in reversed(keys):
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    except Exception:
        conn.close()


@contextmanager
def one_schema_change_at_a_time(database_url: str | None) -> Iterator[None]:
    """Open stores one process at a time, across the database.

    The library creates its tables, their row types and a function shared by every store
    of the schema (CREATE ... IF NOT EXISTS, CREATE OR REPLACE FUNCTION) whenever a store
    is opened; two sessions doing that at once fail ("duplicate key value violates unique
    constraint pg_type_typname_nsp_index", "tuple concurrently updated"), which killed
    one of several consumers started together. A session lock on a connection of its
    own, released when the store is open (or the connection closes).
    """
    if database_url is None:
        yield
        return
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
