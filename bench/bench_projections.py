"""Projection rebuild rate over >= 1M ledger entries on PostgreSQL, beside the raw rate of
reading the same entries from the ledger table (the ceiling), and the cost of the
responsibility engine's derivations at ingest.

How the ledger is made (stated in the results): a template tenant's inbound events
(`bench.workload`: org chart, policy, process, orders with a submission, one in five
violating, an approval and two step completions) are recorded through `Ledger.record`
and derived by the real engine (`ResponsibilityEngine.run_until_idle`, timed: the
derivation rate). The template's entries, inbound and derived, are then cloned into more
tenants by the domain's own `decide_appends` (hash chain and receipts exactly as the ledger
writes them) and appended in bulk through `EventStore.append`, tenants interleaved, without
validation, until the ledger holds the target number of entries.

The built table is then vacuumed (`VACUUM (ANALYZE)`), so that every measure reads settled
rows, as in a store in service. Measured on the same ledger, one after the other:
- raw COPY (the ceiling): `COPY (SELECT ... the same entry rows in notification order) TO
  STDOUT (FORMAT binary)`, the bytes read and dropped: what PostgreSQL hands out with no
  application in front of it;
- raw read: `SELECT` of the entry rows in notification order, in keyset pages of the
  rebuild's batch size, rows fetched but not decoded (a softer ceiling: pages through
  Python);
- read + decode: `EventStore.entry_notifications`, what the projection runner reads;
- rebuild: `Projections.rebuild()` of all nine views (drop, replay, write with tracking),
  opened with the store's settings as `ledger projections rebuild` opens them, so on a
  multi-core machine the views are shared out between processes (projections/parallel.py);
  busy seconds per view are the seconds each spent on its batches (they overlap).

`python -m bench.bench_projections` (needs LEDGER_BENCH_DATABASE_URL); sizes by
LEDGER_BENCH_PROJECTION_ENTRIES (default 1,000,000) and LEDGER_BENCH_PROJECTION_TEMPLATE
(inbound events of the template tenant, default 50,000).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from datetime import timedelta
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql
from rich.console import Console
from rich.table import Table

from bench.common import bench_database_url, timed, write_results
from bench.workload import workload
from cli.root import build_ledger
from ledger.adapters.store import EventStore
from ledger.adapters.store.rows import ENTRY_TOPIC
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.envelope import Envelope
from ledger.domain.events import EntryRecorded
from ledger.domain.recording import LedgerHead, decide_appends
from projections.runner import DEFAULT_BATCH, Projections

TARGET = int(os.environ.get("LEDGER_BENCH_PROJECTION_ENTRIES", "1000000"))
TEMPLATE = int(os.environ.get("LEDGER_BENCH_PROJECTION_TEMPLATE", "50000"))
CHUNK = 5000  # entries per bulk append
REBUILD_TARGET = 0.5
console = Console()


def _say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def _template(
    ledger: Ledger, lateness: timedelta
) -> tuple[list[EntryRecorded], dict[str, Any]]:
    events = workload("bench-0", TEMPLATE)
    _, ingest_s = timed(lambda: [ledger.record(events[i : i + 2000])
                                 for i in range(0, len(events), 2000)])
    engine = ResponsibilityEngine(ledger, lateness, ledger.clock)
    read, engine_s = timed(engine.run_until_idle)
    entries = list(ledger.store.iter_entries("bench-0", page=5000))
    derived = sum(1 for e in entries if e.kind == "derived")
    return entries, {
        "ingest": {"events": len(events), "seconds": round(ingest_s, 2),
                   "events_per_s": round(len(events) / ingest_s)},
        "engine": {"inbound_events": len(events), "entries_read": read,
                   "derived_entries": derived, "seconds": round(engine_s, 2),
                   "inbound_events_per_s": round(len(events) / engine_s),
                   "us_per_inbound_event": round(engine_s / len(events) * 1e6, 1)},
    }


def _clone(store: EventStore, template: list[EntryRecorded], tenants: list[str]) -> float:
    """Append the template's entries for every tenant, chunks interleaved across tenants."""
    heads = {t: LedgerHead(t) for t in tenants}
    runs: list[list[EntryRecorded]] = []
    for entry in template:  # runs of one kind, at most CHUNK long
        if not runs or runs[-1][0].kind != entry.kind or len(runs[-1]) >= CHUNK:
            runs.append([])
        runs[-1].append(entry)
    now = template[-1].timestamp
    start = time.perf_counter()
    for number, run in enumerate(runs):
        for tenant in tenants:
            batch = [(i, Envelope.from_validated({**e.envelope, "tenant": tenant}, e.stream))
                     for i, e in enumerate(run)]
            decision = decide_appends(heads[tenant], batch, {}, now, run[0].kind)
            heads[tenant] = decision.head
            store.append(decision.events)
        if number % 10 == 0:
            _say(f"  cloned run {number + 1}/{len(runs)}")
    return time.perf_counter() - start


