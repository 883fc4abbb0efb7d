"""Scale: the same measures on ledgers of 100k, 1M and 10M entries, one table.

Each store is built once and kept (PostgreSQL tables `bench_scale_<entries>_*`, recorded
as built in deploy/local/.data/bench-scale/<entries>.json): a template tenant's workload
recorded through `Ledger.record` and derived by the real engine, then cloned into more
tenants by the domain's own `decide_appends` (bench/bench_projections.py's method) with
each clone's derivation position recorded at its head, as if the engine had derived it.

At each size, on the same machine, one after the other:
- **ingest**: a fresh tenant's workload (LEDGER_BENCH_SCALE_SAMPLE events, default 10,000)
  through `Ledger.record` in batches of the API's size;
- **derivation**: a worker process deriving and projecting it (`ledger work --until-idle`,
  embedded mode, the views brought up to date first; `ledger derive` on a checkout without
  workers), timed from the outside less the same command's time with nothing to do
  (start-up); its peak RSS is the **worker RSS**;
- the sample's rows are then deleted, so the kept store stays the size it was built at;
- **rebuild**: `Projections.rebuild()` of every view over the whole store (skip with
  LEDGER_BENCH_SCALE_REBUILD=0: 10M entries take long on two cores);
- **chain query**: `ReadModels.chain` of random (tenant, case) pairs, sequential: p50/p99.

Goal: every rate within 20% of its 100k figure, RSS flat. Sizes by
LEDGER_BENCH_SCALE_SIZES (default 100000,1000000,10000000).
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, Tracking
from psycopg import sql
from rich.console import Console
from rich.table import Table

from bench import processes
from bench.bench_projections import _build, _clone, _drop_store, _template
from bench.common import bench_database_url, write_results
from bench.workload import workload
from ledger.application.derivation import engine_reader
from ledger.application.discovery import ENGINE_READER
from ledger.application.recording import Ledger
from ledger.config import Settings
from projections.reads import ReadModels
from projections.runner import Projections

SIZES = [int(v) for v in os.environ.get(
    "LEDGER_BENCH_SCALE_SIZES", "100000,1000000,10000000").split(",") if v]
SAMPLE = int(os.environ.get("LEDGER_BENCH_SCALE_SAMPLE", "10000"))
REBUILD = os.environ.get("LEDGER_BENCH_SCALE_REBUILD", "1") != "0"
QUERIES = int(os.environ.get("LEDGER_BENCH_SCALE_QUERIES", "2000"))
CACHE = Path(__file__).resolve().parent.parent / "deploy" / "local" / ".data" / "bench-scale"
BATCH = 500  # LEDGER_INGEST_BATCH_SIZE's default: what the API and consumers record at
console = Console(width=120)


def _say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE topic = %s").format(
            sql.Identifier(table)), (_entry_topic(),)).fetchone()
    return int(row[0]) if row else 0


def _entry_topic() -> str:
    from ledger.adapters.store.rows import ENTRY_TOPIC

    return ENTRY_TOPIC


def _store(url: str, size: int) -> tuple[Settings, dict[str, Any]]:
    """The kept store of `size` entries: built now unless the record says it is there."""
    settings = Settings(database_url=url, store_name=f"bench_scale_{size}", db_pool_size=6)
    record = CACHE / f"{size}.json"
    if record.exists():
        built: dict[str, Any] = orjson.loads(record.read_bytes())
        table = f"{settings.store_name}_events"
        if _count(url, table) != built["entries"]:
            _forget_leftover_samples(url, settings.store_name)
        if _count(url, table) == built["entries"]:
            _say(f"{size:,}: reusing {settings.store_name} (built {built['built_at']})")
            return settings, built
    _drop_store(url, settings.store_name)
    _say(f"{size:,}: building {settings.store_name}")
    ledger = _build(settings)
    try:
        built = _fill(ledger, settings, size)
    finally:
        ledger.store.close()
    CACHE.mkdir(parents=True, exist_ok=True)
    record.write_bytes(orjson.dumps(built, option=orjson.OPT_INDENT_2))
    return settings, built


def _fill(ledger: Ledger, settings: Settings, size: int) -> dict[str, Any]:
    import bench.bench_projections as projections_bench

    projections_bench.TEMPLATE = min(50_000, max(2_000, size // 10))
    template, made = _template(ledger, settings.allowed_lateness)
    tenants = [f"bench-{k}" for k in range(1, -(-size // len(template)))]
    started = time.perf_counter()
    _clone(ledger.store, template, tenants)
    clone_s = time.perf_counter() - started
    last = template[-1].position
    for tenant in tenants:  # derived already (cloned): the engine starts at their heads
        ledger.store.append([], Tracking(engine_reader(tenant), last))
    ledger.store.append([], Tracking(ENGINE_READER, ledger.store.max_notification_id()))
    return {"entries": len(template) * (len(tenants) + 1), "tenants": len(tenants) + 1,
            "template_entries": len(template), "template": made,
            "bulk_append_entries_per_s": round(len(template) * len(tenants) / clone_s),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _ingest(ledger: Ledger, tenant: str) -> dict[str, Any]:
    events = workload(tenant, SAMPLE)
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        ledger.record(events[start : start + BATCH])
    seconds = time.perf_counter() - started
    return {"events": len(events), "seconds": round(seconds, 2),
            "events_per_s": round(len(events) / seconds)}


def _worker(settings: Settings) -> tuple[float, float | None]:
    """One worker run until caught up, from the outside: wall seconds and peak RSS (MiB).

    The peak is the worker's own VmHWM, polled until it exits: the rusage `wait4` reports
    starts from this (large) process's RSS at the fork, which the exec does not reset."""
    args = ["work", "--until-idle"] if processes.has_command("work") else ["derive"]
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_STORE_NAME": settings.store_name, "LEDGER_LOG_LEVEL": "WARNING"}
    for name in ("LEDGER_KAFKA_BOOTSTRAP", "LEDGER_WORK_MODE"):  # in-process: no Kafka
        env.pop(name, None)
    with tempfile.TemporaryFile() as errors:  # a pipe nobody reads until the end could fill
        started = time.perf_counter()
        process = subprocess.Popen([processes.LEDGER, *args], env=env,
                                   stdout=subprocess.DEVNULL, stderr=errors)
        peak: float | None = None
        while process.poll() is None:
            rss = processes.rss_mib(process.pid)
            if rss is not None and (peak is None or rss > peak):
                peak = rss
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"ledger {' '.join(args)} failed: "
                               f"{errors.read().decode(errors='replace')[-2000:]}")
    return seconds, peak


