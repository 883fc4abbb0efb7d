"""Which DLQ relay works: a leader lock (consumers/relay.py, point 3 of its docstring)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ledger.config import Settings

log = logging.getLogger("consumers.relay")


class LeaderLock(Protocol):
    def acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class PostgresLeaderLock:
    """A session-level advisory lock on its own connection: released when the process or
    its connection dies, so a crashed relay never blocks the next one."""

    def __init__(self, database_url: str, name: str) -> None:
        self._url = database_url
        self._name = name
        self._conn: Any = None

    def acquire(self) -> bool:
        import psycopg

        self.release()
        try:
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self._name,)
            ).fetchone()
        except Exception as exc:
            log.warning("leader lock unavailable", extra={"error": repr(exc)})
            self.release()
            return False
        if not row or not row[0]:
            self.release()
            return False
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception:
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None


class FileLeaderLock:
    """For the embedded store: an exclusive lock on a file beside the database."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fh: Any = None

    def acquire(self) -> bool:
        if self._fh is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fh = self._path.open("a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def held(self) -> bool:
        return self._fh is not None

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = None


def leader_lock_for(settings: Settings, dlq_topic: str) -> LeaderLock:
    name = f"ledger-dlq-relay:{settings.store_name}:{dlq_topic}"
    if settings.database_url:
        return PostgresLeaderLock(settings.database_url, name)
    return FileLeaderLock(settings.home / f"{settings.store_name}.{dlq_topic}.relay.lock")


def run_as_leader(
    lock: LeaderLock,
    session: Callable[[threading.Event, float | None], None],
    stop: threading.Event,
    until_idle_s: float | None,
    what: str,
    deadline: float | None = None,
) -> None:
    """An outbox relay's loop: work only while holding `lock`, start a session over after a
    failure (with backoff), and, with `until_idle_s`, end after one session or when another
    relay holds the lock (it publishes what is left). `deadline` (monotonic): give up then."""
    failures = 0
    while not stop.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            log.warning("%s gave up for now; the rest waits in the store", what)
            return
        if not lock.acquire():
            if until_idle_s is not None:
                return
            stop.wait(2.0)
            continue
        try:
            session(stop, until_idle_s)
            if until_idle_s is not None:
                return
            failures = 0
        except Exception as exc:
            failures += 1
            log.warning("%s session ended; starting over", what,
                        extra={"error": repr(exc), "attempt": failures})
            stop.wait(min(5.0, 0.5 * 2 ** min(failures, 4)))
        finally:
            lock.release()