def _raw_read(url: str, table: str, batch: int) -> tuple[int, float]:
    """Entry rows in notification order, keyset pages, fetched and not decoded."""
    statement = sql.SQL("SELECT notification_id, originator_id, originator_version, topic, "
                        "state FROM {} WHERE notification_id > %s AND topic = %s "
                        "ORDER BY notification_id LIMIT %s").format(sql.Identifier(table))
    rows = 0
    start = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor(binary=True) as curs:
        after = 0
        while True:
            curs.execute(statement, (after, ENTRY_TOPIC, batch))
            page = curs.fetchall()
            if not page:
                break
            rows += len(page)
            after = page[-1][0]
    return rows, time.perf_counter() - start


def copy_out(url: str, table: str) -> tuple[int, float]:
    """The entry rows in notification order through COPY ... TO STDOUT (FORMAT binary),
    consumed as raw blocks (rows counted separately: counting is not part of the ceiling)."""
    query = sql.SQL("COPY (SELECT notification_id, originator_id, originator_version, topic, "
                    "state FROM {} WHERE topic = {} ORDER BY notification_id) "
                    "TO STDOUT (FORMAT binary)").format(sql.Identifier(table),
                                                       sql.Literal(ENTRY_TOPIC))
    size = 0
    start = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as curs, curs.copy(query) as copy:
        for block in copy:
            size += len(block)
    seconds = time.perf_counter() - start
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE topic = %s").format(
            sql.Identifier(table)), (ENTRY_TOPIC,)).fetchone()
    assert row is not None and size > 0
    return int(row[0]), seconds


def _read_decode(store: EventStore, batch: int) -> tuple[int, float]:
    count, after = 0, 0
    start = time.perf_counter()
    while True:
        page = store.entry_notifications(after, batch)
        if not page:
            break
        count += len(page)
        after = page[-1][0]
    return count, time.perf_counter() - start