def _derive(settings: Settings, inbound: int) -> dict[str, Any]:
    busy_s, rss = _worker(settings)
    idle_s, idle_rss = _worker(settings)  # nothing left: start-up and a look around
    seconds = max(1e-3, busy_s - idle_s)
    return {"inbound_events": inbound, "seconds": round(seconds, 2),
            "wall_seconds": round(busy_s, 2), "startup_seconds": round(idle_s, 2),
            "inbound_events_per_s": round(inbound / seconds), "worker_rss_mib": rss,
            "idle_worker_rss_mib": idle_rss,
            "command": "ledger work --until-idle" if processes.has_command("work")
            else "ledger derive"}


def _forget_sample(url: str, store: str, before: int, tenant: str) -> None:
    """Delete what the sample added (rows and positions), so the store keeps its size."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {} WHERE notification_id > %s").format(
            sql.Identifier(f"{store}_events")), (before,))
        conn.execute(sql.SQL("DELETE FROM {} WHERE application_name = %s OR "
                             "(application_name = %s AND notification_id > %s)").format(
            sql.Identifier(f"{store}_tracking")), (engine_reader(tenant), ENGINE_READER, before))


def _forget_leftover_samples(url: str, store: str) -> None:
    """A run killed before deleting its sample left rows after the kept store's own: from
    the first row of a sample tenant on (one scan of the states)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql.SQL(
            "SELECT min(notification_id) FROM {} WHERE starts_with(convert_from(state, "
            "'UTF8')::jsonb ->> 'tenant', 'scale-probe-')").format(
            sql.Identifier(f"{store}_events"))).fetchone()
    if row and row[0] is not None:
        _say(f"deleting a killed run's sample from {store} (rows from {row[0]})")
        _forget_sample(url, store, int(row[0]) - 1, "")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DELETE FROM {} WHERE starts_with(application_name, %s)")
                         .format(sql.Identifier(f"{store}_tracking")),
                         (engine_reader("scale-probe-"),))


def _rebuild_and_query(settings: Settings, ledger: Ledger, entries: int,
                       rebuilt: dict[str, Any] | None = None) -> dict[str, Any]:
    projections = Projections(ledger.store, store_name=settings.store_name,
                              lateness=settings.allowed_lateness)
    results: dict[str, Any] = {}
    if rebuilt is not None:
        results["rebuild"] = rebuilt
    elif REBUILD:
        started = time.perf_counter()
        projections.rebuild()
        seconds = time.perf_counter() - started
        results["rebuild"] = {"entries": entries, "seconds": round(seconds, 2),
                              "events_per_s": round(entries / seconds)}
    else:
        projections.catch_up()
    results["chain_query"] = _chains(settings, ReadModels(projections))
    return results


