"""Kafka -> PostgreSQL ledger, end to end, beside a raw COPY (the ceiling) and a naive path.

In one run, on the same machine and database:

1. publish N realistic events (default 200,000, bench/workload.py: an org chart, a policy,
   a process, then cases of about five events each) to a fresh 12-partition topic, keyed by
   case (`ledger publish`'s keying);
2. **end to end**: `ledger consume` processes (the command itself, default batch size, in
   one consumer group) read them into a fresh PostgreSQL store, with 1, 2 and 3 processes
   (`LEDGER_BENCH_CONSUMERS`; the 2-core machine's scale-out); the rate is measured from
   the first committed batch to the last (the partitions' committed positions, read from
   the store's tracking table), so start-up and group-join time are left out, a
   rebalance is not;
3. **raw COPY**: the rows the ledger wrote (entries and receipts, as stored) are COPYed in
   binary into an equivalent table (same columns, primary key, notification-id sequence
   and index): what PostgreSQL can take with no application in front of it;
4. **naive**: one event per transaction through `Ledger.record` (a sample, default 3,000);
5. for context, the same store path without Kafka: `Ledger.record` in batches.

Rates are events/s (a ledger event is two rows: entry and receipt). The machine is shared
and noisy: compare the ratios, measured side by side, more than the absolute numbers.
`LEDGER_BENCH_PROFILE=1` also runs one consumer in-process under pyinstrument and writes its
profile beside the results.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from bench.common import RESULTS, bench_database_url, write_results
from bench.workload import workload
from cli.root import build_ledger
from consumers.messages import message_key
from consumers.observability import IngestMetrics
from consumers.service import ConsumeConfig, run_consume
from consumers.topics import ensure_topics
from ledger.adapters.validation import default_validator
from ledger.config import Settings
from ledger.domain.events import ledger_stream_id

EVENTS = int(os.environ.get("LEDGER_BENCH_KAFKA_EVENTS", "200000"))
NAIVE_EVENTS = int(os.environ.get("LEDGER_BENCH_NAIVE_EVENTS", "3000"))
DIRECT_EVENTS = int(os.environ.get("LEDGER_BENCH_DIRECT_EVENTS", "50000"))
PARTITIONS = 12
TARGET = 0.30
CONSUMER_COUNTS = tuple(
    int(n) for n in os.environ.get("LEDGER_BENCH_CONSUMERS", "1,2,3").split(",") if n
)


def _publish(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> float:
    from kafka import KafkaProducer

    validator = default_validator()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=512 * 1024, max_request_size=8 * 1024 * 1024,
                             max_block_ms=120000, request_timeout_ms=60000)
    started = time.perf_counter()
    failures: list[BaseException] = []
    for event in events:
        key = message_key(event, validator)
        producer.send(topic, key=key.encode() if key else None,
                      value=orjson.dumps(event)).add_errback(failures.append)
    producer.flush(timeout=600)
    seconds = time.perf_counter() - started
    producer.close(timeout=30)
    if failures:
        raise RuntimeError(f"{len(failures)} events not published: {failures[0]!r}")
    return seconds


def _end_to_end(settings: Settings, topic: str, expected: int) -> dict[str, Any]:
    """Consume everything; rate from the first applied batch to the last."""
    ledger = build_ledger(settings)
    metrics = IngestMetrics()
    marks: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        first_count = 0
        while not stop.is_set():
            consumed = metrics.snapshot()["totals"]["consumed"]
            now = time.perf_counter()
            if consumed and "first" not in marks:
                marks["first"], first_count = now, consumed
                marks["first_count"] = consumed
            if consumed >= expected:
                marks["last"] = now
                stop.set()
                return
            time.sleep(0.02)
        del first_count

    config = ConsumeConfig(topic=topic, group=f"bench-{uuid.uuid4().hex[:8]}",
                           batch_size=settings.consume_batch_size,
                           linger_ms=settings.consume_linger_ms, relay=False,
                           metrics_port=None, until_idle_s=None)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    profiler: Any = None
    if os.environ.get("LEDGER_BENCH_PROFILE") == "1":
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    started = time.perf_counter()
    try:
        run_consume(ledger, settings, config, stop, metrics)
    finally:
        if profiler is not None:
            profiler.stop()
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "kafka_ingest.profile.txt").write_text(profiler.output_text())
        ledger.store.close()
    totals = metrics.snapshot()["totals"]
    batches = metrics.registry.get_sample_value(
        "ledger_kafka_batch_seconds_count", {"topic": topic}) or 0
    if "last" not in marks:
        raise RuntimeError(f"consumer stopped before consuming everything: {totals}")
    measured = expected - int(marks["first_count"])
    seconds = marks["last"] - marks["first"]
    return {"events": expected, "measured_events": measured,
            "seconds": round(seconds, 2), "events_per_s": round(measured / seconds),
            "wall_seconds_with_group_join": round(marks["last"] - started, 2),
            "batch_size": settings.consume_batch_size,
            "linger_ms": settings.consume_linger_ms, "transactions": int(batches),
            "mean_events_per_transaction": round(totals["consumed"] / max(1, batches)),
            "consumed": totals["consumed"],
            "recorded": totals["recorded"], "duplicate": totals["duplicate"],
            "dead_lettered": totals["dead_lettered"]}


def _committed(url: str, store_name: str, topic: str) -> int:
    """Messages committed so far: each partition's tracking record holds its last applied
    offset, and a fresh topic's offsets start at 0."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT coalesce(sum(notification_id + 1), 0) FROM {} "
                    "WHERE application_name LIKE %s").format(
                sql.Identifier(f"{store_name}_tracking")),
            (f"kafka:{topic}:%",),
        ).fetchone()
    return int(row[0]) if row else 0


