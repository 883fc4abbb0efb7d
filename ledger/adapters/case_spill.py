"""Where the engine keeps the cases it set aside: a SQLite file on local disk.

A worker's memory of a tenant is a cache of what its ledger implies; so is this file. It is
private to one process (opened lazily, in a directory of its own, removed at close), never
shared, never read after a restart: a worker that (re)loads a tenant rebuilds it from the
ledger and sets cases aside again as it goes. What a case is: its facts in arrival order,
and beside them what its keeper holds about it (what the ledger's derived events already
say), each as JSON; what is beside can be read and replaced alone.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
import weakref
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.domain.responsibility.emitted import CaseEmitted
from ledger.domain.responsibility.facts import Fact

#: Rows written between commits of the spill (a cache: nothing is lost by waiting).
COMMIT_EVERY = 1000
#: Names looked up in one statement (SQLite allows 32,766 parameters).
LOOKUP_CHUNK = 500


class CaseSpill:
    """Set-aside cases by (tenant, case); each is taken back out when brought back."""

    def __init__(self, directory: Path | None = None) -> None:
        """`directory`: where the spill's own temporary directory goes (default: the
        system's temporary directory)."""
        self._parent = directory
        self._home: Path | None = None
        self._db: sqlite3.Connection | None = None
        # The engine runs in one thread, but the one that made it may close it.
        self._lock = threading.Lock()
        self.cases = 0
        self._uncommitted = 0

    def put(self, tenant: str, case_id: str, facts: list[Fact], beside: Any = None) -> None:
        """`beside`: what the keeper holds with the facts, as JSON (orjson's types)."""
        body = orjson.dumps([_fact(f) for f in facts])
        with self._lock:
            self._open().execute("INSERT OR REPLACE INTO cases VALUES (?, ?, ?, ?)",
                                 (tenant, case_id, body, orjson.dumps(beside)))
            self._wrote(1)
            self.cases += 1

    def take(self, tenant: str, case_id: str) -> tuple[list[Fact], Any]:
        with self._lock:
            db = self._open()
            row = db.execute("SELECT facts, beside FROM cases "
                             "WHERE tenant = ? AND case_id = ?", (tenant, case_id)).fetchone()
            if row is None:
                raise KeyError(f"case {case_id} of tenant {tenant} was never set aside")
            db.execute("DELETE FROM cases WHERE tenant = ? AND case_id = ?", (tenant, case_id))
            self._wrote(1)
            self.cases -= 1
        return [_unfact(f) for f in orjson.loads(row[0])], orjson.loads(row[1])

    def beside(self, tenant: str, case_id: str) -> Any:
        """What is kept beside a set-aside case's facts, leaving the case set aside."""
        with self._lock:
            row = self._open().execute("SELECT beside FROM cases "
                                       "WHERE tenant = ? AND case_id = ?",
                                       (tenant, case_id)).fetchone()
        if row is None:
            raise KeyError(f"case {case_id} of tenant {tenant} was never set aside")
        return orjson.loads(row[0])

    def keep_beside(self, tenant: str, case_id: str, beside: Any) -> None:
        """Replace what is kept beside a set-aside case's facts, which stay as they are."""
        with self._lock:
            self._open().execute("UPDATE cases SET beside = ? WHERE tenant = ? AND case_id = ?",
                                 (orjson.dumps(beside), tenant, case_id))
            self._wrote(1)

    def away_facts(self, tenant: str) -> SpilledFacts:
        """Where the tenant's fact index keeps the identities of set-aside facts."""
        return SpilledFacts(self, tenant)

    def put_facts(self, tenant: str, case_id: str, identities: list[tuple[str, str]]) -> None:
        """Keep set-aside facts known: (ref, event id) each."""
        rows = [(tenant, ref, event_id, case_id) for ref, event_id in identities]
        with self._lock:
            self._open().executemany("INSERT INTO facts VALUES (?, ?, ?, ?)", rows)
            self._wrote(len(rows))

    def remove_facts(self, tenant: str, refs: list[str]) -> None:
        with self._lock:
            self._open().executemany("DELETE FROM facts WHERE tenant = ? AND ref = ?",
                                     [(tenant, ref) for ref in refs])
            self._wrote(len(refs))

    def facts_named(self, tenant: str, reference: str) -> list[tuple[str, str]]:
        """(ref, case) of the set-aside facts whose ref or event id is `reference`."""
        # INDEXED BY and no ORDER BY: without either, SQLite may scan the tenant's rows in
        # key order instead (3 ms against 8 us at 20,000 facts).
        with self._lock:
            rows = self._open().execute(
                "SELECT ref, case_id FROM facts WHERE tenant = ?1 AND ref = ?2 UNION "
                "SELECT ref, case_id FROM facts INDEXED BY facts_by_id "
                "WHERE tenant = ?1 AND event_id = ?2", (tenant, reference)).fetchall()
        return sorted((ref, case_id) for ref, case_id in rows)

    def facts_unnamed(self, tenant: str, references: set[str]) -> set[str]:
        """Those of `references` that no set-aside fact has as its ref or event id."""
        names = list(references)
        found: set[str] = set()
        with self._lock:
            db = self._open()
            for start in range(0, len(names), LOOKUP_CHUNK):
                chunk = names[start:start + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(name for (name,) in db.execute(
                    f"SELECT ref FROM facts WHERE tenant = ? AND ref IN ({marks}) UNION "
                    f"SELECT event_id FROM facts INDEXED BY facts_by_id "
                    f"WHERE tenant = ? AND event_id IN ({marks})",
                    (tenant, *chunk, tenant, *chunk)))
        return references - found

    def drop(self, tenant: str) -> None:
        """Forget a tenant's set-aside cases (its memory was dropped)."""
        with self._lock:
            if self._db is not None:
                db = self._open()
                gone = db.execute("DELETE FROM cases WHERE tenant = ?", (tenant,))
                self.cases -= gone.rowcount
                db.execute("DELETE FROM facts WHERE tenant = ?", (tenant,))
                self._wrote(COMMIT_EVERY)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
                self._db.close()
                self._db = None
            if self._home is not None:
                shutil.rmtree(self._home, ignore_errors=True)
                self._home = None
            self.cases = 0

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self._home = Path(tempfile.mkdtemp(prefix="ledger-cases-", dir=self._parent))
            # Removed when the process ends even if nobody closes the spill.
            weakref.finalize(self, shutil.rmtree, self._home, True)
            db = sqlite3.connect(self._home / "cases.sqlite3", check_same_thread=False,
                                 isolation_level=None)
            # A cache: losing it in a crash costs nothing, so no journal and no fsync.
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("CREATE TABLE cases (tenant TEXT, case_id TEXT, facts BLOB, "
                       "beside BLOB, PRIMARY KEY (tenant, case_id)) WITHOUT ROWID")
            db.execute("CREATE TABLE facts (tenant TEXT, ref TEXT, event_id TEXT, "
                       "case_id TEXT, PRIMARY KEY (tenant, ref)) WITHOUT ROWID")
            db.execute("CREATE INDEX facts_by_id ON facts (tenant, event_id)")
            self._db = db
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
        return self._db

    def _wrote(self, rows: int) -> None:
        """Commit now and then, not per statement: a commit writes the changed pages out,
        which cost 100 us a statement when every statement committed."""
        self._uncommitted += rows
        if self._uncommitted >= COMMIT_EVERY and self._db is not None:
            self._db.execute("COMMIT")
            self._uncommitted = 0


class SpilledFacts:
    """The identities of one tenant's set-aside facts, in the spill (`AwayFacts`): what
    would otherwise stay in memory for every fact of history."""

    def __init__(self, spill: CaseSpill, tenant: str) -> None:
        self._spill = spill
        self._tenant = tenant
        self._count = 0
        #: Names known to be no set-aside fact's, from the last look ahead: true until a
        #: fact with that ref or id is set aside (a fact brought back only makes more).
        self._unnamed: set[str] = set()

    def put(self, case_id: str, identities: list[tuple[str, str]]) -> None:
        self._spill.put_facts(self._tenant, case_id, identities)
        self._count += len(identities)
        for ref, event_id in identities:
            self._unnamed.discard(ref)
            self._unnamed.discard(event_id)

    def remove(self, refs: list[str]) -> None:
        self._spill.remove_facts(self._tenant, refs)
        self._count -= len(refs)

    def named(self, reference: str) -> list[tuple[str, str]]:
        if reference in self._unnamed:
            return []
        return self._spill.facts_named(self._tenant, reference)

    def look_ahead(self, references: set[str]) -> None:
        self._unnamed = self._spill.facts_unnamed(self._tenant, references)

    def __len__(self) -> int:
        return self._count


def _fact(fact: Fact) -> list[Any]:
    return [fact.source, fact.event_id, fact.type, fact.time.isoformat(), fact.subject,
            fact.data, fact.traceparent]


def _unfact(row: list[Any]) -> Fact:
    source, event_id, type_, time, subject, data, traceparent = row
    return Fact(source, event_id, type_, datetime.fromisoformat(time), subject, data,
                traceparent)


def said_to_json(said: CaseEmitted) -> dict[str, Any]:
    """What the engine holds beside a case's facts, as the spill keeps it."""
    return {
        "digests": [[t, k, d] for (t, k), d in said.digests.items()],
        "liabilities": {lid: list(pair) for lid, pair in said.liabilities.items()},
        "corrected": said.corrected,
        "revisions": said.revisions,
    }


def said_from_json(body: dict[str, Any]) -> CaseEmitted:
    return CaseEmitted(
        digests={(t, k): d for t, k, d in body["digests"]},
        liabilities={lid: (pair[0], pair[1]) for lid, pair in body["liabilities"].items()},
        corrected=body["corrected"],
        revisions=body["revisions"],
    )
