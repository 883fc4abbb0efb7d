"""Verdict lag: publish to Kafka at a fixed offered rate, measure per event publish ->
verdict queryable through the API, with 1, 2 and 3 `ledger work` processes.

In one run, on the same machine, database and broker:

1. **the ceiling**: a sample of the workload (default 50,000 events, LEDGER_BENCH_LAG_COPY_EVENTS)
   is recorded into a scratch store and its rows COPYed in binary into an equivalent table,
   best of three (bench/bench_kafka_ingest.py's raw COPY): events/s PostgreSQL takes with
   nothing in front of it;
2. **the ladder**: for each worker count (LEDGER_BENCH_LAG_WORKERS, default 1,2,3) and each
   offered load, a fraction of that ceiling (LEDGER_BENCH_LAG_FRACTIONS, default
   0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.3, climbed until one fails), a fresh store and fresh topics;
   the processes a user runs: `ledger serve` (LEDGER_WORK_MODE=kafka: reads and ingests),
   `ledger consume` (LEDGER_BENCH_LAG_CONSUMERS, default 1), `ledger work` x workers; the
   workload of LEDGER_BENCH_LAG_TENANTS tenants (default 12; the workers share tenants out)
   published at the offered rate for LEDGER_BENCH_LAG_SECONDS (default 30);
3. **per event**: its publish time; its tenant position, read from the store as the
   consumers commit it; the time a `GET /v1/violations?min_position=<that position>` of
   its tenant first answered 200 (one prober per tenant asks for the newest position it
   knows, again and again: an event's verdict time is the first answer at or past its
   position). Lag = verdict time - publish time; p50/p99 over the run, and growth = the
   median of the last third minus the median of the first third.

A step holds when every event's verdict came, p99 <= 2 s and growth <= 0.5 s. Reported: the
highest offered load (fraction of COPY) that holds, per worker count; inbound events
derived per second, and per core (per CPU second of the workers; and of every ledger
process: API, consumers, workers).
"""

from __future__ import annotations

import bisect
import functools
import os
import resource
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import psycopg
from rich.console import Console
from rich.table import Table

from bench import processes
from bench.bench_kafka_ingest import _copy_ceiling
from bench.bench_projections import _drop_store
from bench.common import bench_database_url, write_results
from bench.workload import workload
from cli.root import build_ledger
from consumers.messages import message_key
from consumers.topics import ensure_topics
from ledger.adapters.validation import default_validator
from ledger.application.tokens import TokenService
from ledger.config import Settings
from ledger.domain.access import Role
from ledger.domain.events import ENTRY_KIND_INBOUND


def _ints(name: str, default: str) -> list[int]:
    return [int(v) for v in os.environ.get(name, default).split(",") if v]


WORKERS = _ints("LEDGER_BENCH_LAG_WORKERS", "1,2,3")
FRACTIONS = [float(v) for v in os.environ.get(
    "LEDGER_BENCH_LAG_FRACTIONS", "0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.3").split(",") if v]
SECONDS = float(os.environ.get("LEDGER_BENCH_LAG_SECONDS", "30"))
TENANTS = int(os.environ.get("LEDGER_BENCH_LAG_TENANTS", "12"))
CONSUMERS = int(os.environ.get("LEDGER_BENCH_LAG_CONSUMERS", "1"))
COPY_EVENTS = int(os.environ.get("LEDGER_BENCH_LAG_COPY_EVENTS", "50000"))
PROJECTOR = os.environ.get("LEDGER_BENCH_LAG_PROJECTOR", "1") == "1"  # as deployed
KEEP = os.environ.get("LEDGER_BENCH_LAG_KEEP") == "1"  # the store, to look at afterwards
LOG_LEVEL = os.environ.get("LEDGER_BENCH_LAG_LOG_LEVEL", "WARNING")  # of the processes
BOUND_S, GROWTH_S, TARGET = 2.0, 0.5, 0.30
PARTITIONS = 12
console = Console(width=120)