def _end_to_end_processes(
    settings: Settings, topic: str, expected: int, consumers: int
) -> dict[str, Any]:
    """`ledger consume` x `consumers` processes in one group, into a fresh store; the rate
    runs from the first committed batch to the last, read from the store itself."""
    url = settings.database_url
    assert url is not None
    build_ledger(settings).store.close()  # creates the tables before anyone polls them
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_STORE_NAME": settings.store_name,
           "LEDGER_EVENTS_TOPIC": topic, "LEDGER_DLQ_TOPIC": settings.dlq_topic,
           "LEDGER_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "LEDGER_KAFKA_PARTITIONS": str(PARTITIONS),
           "LEDGER_KAFKA_GROUP": f"bench-{uuid.uuid4().hex[:8]}"}
    ledger_command = str(Path(sys.executable).parent / "ledger")  # the venv's entry point
    command = [ledger_command, "consume", "--no-relay", "--no-obligations",
               "--metrics-port", "-1", "--log-level", "WARNING"]
    started = time.perf_counter()
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
                 for _ in range(consumers)]
    first_at = last_at = 0.0
    first_count = 0
    pids = [p.pid for p in processes]
    cpu_first: dict[str, float] = {}
    cpu_last: dict[str, float] = {}
    try:
        while True:
            count = _committed(url, settings.store_name, topic)
            now = time.perf_counter()
            if count and not first_at:
                first_at, first_count = now, count
                cpu_first = _cpu_seconds(pids)
            if count >= expected:
                last_at = now
                cpu_last = _cpu_seconds(pids)
                break
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"a consumer exited early at {count} of {expected}")
            if now - started > 1800:
                raise RuntimeError(f"timed out at {count} of {expected}")
            time.sleep(0.05)
    finally:
        totals = _stop_consumers(processes)
    measured = expected - first_count
    seconds = last_at - first_at
    return {"consumers": consumers, "events": expected, "measured_events": measured,
            "seconds": round(seconds, 2), "events_per_s": round(measured / seconds),
            "wall_seconds_with_start_and_group_join": round(last_at - started, 2),
            "batch_size": settings.consume_batch_size,
            "linger_ms": settings.consume_linger_ms,
            "cpu_us_per_event": {name: round((cpu_last[name] - cpu_first.get(name, 0.0))
                                             / measured * 1e6, 1) for name in cpu_last},
            **{key: sum(t.get(key, 0) for t in totals)
               for key in ("consumed", "recorded", "duplicate", "dead_lettered")}}