def _chains(settings: Settings, reads: ReadModels) -> dict[str, Any]:
    with psycopg.connect(settings.database_url or "") as conn:
        cases = conn.execute(sql.SQL("SELECT tenant, case_id FROM {} ORDER BY random() "
                                     "LIMIT %s").format(
            sql.Identifier(f"{settings.store_name}_view_case_chains")), (QUERIES,)).fetchall()
    times: list[float] = []
    rng = random.Random(7)
    for tenant, case_id in rng.sample(cases, len(cases)):
        started = time.perf_counter()
        found = reads.chain(tenant, case_id)
        times.append(time.perf_counter() - started)
        assert found is not None
    times.sort()
    return {"queries": len(times),
            "p50_ms": round(statistics.median(times) * 1000, 2) if times else None,
            "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 2) if times else None}


def _measure(url: str, size: int, attempts: int = 3) -> dict[str, Any]:
    """Measure at `size`; again from the start when the shared server was restarted under
    it (other sessions' fault tests do that), the half-measured sample deleted first."""
    for attempt in range(1, attempts + 1):
        try:
            return _measure_once(url, size)
        except (RuntimeError, OperationalError, InterfaceError, psycopg.Error) as exc:
            if attempt == attempts:
                raise
            _say(f"{size:,}: measure failed ({exc!r:.200}); again in 10 s")
            time.sleep(10)
    raise AssertionError("unreachable")


def _measure_once(url: str, size: int) -> dict[str, Any]:
    settings, built = _store(url, size)
    ledger = _build(settings)
    tenant = f"scale-probe-{time.time_ns()}"
    before = ledger.store.max_notification_id()
    try:
        _say(f"{size:,}: views brought up to date (a worker projects as well as derives)")
        views = Projections(ledger.store, store_name=settings.store_name,
                            lateness=settings.allowed_lateness)
        empty = all(p.view.position() == 0 for p in views.projections.values())
        started = time.perf_counter()
        views.catch_up()
        # Views built from nothing are a rebuild: timed, not done twice (10M entries).
        first = ({"entries": built["entries"], "events_per_s": round(
            built["entries"] / (time.perf_counter() - started)), "seconds": round(
            time.perf_counter() - started, 2), "how": "first catch-up of empty views"}
            if empty and REBUILD else None)
        before = ledger.store.max_notification_id()  # after the catch-up's own writes
        _say(f"{size:,}: ingest of {SAMPLE:,} events of a fresh tenant")
        ingest = _ingest(ledger, tenant)
        _say(f"{size:,}: derivation by a worker process")
        derive = _derive(settings, ingest["events"])
        _forget_sample(url, settings.store_name, before, tenant)
        _say(f"{size:,}: rebuild and chain queries")
        rest = _rebuild_and_query(settings, ledger, built["entries"], rebuilt=first)
    except BaseException:
        with contextlib.suppress(Exception):
            _forget_sample(url, settings.store_name, before, tenant)
        raise
    finally:
        with contextlib.suppress(Exception):
            ledger.store.close()
    return {"size": size, "entries": built["entries"], "tenants": built["tenants"],
            "ingest": ingest, "derivation": derive, **rest, "store": built}


def _table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="scale (ratios: to the smallest size)")
    for column in ("entries", "ingest ev/s", "derive ev/s", "rebuild ev/s", "chain p99 ms",
                   "worker RSS MiB"):
        table.add_column(column, justify="right")
    base = rows[0]
    for r in rows:
        def cell(value: float | None, first: float | None) -> str:
            if value is None:
                return "-"
            return f"{value:,} ({value / first:.2f})" if first else f"{value:,}"
        table.add_row(f"{r['entries']:,}",
                      cell(r["ingest"]["events_per_s"], base["ingest"]["events_per_s"]),
                      cell(r["derivation"]["inbound_events_per_s"],
                           base["derivation"]["inbound_events_per_s"]),
                      cell(r.get("rebuild", {}).get("events_per_s"),
                           base.get("rebuild", {}).get("events_per_s")),
                      cell(r["chain_query"]["p99_ms"], base["chain_query"]["p99_ms"]),
                      cell(r["derivation"]["worker_rss_mib"],
                           base["derivation"]["worker_rss_mib"]))
    console.print(table)


def main() -> None:
    url = bench_database_url()
    if url is None:
        console.print("LEDGER_BENCH_DATABASE_URL is not set: scale benchmark skipped")
        return
    rows: list[dict[str, Any]] = []
    for size in SIZES:
        rows.append(_measure(url, size))
        write_results("scale", {  # after each size: a long run keeps what it measured
            "sizes": rows, "sample_events": SAMPLE, "ingest_batch": BATCH,
            "goal": "each rate within 20% of its smallest-size figure, worker RSS flat",
            "machine_note": "2 cores shared with other sessions' work; PostgreSQL on the "
                            "same machine",
        })
    _table(rows)


if __name__ == "__main__":
    main()