@dataclass
class Tracker:
    """What the run saw: publish times, tenant positions, verdict answers."""

    # Keys are (tenant, event id): ids are unique per tenant only.
    published: dict[tuple[str, str], float] = field(default_factory=dict)
    position: dict[tuple[str, str], int] = field(default_factory=dict)
    seen: dict[tuple[str, str], float] = field(default_factory=dict)  # when found recorded
    newest: dict[str, int] = field(default_factory=dict)  # tenant -> newest position seen
    answers: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    statuses: dict[int, int] = field(default_factory=dict)  # probe answers by HTTP status

    def verdict_time(self, key: tuple[str, str]) -> float | None:
        tenant, position = key[0], self.position[key]
        answers = self.answers.get(tenant, [])
        index = bisect.bisect_left(answers, (position, 0.0))
        return answers[index][1] if index < len(answers) else None


def _ceiling(url: str) -> dict[str, Any]:
    name = f"bench_lagc_{uuid.uuid4().hex[:8]}"
    ledger = build_ledger(Settings(database_url=url, store_name=name))
    try:
        events = _events(COPY_EVENTS)
        for start in range(0, len(events), 2000):
            ledger.record(events[start : start + 2000])
        return _copy_ceiling(url, name, len(events))
    finally:
        ledger.store.close()
        _drop_store(url, name)