def _cpu_seconds(consumer_pids: list[int]) -> dict[str, float]:
    """CPU time (user + system) so far of the consumers, PostgreSQL and the Kafka broker
    (every process of this machine named postgres / java): where an event's cost goes."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"consumers": 0.0, "postgres": 0.0, "kafka_broker": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if int(entry.name) in consumer_pids:
            totals["consumers"] += seconds
        elif name == "postgres":
            totals["postgres"] += seconds
        elif name == "java":
            totals["kafka_broker"] += seconds
    return totals


def _stop_consumers(processes: list[subprocess.Popen[bytes]]) -> list[dict[str, Any]]:
    """SIGTERM each consumer (it finishes its batch and leaves the group); their totals."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    totals: list[dict[str, Any]] = []
    for process in processes:
        try:
            out, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        lines = [line for line in out.decode().splitlines() if line.startswith("{")]
        totals.append(orjson.loads(lines[-1]) if lines else {})
    return totals


def _copy_ceiling(url: str, store_name: str, events: int, runs: int = 3) -> dict[str, Any]:
    """COPY the ledger's own rows into an equivalent fresh table, `runs` times; the best
    run is the ceiling (a ceiling should not be lowered by a noisy neighbour), and every
    run is reported."""
    source = sql.Identifier(f"{store_name}_events")
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "ORDER BY notification_id").format(source)).fetchall()
        times = [_copy_once(conn, sql.Identifier(f"{store_name}_copy"), rows)
                 for _ in range(runs)]
    seconds = min(times)
    return {"events": events, "rows": len(rows), "seconds": round(seconds, 2),
            "events_per_s": round(events / seconds), "rows_per_s": round(len(rows) / seconds),
            "runs_events_per_s": [round(events / t) for t in times]}


def _copy_once(conn: psycopg.Connection[Any], target: sql.Identifier, rows: list[Any]) -> float:
    conn.execute(sql.SQL(
        "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
        "topic text, state bytea, notification_id bigserial, "
        "PRIMARY KEY (originator_id, originator_version))").format(target))
    conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (notification_id)").format(target))
    try:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur, cur.copy(sql.SQL(
            "COPY {} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)").format(target)) as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started
    finally:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))


def _naive(url: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One event per transaction through Ledger.record, into a fresh store."""
    name = f"bkn_{uuid.uuid4().hex[:8]}"
    ledger = build_ledger(Settings(database_url=url, store_name=name))
    try:
        sample = events[:NAIVE_EVENTS]
        started = time.perf_counter()
        for event in sample:
            ledger.record([event])
        seconds = time.perf_counter() - started
    finally:
        ledger.store.close()
        _drop(url, name)
    return {"events": len(sample), "seconds": round(seconds, 2),
            "events_per_s": round(len(sample) / seconds)}


def _direct(url: str, events: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    """Ledger.record in batches with no Kafka in front: the store path's own rate."""
    name = f"bkd_{uuid.uuid4().hex[:8]}"
    ledger = build_ledger(Settings(database_url=url, store_name=name))
    try:
        sample = events[:DIRECT_EVENTS]
        started = time.perf_counter()
        for start in range(0, len(sample), batch):
            ledger.record(sample[start : start + batch])
        seconds = time.perf_counter() - started
    finally:
        ledger.store.close()
        _drop(url, name)
    return {"events": len(sample), "batch_size": batch, "seconds": round(seconds, 2),
            "events_per_s": round(len(sample) / seconds)}


def _check_stored(url: str, store_name: str) -> None:
    """Every event reached the ledger, once."""
    with psycopg.connect(url) as conn:
        stored = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE originator_id = %s")
                              .format(sql.Identifier(f"{store_name}_events")),
                              (ledger_stream_id("bench"),)).fetchone()
    assert stored is not None and stored[0] == EVENTS, f"ledger holds {stored}, not {EVENTS}"


def _drop(url: str, store_name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for suffix in ("events", "tracking", "copy"):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                sql.Identifier(f"{store_name}_{suffix}")))


def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics(topics, timeout_ms=30000)
    finally:
        admin.close()