def _vacuum(url: str, table: str) -> None:
    """Settle freshly bulk-loaded rows before reading them: the first read of a million new
    rows otherwise pays for their hint bits, beside autovacuum, and read + decode ran at
    11,000-14,000 entries/s once, 66,000-69,000 on every later read of the same rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))


def _drop_store(url: str, store: str) -> None:
    """Drop the bench's store and views on a fresh connection (the pool's may be gone)."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND (tablename = ANY(%s) OR starts_with(tablename, %s))",
            ([f"{store}_events", f"{store}_tracking"], f"{store}_view_"))]
        for name in names:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def _build(settings: Settings) -> Ledger:
    """The store's tables are created on open; on a shared server another session's DDL can
    collide with that (`tuple concurrently updated`), so try again."""
    for attempt in range(3):
        try:
            return build_ledger(settings)
        except PersistenceError:
            if attempt == 2:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def _run(url: str) -> dict[str, Any]:
    store_name = f"bench_pj_{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=url, store_name=store_name, db_pool_size=6)
    ledger = _build(settings)
    try:
        _say(f"template: {TEMPLATE} inbound events through Ledger.record, then the engine")
        template, results = _template(ledger, settings.allowed_lateness)
        tenants = [f"bench-{k}" for k in range(1, -(-TARGET // len(template)))]
        _say(f"template: {len(template)} entries; cloning into {len(tenants)} more tenants")
        clone_s = _clone(ledger.store, template, tenants)
        entries = len(template) * (len(tenants) + 1)
        derived = results["engine"]["derived_entries"] * (len(tenants) + 1)
        results["ledger"] = {
            "entries": entries, "inbound_entries": entries - derived,
            "derived_entries": derived, "tenants": len(tenants) + 1,
            "notifications": ledger.store.max_notification_id(),
            "bulk_append_entries_per_s": round(len(template) * len(tenants) / clone_s),
            "made_by": "template tenant via Ledger.record + ResponsibilityEngine; clones via "
                       "decide_appends + EventStore.append (bulk, no validation)",
        }
        recorder = ledger.store.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        _say("VACUUM (ANALYZE) of the new rows, as a store in service has had")
        results["ledger"]["vacuum_s"] = round(timed(lambda: _vacuum(
            url, recorder.events_table_name))[1], 1)
        _say(f"ledger: {entries} entries; raw COPY TO STDOUT (binary)")
        copied, copy_s = copy_out(url, recorder.events_table_name)
        assert copied == entries, (copied, entries)
        results["raw_copy"] = {"entries": copied, "seconds": round(copy_s, 2),
                               "events_per_s": round(copied / copy_s)}
        _say("raw read (keyset SELECT pages)")
        rows, raw_s = _raw_read(url, recorder.events_table_name, DEFAULT_BATCH)
        assert rows == entries, (rows, entries)
        results["raw_read"] = {"entries": rows, "seconds": round(raw_s, 2),
                               "events_per_s": round(rows / raw_s)}
        _say("read + decode (EventStore.entry_notifications)")
        count, decode_s = _read_decode(ledger.store, DEFAULT_BATCH)
        results["read_decode"] = {"entries": count, "seconds": round(decode_s, 2),
                                  "events_per_s": round(count / decode_s)}
        _say("rebuild of all nine projections")
        projections = Projections(ledger.store, store_name=store_name, settings=settings,
                                  lateness=settings.allowed_lateness)  # (re)creates the views
        processed, rebuild_s = timed(projections.rebuild)
        assert set(processed.values()) == {entries}, processed
        results["rebuild"] = {
            "entries": entries, "seconds": round(rebuild_s, 2),
            "events_per_s": round(entries / rebuild_s), "batch_size": projections.batch_size,
            "workers": projections.workers, "processes": projections.processes,
            "busy_seconds": {name: round(projections.busy[name], 1) for name in processed},
        }
        results["ratios"] = {
            "rebuild_to_raw_copy": round(entries / rebuild_s / (copied / copy_s), 3),
            "rebuild_to_raw_read": round(entries / rebuild_s / (rows / raw_s), 3),
            "rebuild_to_read_decode": round(entries / rebuild_s / (count / decode_s), 3),
        }
        return results
    finally:
        with contextlib.suppress(Exception):
            ledger.store.close()
        _drop_store(url, store_name)


def main() -> None:
    url = bench_database_url()
    if url is None:
        console.print("LEDGER_BENCH_DATABASE_URL is not set: projection benchmark skipped "
                      "(it needs PostgreSQL)")
        return
    started = time.perf_counter()
    results = _run(url)
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    table = Table(title=f"projections over {results['ledger']['entries']:,} ledger entries "
                  f"({results['ledger']['tenants']} tenants, PostgreSQL)")
    for column in ("measure", "entries/s", "seconds", "vs raw COPY"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    raw = results["raw_copy"]["events_per_s"]
    for label, key in (("raw COPY TO STDOUT (binary): ceiling", "raw_copy"),
                       ("raw read (keyset SELECT pages, no decode)", "raw_read"),
                       ("read + decode (EventStore)", "read_decode"),
                       ("rebuild, all nine projections", "rebuild")):
        r = results[key]
        table.add_row(label, f"{r['events_per_s']:,}", str(r["seconds"]),
                      f"{r['events_per_s'] / raw:.3f}")
    engine = results["engine"]
    table.add_row("engine derivations at ingest (inbound events)",
                  f"{engine['inbound_events_per_s']:,}", str(engine["seconds"]),
                  f"{engine['us_per_inbound_event']} µs/event")
    console.print(table)
    target = "met" if results["ratios"]["rebuild_to_raw_copy"] >= REBUILD_TARGET else "NOT met"
    console.print(f"target rebuild >= {REBUILD_TARGET:.0%} of raw COPY: {target}")
    busy = Table(title="rebuild: busy seconds per projection (side by side, overlapping)")
    busy.add_column("projection")
    busy.add_column("seconds", justify="right")
    for name, seconds in results["rebuild"]["busy_seconds"].items():
        busy.add_row(name, str(seconds))
    console.print(busy)
    write_results("projections", results)


if __name__ == "__main__":
    main()