def _events(count: int) -> list[dict[str, Any]]:
    """The workload of TENANTS tenants, interleaved one event of each at a time."""
    per = [workload(f"lag-{k}", max(300, -(-count // TENANTS))) for k in range(TENANTS)]
    mixed = [e for group in zip(*per, strict=False) for e in group]
    return mixed[:count]


def _publish(bootstrap: str, topic: str, events: list[dict[str, Any]], rate: float,
             tracker: Tracker) -> float:
    """Send at `rate` events/s on a fixed schedule; returns the achieved rate."""
    from kafka import KafkaProducer

    validator = default_validator()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             batch_size=256 * 1024, max_request_size=8 * 1024 * 1024)
    started = time.perf_counter()
    for number, event in enumerate(events):
        due = started + number / rate
        delay = due - time.perf_counter()
        if delay > 0.002:
            time.sleep(delay)
        key = message_key(event, validator)
        tracker.published[event["tenant"], event["id"]] = time.perf_counter()
        producer.send(topic, key=key.encode() if key else None, value=orjson.dumps(event))
    producer.flush(timeout=120)
    producer.close(timeout=30)
    return len(events) / (time.perf_counter() - started)


def _follow_store(settings: Settings, tracker: Tracker) -> None:
    """Each recorded inbound entry's tenant position, as the consumers commit them."""
    ledger = build_ledger(settings)
    after = 0
    try:
        while not tracker.done.is_set():
            page = ledger.store.entry_notifications(after, 5000)
            for notification_id, entry in page:
                after = notification_id
                if entry.kind == ENTRY_KIND_INBOUND:
                    tracker.position[entry.tenant, entry.event_id] = entry.position
                    tracker.seen[entry.tenant, entry.event_id] = time.perf_counter()
                    tracker.newest[entry.tenant] = max(
                        tracker.newest.get(entry.tenant, 0), entry.position)
            if not page:
                time.sleep(0.05)
    finally:
        ledger.store.close()


def _probe(base: str, tenant: str, token: str, tracker: Tracker) -> None:
    """Ask for the newest known position of the tenant until the run is over."""
    answers = tracker.answers.setdefault(tenant, [])
    headers = {"Authorization": f"Bearer {token}", "X-Ledger-Tenant": tenant}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while not tracker.done.is_set():
            wanted = tracker.newest.get(tenant, 0)
            if not wanted or (answers and answers[-1][0] >= wanted):
                time.sleep(0.01)
                continue
            try:
                response = client.get("/v1/violations",
                                      params={"limit": 1, "min_position": wanted})
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            tracker.statuses[response.status_code] = (
                tracker.statuses.get(response.status_code, 0) + 1)
            if response.status_code == 200:
                answers.append((wanted, time.perf_counter()))


def _settings(url: str, bootstrap: str) -> tuple[Settings, dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(database_url=url, store_name=f"bench_lag_{tag}",
                        kafka_bootstrap=bootstrap, events_topic=f"bench.lag.{tag}.events",
                        dlq_topic=f"bench.lag.{tag}.dlq")
    env = {"LEDGER_DATABASE_URL": url, "LEDGER_STORE_NAME": settings.store_name,
           "LEDGER_KAFKA_BOOTSTRAP": bootstrap, "LEDGER_EVENTS_TOPIC": settings.events_topic,
           "LEDGER_DLQ_TOPIC": settings.dlq_topic,
           "LEDGER_ENTRIES_TOPIC": f"bench.lag.{tag}.entries",
           "LEDGER_KAFKA_GROUP": f"bench-lag-{tag}", "LEDGER_WORK_GROUP": f"bench-lagw-{tag}",
           "LEDGER_WORK_MODE": "kafka", "LEDGER_KAFKA_PARTITIONS": str(PARTITIONS),
           "LEDGER_METRICS_PORT": "0", "LEDGER_LOG_LEVEL": LOG_LEVEL}
    return settings, env


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _step(url: str, bootstrap: str, workers: int, rate: float) -> dict[str, Any]:
    """One offered load with `workers` workers, on a fresh store and topics."""
    settings, env = _settings(url, bootstrap)
    ensure_topics(bootstrap, {settings.events_topic: PARTITIONS,
                              env["LEDGER_ENTRIES_TOPIC"]: PARTITIONS})
    for topic in (settings.events_topic, env["LEDGER_ENTRIES_TOPIC"]):
        processes.wait_topic(bootstrap, topic, PARTITIONS)
    events = _events(round(rate * SECONDS))
    tenants = sorted({e["tenant"] for e in events})
    ledger = build_ledger(settings)  # the tables, before the processes race on them
    try:
        service = TokenService(ledger.store, ledger.clock)
        tokens = {t: service.create(t, Role.AUDITOR, None, issued_by="bench") for t in tenants}
    finally:
        ledger.store.close()
    port = processes.free_port()
    api = processes.start(["serve", "--port", str(port)], env)
    consumers = [processes.start(["consume", "--no-relay", "--metrics-port", "-1"], env)
                 for _ in range(CONSUMERS)]
    if PROJECTOR:  # the views in a process of their own, the workers only derive
        env = {**env, "LEDGER_WORK_PROJECT": "false"}
        consumers.append(processes.start(["projections", "follow"], env))
    work = [processes.start(["work"], env) for _ in range(workers)]
    tracker = Tracker()
    threads = [threading.Thread(target=_follow_store, args=(settings, tracker), daemon=True)]
    base = f"http://127.0.0.1:{port}"
    threads += [threading.Thread(target=_probe, args=(base, t, tokens[t], tracker), daemon=True)
                for t in tenants]
    try:
        processes.wait_ready(f"{base}/readyz", api)
        joined = processes.wait_assigned(bootstrap, env["LEDGER_KAFKA_GROUP"],
                                         settings.events_topic)
        if workers:
            joined += processes.wait_assigned(bootstrap, env["LEDGER_WORK_GROUP"],
                                              env["LEDGER_ENTRIES_TOPIC"])
        for thread in threads:
            thread.start()
        everyone = [api, *consumers, *work]
        roles = {"api": [api], "consume": consumers[:CONSUMERS],
                 "project": consumers[CONSUMERS:], "work": work}
        by_role_before = {r: processes.cpu_seconds(p.pid for p in ps) for r, ps in roles.items()}
        cpu_before = processes.cpu_seconds(p.pid for p in work)
        load_before = _own_cpu()
        all_before = processes.cpu_seconds(p.pid for p in everyone)
        achieved = _publish(bootstrap, settings.events_topic, events, rate, tracker)
        deadline = time.perf_counter() + max(60.0, SECONDS)
        while time.perf_counter() < deadline and not _caught_up(tracker, len(events)):
            time.sleep(0.2)
        cpu = processes.cpu_seconds(p.pid for p in work) - cpu_before
        all_cpu = processes.cpu_seconds(p.pid for p in everyone) - all_before
        by_role = {r: round(processes.cpu_seconds(p.pid for p in ps) - by_role_before[r], 1)
                   for r, ps in roles.items()}
        # The load itself (publisher, probers, store follower) shares the same two cores.
        by_role["bench_load"] = round(_own_cpu() - load_before, 1)
        rss = [processes.rss_mib(p.pid) for p in work]
        alive = all(p.poll() is None for p in [api, *consumers, *work])
    finally:
        tracker.done.set()
        processes.stop([*work, *consumers, api])
        if not KEEP:
            _drop_store(url, settings.store_name)
        else:
            console.print(f"kept for inspection: store {settings.store_name}")
        _delete_topics(bootstrap, "bench.lag." + settings.store_name.removeprefix("bench_lag_"))
    return {**_summary(events, tracker, rate, achieved, workers, cpu, rss, alive),
            "seconds_to_join_groups": round(joined, 1),
            "ledger_processes_cpu_seconds": round(all_cpu, 1),
            # Where the CPU of a step went: what an event costs each kind of process.
            "cpu_seconds_by_process": by_role,
            "verdicts_per_core_s_all_ledger_processes": round(len(events) / all_cpu)
            if all_cpu else None}


def _delete_topics(bootstrap: str, prefix: str) -> None:
    """The step's topics (events, entries, and the DLQ if one was made)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix + ".")]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def _caught_up(tracker: Tracker, events: int) -> bool:
    """Every event recorded and every tenant's newest position answered."""
    return len(tracker.position) == events and all(
        tracker.answers.get(t) and tracker.answers[t][-1][0] >= newest
        for t, newest in list(tracker.newest.items()))


def _summary(events: list[dict[str, Any]], tracker: Tracker, rate: float, achieved: float,
             workers: int, cpu: float, rss: list[float | None], alive: bool) -> dict[str, Any]:
    lags: list[tuple[float, float]] = []  # (publish time, lag)
    ingest: list[float] = []  # publish -> found recorded (the store polled every 50 ms)
    for event in events:
        key = (event["tenant"], event["id"])
        verdict = tracker.verdict_time(key) if key in tracker.position else None
        if verdict is not None:
            published = tracker.published[key]
            lags.append((published, verdict - published))
            ingest.append(tracker.seen[key] - published)
    ingest.sort()
    lags.sort()
    values = sorted(lag for _, lag in lags)
    third = len(lags) // 3
    growth = (statistics.median(lag for _, lag in lags[-third:])
              - statistics.median(lag for _, lag in lags[:third])) if third else 0.0
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))] if values else None
    complete = len(values) == len(events)
    seconds = max(1e-9, (max(t + lag for t, lag in lags) - lags[0][0])) if lags else 0.0
    return {
        "workers": workers, "offered_events_per_s": round(rate),
        "achieved_publish_events_per_s": round(achieved), "events": len(events),
        "verdicts": len(values), "recorded": len(tracker.position),
        "probe_statuses": {str(k): v for k, v in sorted(tracker.statuses.items())},
        "complete": complete, "processes_alive": alive,
        "lag_p50_s": round(statistics.median(values), 3) if values else None,
        "lag_p99_s": round(p99, 3) if p99 is not None else None,
        "lag_max_s": round(values[-1], 3) if values else None,
        "lag_growth_s": round(growth, 3),
        "lag_max_by_second": _by_second(lags),
        "recorded_p50_s": round(statistics.median(ingest), 3) if ingest else None,
        "recorded_p99_s": round(ingest[int(len(ingest) * 0.99)], 3) if ingest else None,
        "verdicts_per_s": round(len(values) / seconds) if seconds else None,
        "worker_cpu_seconds": round(cpu, 1),
        "derived_events_per_core_s": round(len(values) / cpu) if cpu else None,
        "worker_rss_mib": rss,
        "holds": bool(complete and alive and p99 is not None and p99 <= BOUND_S
                      and growth <= GROWTH_S),
    }


def _by_second(lags: list[tuple[float, float]]) -> list[float]:
    """The longest lag of the events published in each second of the run: where a stall
    shows (a p99 alone does not say whether it was one pause or a steady drift)."""
    if not lags:
        return []
    start, worst = lags[0][0], dict[int, float]()
    for published, lag in lags:
        second = int(published - start)
        worst[second] = max(worst.get(second, 0.0), lag)
    return [round(worst.get(s, 0.0), 2) for s in range(max(worst) + 1)]


def main() -> None:
    url = bench_database_url()
    if url is None:
        console.print("LEDGER_BENCH_DATABASE_URL is not set: verdict lag benchmark skipped")
        return
    if not processes.has_command("work"):
        console.print("this checkout has no `ledger work`: verdict lag benchmark skipped")
        return
    bootstrap = os.environ.get("LEDGER_KAFKA_BOOTSTRAP", Settings().kafka_bootstrap)
    console.print(f"raw COPY ceiling on {COPY_EVENTS:,} events")
    ceiling = _ceiling(url)
    copy_rate = ceiling["events_per_s"]
    steps: list[dict[str, Any]] = []
    highest: dict[int, float | None] = {}
    for workers in WORKERS:
        highest[workers] = None
        for fraction in FRACTIONS:
            console.print(f"{workers} worker(s), {fraction:.2%} of COPY = "
                          f"{copy_rate * fraction:,.0f} events/s for {SECONDS:.0f} s")
            step = {"fraction_of_copy": fraction,
                    **_retrying(functools.partial(_step, url, bootstrap, workers,
                                                  copy_rate * fraction))}
            steps.append(step)
            _report(ceiling, steps, highest, final=False)
            console.print(f"  p50 {step['lag_p50_s']} s, p99 {step['lag_p99_s']} s, growth "
                          f"{step['lag_growth_s']} s, holds: {step['holds']}")
            if not step["holds"]:
                break
            highest[workers] = fraction
    _report(ceiling, steps, highest)


def _retrying(step: Callable[[], dict[str, Any]], attempts: int = 3) -> dict[str, Any]:
    """A step again, from the start, when the shared PostgreSQL or broker was restarted
    under it (other sessions' fault tests do that): a process exits or a connection drops."""
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except (RuntimeError, OSError, psycopg.Error) as exc:
            if attempt == attempts:
                raise
            console.print(f"  step failed ({exc!r:.200}); again in 15 s")
            time.sleep(15)
    raise AssertionError("unreachable")


def _report(ceiling: dict[str, Any], steps: list[dict[str, Any]],
            highest: dict[int, float | None], final: bool = True) -> None:
    results = {
        "raw_copy": ceiling, "seconds_per_step": SECONDS, "tenants": TENANTS,
        "consumers": CONSUMERS, "partitions": PARTITIONS,
        "bound": {"lag_p99_s": BOUND_S, "lag_growth_s": GROWTH_S},
        "steps": steps,
        "highest_fraction_of_copy_holding_bound": {str(k): v for k, v in highest.items()},
        "target_fraction_of_copy": TARGET,
        "target_met": any(v is not None and v >= TARGET for v in highest.values()),
        "machine_note": "2 cores shared with other sessions' work; API, consumers, workers, "
                        "PostgreSQL and Kafka all on the same machine",
    }
    write_results("verdict_lag", results)
    if not final:
        return
    table = Table(title=f"verdict lag (publish -> GET ?min_position answers), raw COPY "
                  f"{ceiling['events_per_s']:,} events/s")
    for column in ("workers", "x COPY", "offered ev/s", "p50 s", "p99 s", "growth s",
                   "verdicts/s", "per core-s", "holds"):
        table.add_column(column, justify="right")
    for s in steps:
        table.add_row(str(s["workers"]), f"{s['fraction_of_copy']:.2%}",
                      f"{s['offered_events_per_s']:,}", str(s["lag_p50_s"]),
                      str(s["lag_p99_s"]), str(s["lag_growth_s"]),
                      str(s["verdicts_per_s"]), str(s["derived_events_per_core_s"]),
                      "yes" if s["holds"] else "no")
    console.print(table)


if __name__ == "__main__":
    main()