def main() -> None:
    console = Console()
    url = bench_database_url()
    if not url:
        console.print("[yellow]LEDGER_BENCH_DATABASE_URL unset: kafka_ingest skipped[/yellow]")
        return
    tag = uuid.uuid4().hex[:8]
    store = f"bk_{tag}"
    settings = Settings(database_url=url, store_name=store, events_topic=f"bench.kafka.{tag}",
                        dlq_topic=f"bench.kafka.{tag}.dlq", kafka_partitions=PARTITIONS,
                        dlq_partitions=1)
    bootstrap = settings.kafka_bootstrap
    events = workload("bench", EVENTS)
    ensure_topics(bootstrap, {settings.events_topic: PARTITIONS, settings.dlq_topic: 1})
    runs: list[dict[str, Any]] = []
    profiled: dict[str, Any] | None = None
    stores: list[str] = []
    try:
        publish_s = _publish(bootstrap, settings.events_topic, events)
        console.print(f"published {EVENTS:,} events in {publish_s:.1f}s")
        for consumers in CONSUMER_COUNTS:
            run_store = f"{store}_{consumers}c"
            stores.append(run_store)
            run = _end_to_end_processes(settings.model_copy(update={"store_name": run_store}),
                                        settings.events_topic, EVENTS, consumers)
            _check_stored(url, run_store)
            console.print(f"end to end, {consumers} consumer(s): {run['events_per_s']:,} events/s")
            runs.append(run)
        if os.environ.get("LEDGER_BENCH_PROFILE") == "1":
            stores.append(store)
            profiled = _end_to_end(settings, settings.events_topic, EVENTS)
        copy = _copy_ceiling(url, stores[0], EVENTS)
    finally:
        for name in stores:
            _drop(url, name)
        _delete_topics(bootstrap, [settings.events_topic, settings.dlq_topic])
    naive = _naive(url, events)
    direct = _direct(url, events, settings.consume_batch_size)
    ceiling = copy["events_per_s"]
    best = max(runs, key=lambda r: r["events_per_s"])
    results: dict[str, Any] = {
        "events": EVENTS,
        "partitions": PARTITIONS,
        "publish": {"seconds": round(publish_s, 2), "events_per_s": round(EVENTS / publish_s)},
        "end_to_end": runs,
        "raw_copy": copy,
        "naive_one_per_transaction": naive,
        "ledger_record_batched_no_kafka": direct,
        "ratios_to_copy": {
            **{f"end_to_end_{r['consumers']}_consumer{'s' if r['consumers'] > 1 else ''}":
               round(r["events_per_s"] / ceiling, 3) for r in runs},
            "naive_one_per_transaction": round(naive["events_per_s"] / ceiling, 4),
            "ledger_record_batched_no_kafka": round(direct["events_per_s"] / ceiling, 3),
        },
        "target_end_to_end_ratio": TARGET,
    }
    if profiled is not None:
        results["end_to_end_in_process_profiled"] = profiled
    results["target_met"] = best["events_per_s"] / ceiling >= TARGET
    results["target_met_by"] = (
        f"{best['consumers']} consumer process(es)" if results["target_met"] else None
    )
    write_results("kafka_ingest", results)
    table = Table(title=f"Kafka -> PostgreSQL ledger, {EVENTS:,} events, {PARTITIONS} partitions")
    for name in ("path", "events", "events/s", "x COPY"):
        table.add_column(name, justify="right" if name != "path" else "left")
    rows = [("raw COPY (ceiling)", copy),
            *((f"end to end: ledger consume x{r['consumers']}", r) for r in runs),
            ("Ledger.record batched, no Kafka", direct),
            ("naive: 1 event per transaction", naive)]
    for label, row in rows:
        table.add_row(label, f"{row.get('measured_events', row['events']):,}",
                      f"{row['events_per_s']:,}", f"{row['events_per_s'] / ceiling:.1%}")
    console.print(table)
    verdict = "met" if results["target_met"] else "NOT met"
    console.print(f"target end to end >= {TARGET:.0%} of COPY: {verdict}")


if __name__ == "__main__":
    main()
