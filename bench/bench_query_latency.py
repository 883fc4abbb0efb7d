"""Read API latency over >= 1M ledger entries on PostgreSQL, 50 concurrent clients:
`GET /v1/cases/{case_id}/chain` and `GET /v1/liabilities?employee_id=`, beside
`GET /healthz` on the same server (the ceiling).

The store (built once, reused by later runs):
- many tenants (default 10), each with an org chart of 6 departments of 5 units, 12
  employees a unit (a head; members report to it, unit heads to their department's
  head), three policies (two on sales orders, one on purchase orders, reviews escalating
  two levels), four processes of two or three steps with deadlines, led by units;
- cases (order, purchase, return, onboarding) opened by random employees: a submission
  (about one in four breaks a policy), the supervisor's approval or review (in time,
  late, or never), the steps completed by the lead unit (most on time, some late, a few
  never), the case closed; now and then an employee moves to another unit. Events arrive
  in business-time order, tenants interleaved, as a live feed would deliver them;
- recorded through `Ledger.record` (validation, idempotency, hash chain) in batches of
  5,000, in rounds; after each round the real `ResponsibilityEngine` derives its events
  (`run_once` until idle) into the same ledgers; rounds go on until the ledgers hold the
  target number of entries (inbound + derived, default 1,000,000); then
  `Projections.catch_up()` builds the read models and the view tables are VACUUM ANALYZEd.
- a marker table (`<store>_bench_dataset`) keyed by the dataset's version and parameters
  says the store is complete; a later run finding it reuses the store
  (LEDGER_BENCH_QUERY_REBUILD=1 forces a rebuild).

The measurement:
- the API served by uvicorn in a subprocess, `--workers 2` (the machine's cores), each
  worker wired by the project's bootstrap (`build_ledger`, `api.app.create_app`) with no
  projection worker and no responsibility engine running in the background;
- one auditor token per tenant (`TokenService.create`), sent as `Authorization: Bearer`
  with every request, together with `X-Ledger-Tenant` (read by the API until it derives
  the tenant from the token);
- the load generator in a process of its own: asyncio, 50 simulated clients, each on one
  keep-alive connection, sending its next request when the previous one answered; per
  endpoint a warm-up, then a fixed duration; chains of random cases, liabilities of random
  employees among those with at least one liability. The client writes and parses
  HTTP/1.1 itself (`raw`): httpx costs several times the CPU per request, and one
  AsyncClient with a 50-connection pool saturated a core at a few dozen requests/s
  (httpcore scans its pool per request), so on a 2-core machine it measured itself, not
  the server; /healthz is also measured with httpx (one AsyncClient per simulated client)
  for comparison (LEDGER_BENCH_QUERY_CLIENT=httpx makes httpx the main client);
- p50/p90/p99/max latency, requests/s, non-2xx and failed requests; the CPU used in the
  measured window by the load generator, the server's workers, PostgreSQL and the whole
  machine, so that a saturated client shows; EXPLAIN ANALYZE of both queries' SQL.

`LEDGER_BENCH_DATABASE_URL=... python -m bench.bench_query_latency`; knobs:
LEDGER_BENCH_QUERY_ENTRIES (1000000), _TENANTS (10), _CLIENTS (50), _WORKERS (2),
_SECONDS (20), _WARMUP_S (5), _POOL (the server's LEDGER_DB_POOL_SIZE, default 5),
_CLIENT (raw), _REBUILD (0).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import importlib.util
import itertools
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import psycopg
import uvicorn
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from fastapi import FastAPI
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.common import bench_database_url, write_results
from cli.root import build_ledger, load_settings
from ledger.adapters.store import StoreUnavailable
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger, LedgerUnavailable
from ledger.application.tokens import TokenService
from ledger.config import Settings
from ledger.domain.access import Role, parse_token
from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded
from ledger.domain.recording import Outcome, Status
from projections.runner import Projections
from tests.support.envelopes import make_envelope

ROOT = Path(__file__).resolve().parent.parent
MODULE = "bench.bench_query_latency"
DATASET_VERSION = 1
TARGET = int(os.environ.get("LEDGER_BENCH_QUERY_ENTRIES", "1000000"))
TENANTS = int(os.environ.get("LEDGER_BENCH_QUERY_TENANTS", "10"))
CLIENTS = int(os.environ.get("LEDGER_BENCH_QUERY_CLIENTS", "50"))
WORKERS = int(os.environ.get("LEDGER_BENCH_QUERY_WORKERS", "2"))
SECONDS = float(os.environ.get("LEDGER_BENCH_QUERY_SECONDS", "20"))
WARMUP_S = float(os.environ.get("LEDGER_BENCH_QUERY_WARMUP_S", "5"))
POOL = int(os.environ.get("LEDGER_BENCH_QUERY_POOL", str(Settings.model_fields[
    "db_pool_size"].default)))
CLIENT = os.environ.get("LEDGER_BENCH_QUERY_CLIENT", "raw")  # or httpx
REBUILD = os.environ.get("LEDGER_BENCH_QUERY_REBUILD", "") not in ("", "0")
SEED = 20260105
RECORD_BATCH = 5000  # events per Ledger.record call
ROUND_EVENTS = 150_000  # inbound events per round (then the engine catches up)
SLOW_P99_MS = 200.0
T = TypeVar("T")
console = Console() if sys.stdout.isatty() else Console(width=150)


def _say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def store_name() -> str:
    """The store's table prefix: names the dataset's version (a generator change bumps it)
    and its size when not the default, so differently sized stores can live side by side."""
    size = "" if (TARGET, TENANTS) == (1_000_000, 10) else f"_{TARGET}_{TENANTS}"
    return f"bench_query_v{DATASET_VERSION}{size}"


def dataset_config() -> dict[str, Any]:
    return {"version": DATASET_VERSION, "target_entries": TARGET, "tenants": TENANTS,
            "seed": SEED, "departments": DEPARTMENTS, "units_per_department": SUBUNITS,
            "employees_per_unit": PER_UNIT}


# --- the workload -------------------------------------------------------------------------

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DEPARTMENTS, SUBUNITS, PER_UNIT = 6, 5, 12
CASE_GAP_S = 20.0  # mean time between two case openings, all tenants together
TRANSFER_EVERY = 2500  # cases between two transfers of an employee to another unit
OFFSETS = (timezone(timedelta(hours=8)), UTC, timezone(timedelta(hours=-5)))
POLICIES: tuple[dict[str, Any], ...] = (
    {"policy_id": "return-window", "version": 1, "applies_to": "sales_order",
     "rule": "payload.return_days <= 3", "severity": "major", "review_within": "PT24H",
     "escalate_levels": 2, "description": "Returns beyond 3 days need an exception."},
    {"policy_id": "discount-cap", "version": 1, "applies_to": "sales_order",
     "rule": "payload.discount <= 30", "severity": "minor", "review_within": "P2D"},
    {"policy_id": "spend-limit", "version": 1, "applies_to": "purchase_order",
     "rule": "payload.amount <= 50000", "severity": "critical", "review_within": "PT8H",
     "escalate_levels": 2},
)
#: process: (case id prefix, operation, weight, steps as (name, due))
PROCESSES: dict[str, tuple[str, str, float, tuple[tuple[str, str], ...]]] = {
    "order": ("SO", "sales_order", 0.45,
              (("check", "PT8H"), ("ship", "P2D"), ("invoice", "P1D"))),
    "purchase": ("PO", "purchase_order", 0.2, (("budget", "P1D"), ("order-goods", "P3D"))),
    "return": ("RT", "sales_order", 0.2, (("inspect", "PT12H"), ("refund", "P1D"))),
    "onboarding": ("HR", "hr_request", 0.15,
                   (("contract", "P2D"), ("equipment", "P1D"), ("training", "P5D"))),
}
DUE = {"PT8H": timedelta(hours=8), "PT12H": timedelta(hours=12), "P1D": timedelta(days=1),
       "P2D": timedelta(days=2), "P3D": timedelta(days=3), "P5D": timedelta(days=5)}


def _env(tenant: str, eid: str, type_: str, at: datetime, data: dict[str, Any],
         subject: str | None = None, source: str = "erp/cases") -> dict[str, Any]:
    return make_envelope(eid, type_, at, data, tenant=tenant, source=source, subject=subject)


@dataclass
class _Org:
    """One tenant's org chart as the generator keeps it (transfers included)."""

    tenant: str
    offset: timezone
    units: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # parent, head
    members: dict[str, list[str]] = field(default_factory=dict)  # unit -> employees
    unit_of: dict[str, str] = field(default_factory=dict)
    supervisor: dict[str, str | None] = field(default_factory=dict)
    leads: dict[str, list[str]] = field(default_factory=dict)  # process -> lead unit per step
    cases: int = 0

    @property
    def employees(self) -> list[str]:
        return list(self.unit_of)


class Workload:
    """Inbound events of every tenant in business-time order, produced on demand."""

    def __init__(self, tenants: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tenants = [f"tenant-{k:02d}" for k in range(tenants)]
        #: Larger tenants first: tenant k has 1 / (1 + k/4) of tenant 0's cases.
        self.weights = [1 / (1 + k / 4) for k in range(tenants)]
        self.orgs = {t: _Org(t, OFFSETS[k % len(OFFSETS)]) for k, t in enumerate(self.tenants)}
        self._pending: list[tuple[datetime, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._clock = START
        self._cases = 0
        self._transfers = 0
        self.events = 0
        for org in self.orgs.values():
            for event in self._definitions(org):
                self._push(event, START - timedelta(days=30))

    # the org chart, policies and processes of a tenant
    def _definitions(self, org: _Org) -> list[dict[str, Any]]:
        rng, t, at = self.rng, org.tenant, (START - timedelta(days=30)).astimezone(org.offset)
        out = []
        for d in range(DEPARTMENTS):
            dept = f"d{d}"
            for unit, parent in [(dept, None)] + [(f"{dept}-u{s}", dept) for s in range(SUBUNITS)]:
                head = f"e-{unit}-0"
                org.units[unit] = (parent, head)
                data = {"unit_id": unit, "name": f"Unit {unit}", "head_id": head}
                if parent:
                    data["parent_id"] = parent
                out.append(_env(t, f"unit-{unit}", "ledger.org.unit.defined", at, data,
                                source="oa/hr"))
                for k in range(PER_UNIT):
                    employee = f"e-{unit}-{k}"
                    boss = (org.units[parent][1] if parent else None) if k == 0 else head
                    org.members.setdefault(unit, []).append(employee)
                    org.unit_of[employee] = unit
                    org.supervisor[employee] = boss
                    person = {"employee_id": employee, "name": f"员工 {unit}-{k}",
                              "unit_id": unit, "title": "head" if k == 0 else "clerk"}
                    if boss:
                        person["supervisor_id"] = boss
                    out.append(_env(t, f"assign-{employee}", "ledger.org.employee.assigned",
                                    at, person, source="oa/hr"))
        for policy in POLICIES:
            out.append(_env(t, f"policy-{policy['policy_id']}", "ledger.policy.defined", at,
                            dict(policy), source="oa/policy"))
        subunits = [u for u, (parent, _) in org.units.items() if parent]
        for process, (_, _, _, steps) in PROCESSES.items():
            leads = [rng.choice(subunits) for _ in steps]
            org.leads[process] = leads
            definition = [{"step": name, "title": name.title(), "lead": {"unit_id": lead},
                           "due": due, **({"after": [steps[i - 1][0]]} if i else {})}
                          for i, ((name, due), lead) in enumerate(zip(steps, leads, strict=True))]
            out.append(_env(t, f"process-{process}", "ledger.process.defined", at,
                            {"process_id": process, "version": 1, "steps": definition},
                            source="oa/process"))
        return out

    def _push(self, event: dict[str, Any], at: datetime) -> None:
        heapq.heappush(self._pending, (at, next(self._seq), event))

    def take(self, count: int) -> list[dict[str, Any]]:
        """The next `count` events (fewer only if none are left, which never happens)."""
        out: list[dict[str, Any]] = []
        while len(out) < count:
            while self._pending and (len(out) < count) and self._pending[0][0] <= self._clock:
                out.append(heapq.heappop(self._pending)[2])
            if len(out) < count:
                self._clock += timedelta(seconds=self.rng.expovariate(1 / CASE_GAP_S))
                self._new_case(self._clock)
        self.events += len(out)
        return out

    def _new_case(self, at: datetime) -> None:
        rng = self.rng
        self._cases += 1
        if self._cases % TRANSFER_EVERY == 0:
            self._transfer(at)
        tenant = rng.choices(self.tenants, self.weights)[0]
        org = self.orgs[tenant]
        org.cases += 1
        at = at.astimezone(org.offset)
        process = rng.choices(list(PROCESSES), [p[2] for p in PROCESSES.values()])[0]
        prefix, operation, _, steps = PROCESSES[process]
        case = f"{prefix}-{org.cases:07d}"
        actor = rng.choice(org.employees)
        self._push(_env(tenant, f"{case}-open", "ledger.case.opened", at,
                        {"title": f"{process} {case}", "opened_by": actor,
                         "process_id": process, "process_version": 1}, case), at)
        submitted = at + timedelta(minutes=rng.randint(1, 30))
        payload, violating = self._payload(operation)
        submit_id = f"{case}-submit"
        self._push(_env(tenant, submit_id, "ledger.operation.submitted", submitted,
                        {"actor_id": actor, "operation": operation, "payload": payload}, case),
                   submitted)
        self._supervise(org, case, actor, submit_id, submitted, violating)
        start, leads = submitted, org.leads[process]
        for (step, due), lead in zip(steps, leads, strict=True):
            roll = rng.random()
            if roll > 0.97:  # never done: the case stays open, later steps never start
                return
            share = rng.uniform(0.15, 0.95) if roll < 0.78 else rng.uniform(1.05, 2.5)
            done = start + DUE[due] * share
            doer = org.units[lead][1] if rng.random() < 0.6 else rng.choice(org.members[lead])
            self._push(_env(tenant, f"{case}-{step}", "ledger.step.completed", done,
                            {"step": step, "actor_id": doer}, case), done)
            start = done
        if rng.random() < 0.9:
            closed = start + timedelta(hours=rng.uniform(1, 24))
            self._push(_env(tenant, f"{case}-close", "ledger.case.closed", closed,
                            {"actor_id": actor, "outcome": "done"}, case), closed)

    def _payload(self, operation: str) -> tuple[dict[str, Any], bool]:
        rng = self.rng
        if operation == "sales_order":
            days = rng.choice([1, 2, 3, 3, 3, 3, 5, 7])
            discount = rng.choice([0, 0, 5, 10, 15, 20, 25, 40])
            return ({"return_days": days, "discount": discount,
                     "amount": rng.randrange(100, 99999)}, days > 3 or discount > 30)
        if operation == "purchase_order":
            amount = rng.randrange(500, 50000) if rng.random() < 0.85 else rng.randrange(
                50001, 200000)
            return {"amount": amount, "vendor": f"v-{rng.randrange(500)}"}, amount > 50000
        return {"position": rng.choice(["clerk", "engineer", "analyst"])}, False

    def _supervise(self, org: _Org, case: str, actor: str, submit_id: str,
                   submitted: datetime, violating: bool) -> None:
        """The supervisor approves, reviews (in time or late) or does nothing."""
        rng, tenant = self.rng, org.tenant
        boss = org.supervisor[actor]
        if boss is None:
            return
        roll = rng.random()
        if not violating or roll < 0.45:
            if violating or roll < 0.9:
                when = submitted + timedelta(minutes=rng.randint(10, 240))
                self._push(_env(tenant, f"{case}-approve", "ledger.operation.approved", when,
                                {"actor_id": boss, "target_id": submit_id}, case), when)
            return
        if roll < 0.88:
            late = roll >= 0.8
            decision = "excused" if 0.7 <= roll < 0.8 else "upheld"
            when = submitted + timedelta(hours=rng.uniform(30, 60) if late else
                                         rng.uniform(1, 6))
            self._push(_env(tenant, f"{case}-review", "ledger.violation.reviewed", when,
                            {"actor_id": boss, "violation_id": submit_id,
                             "decision": decision}, case), when)

    def _transfer(self, at: datetime) -> None:
        """An employee (not a head) moves to another unit and reports to its head."""
        rng = self.rng
        org = self.orgs[rng.choice(self.tenants)]
        movable = [e for e in org.employees if not e.endswith("-0")]
        employee = rng.choice(movable)
        old = org.unit_of[employee]
        new = rng.choice([u for u in org.units if u != old])
        head = org.units[new][1]
        org.members[old].remove(employee)
        org.members[new].append(employee)
        org.unit_of[employee], org.supervisor[employee] = new, head
        self._transfers += 1
        self._push(_env(org.tenant, f"transfer-{self._transfers}",
                        "ledger.org.employee.assigned", at.astimezone(org.offset),
                        {"employee_id": employee, "name": f"员工 {employee}", "unit_id": new,
                         "supervisor_id": head}, source="oa/hr"), at)

    def summary(self) -> dict[str, Any]:
        return {"tenants": len(self.tenants),
                "units": sum(len(o.units) for o in self.orgs.values()),
                "employees": sum(len(o.unit_of) for o in self.orgs.values()),
                # cases begun; the very last may not have had an event delivered yet
                "cases": sum(o.cases for o in self.orgs.values()),
                "cases_per_tenant": {o.tenant: o.cases for o in self.orgs.values()},
                "transfers": self._transfers, "inbound_events_generated": self.events,
                "business_time": {"from": START.isoformat(), "to": self._clock.isoformat()}}


# --- building the store -------------------------------------------------------------------

def _marker_table(store: str) -> str:
    return f"{store}_bench_dataset"


def _read_marker(url: str, store: str) -> dict[str, Any] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                              (_marker_table(store),)).fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute(sql.SQL("SELECT document FROM {} WHERE version = %s").format(
            sql.Identifier(_marker_table(store))), (DATASET_VERSION,)).fetchone()
    if row is None:
        return None
    document: dict[str, Any] = orjson.loads(row[0])
    return document if document.get("config") == dataset_config() else None


def _write_marker(url: str, store: str, document: dict[str, Any]) -> None:
    table = sql.Identifier(_marker_table(store))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (version INT PRIMARY KEY, "
                             "document TEXT NOT NULL)").format(table))
        conn.execute(sql.SQL("INSERT INTO {} (version, document) VALUES (%s, %s) ON CONFLICT "
                             "(version) DO UPDATE SET document = excluded.document").format(
            table), (DATASET_VERSION, orjson.dumps(document).decode()))


def _drop_store(url: str, store: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND (tablename = ANY(%s) OR starts_with(tablename, %s))",
            ([f"{store}_events", f"{store}_tracking", _marker_table(store)],
             f"{store}_view_"))]
        for name in names:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def _open(settings: Settings) -> Ledger:
    """Tables are created on open; another session's DDL can collide (`tuple concurrently
    updated`) on a shared server, so try again."""
    for attempt in range(3):
        try:
            return build_ledger(settings)
        except PersistenceError:
            if attempt == 2:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


class _Counts:
    """Entries committed, by kind, told by the ledger's after-append hook."""

    def __init__(self) -> None:
        self.inbound = 0
        self.derived = 0

    def __call__(self, outcomes: Sequence[Outcome],
                 events: Sequence[DomainEventProtocol[Any]]) -> None:
        for event in events:
            if isinstance(event, EntryRecorded):
                if event.kind == ENTRY_KIND_DERIVED:
                    self.derived += 1
                else:
                    self.inbound += 1

    @property
    def entries(self) -> int:
        return self.inbound + self.derived


def _build(url: str, store: str) -> dict[str, Any]:
    started = time.perf_counter()
    _drop_store(url, store)
    settings = Settings(database_url=url, store_name=store, db_pool_size=6)
    ledger = _open(settings)
    counts = _Counts()
    ledger.after_append.append(counts)
    workload = Workload(TENANTS, SEED)
    engine = ResponsibilityEngine(ledger, settings.allowed_lateness, ledger.clock)
    timings = {"ingest_s": 0.0, "engine_s": 0.0, "projections_s": 0.0, "vacuum_s": 0.0}
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed:,.0f}/{task.total:,.0f}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            total = progress.add_task("ledger entries (inbound + derived)", total=TARGET)
            rounds = 0
            while counts.entries < TARGET:
                rounds += 1
                ratio = counts.entries / counts.inbound if counts.inbound else 1.6
                wanted = min(ROUND_EVENTS, max(5000, math.ceil(
                    (TARGET - counts.entries) / ratio * 1.02)))
                events = workload.take(wanted)
                step = progress.add_task(f"round {rounds}: Ledger.record", total=len(events))
                clock = time.perf_counter()
                for i in range(0, len(events), RECORD_BATCH):
                    batch = events[i : i + RECORD_BATCH]
                    outcomes = _retrying("Ledger.record", partial(ledger.record, batch))
                    # a duplicate: committed by an attempt whose answer the database lost
                    bad = [o for o in outcomes if o.status is Status.REJECTED]
                    if bad:
                        raise RuntimeError(f"rejected: {bad[0]}")
                    progress.update(step, advance=len(outcomes))
                    progress.update(total, completed=counts.entries)
                timings["ingest_s"] += time.perf_counter() - clock
                progress.remove_task(step)
                clock = time.perf_counter()
                status = engine.status()
                step = progress.add_task(f"round {rounds}: engine (notifications)",
                                         total=status.head, completed=status.position)
                while _retrying("engine", engine.run_once):
                    status = engine.status()
                    progress.update(step, completed=status.position, total=status.head)
                    progress.update(total, completed=counts.entries)
                timings["engine_s"] += time.perf_counter() - clock
                progress.remove_task(step)
                _say(f"round {rounds}: {len(events):,} inbound events; ledger at "
                     f"{counts.entries:,} entries ({counts.derived:,} derived); ingest "
                     f"{timings['ingest_s']:.0f} s, engine {timings['engine_s']:.0f} s so far")
            clock = time.perf_counter()
            projections = Projections(ledger.store, store_name=store,
                                      lateness=settings.allowed_lateness)
            head = ledger.store.max_notification_id()
            step = progress.add_task("projections catch-up (notifications)", total=head)
            _retrying("projections", lambda: projections.catch_up(
                progress=lambda at, of: progress.update(step, completed=at, total=of)))
            timings["projections_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        _retrying("VACUUM ANALYZE", lambda: _vacuum(url, store))
        timings["vacuum_s"] = time.perf_counter() - clock
        tenants = _retrying("heads", lambda: {t: ledger.store.head(t).position
                                              for t in workload.tenants})
    finally:
        ledger.store.close()
    # Every generated event was recorded exactly once (a retried batch's duplicates were
    # not); the hook's counts may miss an append whose answer was lost, the heads do not.
    entries = sum(tenants.values())
    inbound = workload.events
    seconds = time.perf_counter() - started
    return {
        "config": dataset_config(), "store": store,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
        "build_phases_s": {k: round(v, 1) for k, v in timings.items()},
        "rounds": rounds,
        "entries": entries, "inbound_entries": inbound, "derived_entries": entries - inbound,
        "entries_per_tenant": tenants,
        "notifications": head, **workload.summary(),
        "made_by": f"Ledger.record (batches of {RECORD_BATCH}, validation, idempotency, hash "
                   "chain) in rounds, ResponsibilityEngine.run_once until idle after each, "
                   "then Projections.catch_up and VACUUM ANALYZE of the view tables",
    }


def _vacuum(url: str, store: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name in _view_tables(conn, store):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(name)))


#: What a restart of the database looks like from here (other sessions' fault tests stop
#: and start the shared server): wait for it and carry on.
TRANSIENT = (OperationalError, InterfaceError, psycopg.OperationalError, LedgerUnavailable,
             StoreUnavailable)


def _retrying(what: str, fn: Callable[[], T]) -> T:
    """`fn()`, again while the database is away (up to 5 minutes). Safe for what the build
    retries: recording is idempotent, the engine writes its position with its output, and
    projections resume from their own positions."""
    deadline = time.monotonic() + 300
    while True:
        try:
            return fn()
        except TRANSIENT as exc:
            if time.monotonic() > deadline:
                raise
            _say(f"[yellow]{what}: {type(exc).__name__}: {str(exc)[:120]}; trying again in "
                 "2 s[/yellow]")
            time.sleep(2)


def _view_tables(conn: psycopg.Connection[Any], store: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND "
        "starts_with(tablename, %s) ORDER BY tablename", (f"{store}_view_",))]


def _views_current(url: str, store: str) -> bool:
    """No ledger entry after the position of any view (tokens and other non-entries may
    follow: the views ignore them)."""
    settings = Settings(database_url=url, store_name=store)
    ledger = _open(settings)
    try:
        projections = Projections(ledger.store, store_name=store,
                                  lateness=settings.allowed_lateness)
        lowest = min(s.position for s in projections.status())
        return not ledger.store.entry_notifications(lowest, 1)
    finally:
        ledger.store.close()


def dataset(url: str) -> tuple[dict[str, Any], bool]:
    """The store's description and whether it was reused."""
    store = store_name()
    found = None if REBUILD else _read_marker(url, store)
    if found is not None and _views_current(url, store):
        _say(f"reusing store [bold]{store}[/bold]: {found['entries']:,} entries, built "
             f"{found['built_at']} in {found['build_seconds']:,} s")
        return found, True
    _say(f"building store [bold]{store}[/bold]: >= {TARGET:,} ledger entries, "
         f"{TENANTS} tenants (once; later runs reuse it)")
    document = _build(url, store)
    _write_marker(url, store, document)
    _say(f"built in {document['build_seconds']:,} s {document['build_phases_s']}: "
         f"{document['entries']:,} entries ({document['inbound_entries']:,} inbound, "
         f"{document['derived_entries']:,} derived), {document['cases']:,} cases, "
         f"{document['employees']:,} employees")
    return document, False


# --- the server ---------------------------------------------------------------------------

def server_app() -> FastAPI:
    """Each uvicorn worker's app (`--factory`): the project's bootstrap and read API from
    the environment (LEDGER_DATABASE_URL, LEDGER_STORE_NAME), with no projection worker
    and no responsibility engine in the background."""
    from api.app import create_app  # here: the build needs no API (being rewritten alongside)
    from api.queries import ReadSide

    settings = load_settings()
    ledger = build_ledger(settings)
    return create_app(ledger, read_side=ReadSide(ledger, settings=settings,
                                                 run_projections=False))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(url: str, store: str, log: Path) -> Iterator[tuple[str, int, list[str]]]:
    """The API in a subprocess: (base URL, pid, command)."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", f"{MODULE}:server_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
               "--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_STORE_NAME": store,
           "LEDGER_DB_POOL_SIZE": str(POOL)}
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"server exited ({server.returncode}):\n"
                                   f"{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base, server.pid, command
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the load generator (runs in a process of its own) ------------------------------------

@dataclass(frozen=True)
class Job:
    name: str
    base_url: str
    targets: list[tuple[str, str]]  # (path, tenant); tenant "" sends no credentials
    headers: dict[str, dict[str, str]]  # per tenant
    clients: int
    warmup_s: float
    seconds: float
    seed: int
    server_pid: int
    client: str = "raw"  # "raw" or "httpx"
    item_marker: bytes | None = None  # counted in each body: items per response


@dataclass
class _Stats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    first_failure: str | None = None
    first_bad_status: str | None = None
    bytes: int = 0
    items: int = 0


class _RawClient:
    """One keep-alive HTTP/1.1 connection, requests written and responses parsed by hand
    (Content-Length or chunked bodies): a fraction of httpx's CPU per request, which on a
    2-core machine shared with the server is CPU the server gets back."""

    def __init__(self, base_url: str) -> None:
        address = base_url.removeprefix("http://").rstrip("/")
        host, _, port = address.partition(":")
        self.host, self.port = host, int(port or 80)
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, headers: dict[str, str] | None) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Accept: application/json"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            fields = {}
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                fields[name.strip().lower()] = value.strip().lower()
            if fields.get(b"transfer-encoding") == b"chunked":
                body = await self._chunks(reader)
            else:
                body = await reader.readexactly(int(fields.get(b"content-length", b"0")))
            if fields.get(b"connection") == b"close":
                await self.aclose()
        except BaseException:
            await self.aclose()
            raise
        return status, body

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                return b"".join(p[:-2] for p in parts)

    async def aclose(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class _HttpxClient:
    """httpx, one AsyncClient (and connection) per simulated client: httpcore's shared pool
    scans every connection for every request, which made one shared 50-connection pool
    use a whole core for a few dozen requests/s."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=httpx.Limits(
            max_connections=1, max_keepalive_connections=1))

    async def get(self, path: str, headers: dict[str, str] | None) -> tuple[int, bytes]:
        response = await self._client.get(path, headers=headers)
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


_Client = _RawClient | _HttpxClient


def _ticks(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    return 0


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = (entry / "stat").read_text()
                name = text[text.index("(") + 1 : text.rindex(")")]
                found.append((int(entry.name), int(text.rsplit(")", 1)[1].split()[1]), name))
    return found


def _machine_busy() -> float:
    """CPU seconds the machine has been busy (all but idle and iowait), all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _busy_cores(seconds: float) -> float:
    before = _machine_busy()
    time.sleep(seconds)
    return (_machine_busy() - before) / seconds


@dataclass(frozen=True)
class _Snapshot:
    """CPU seconds so far of this process (the load generator), of the server's processes
    (its supervisor and workers) and of PostgreSQL's, by pid, and of the whole machine."""

    client: float
    server: dict[int, float]
    postgres: dict[int, float]
    machine: float

    @classmethod
    def take(cls, server_pid: int) -> _Snapshot:
        hz = os.sysconf("SC_CLK_TCK")
        processes = _processes()
        server = [server_pid] + [pid for pid, parent, _ in processes if parent == server_pid]
        postgres = [pid for pid, _, name in processes if name.startswith("postgres")]
        return cls(time.process_time(), {p: _ticks(p) / hz for p in server},
                   {p: _ticks(p) / hz for p in postgres}, _machine_busy())

    def cores_since(self, before: _Snapshot, wall: float) -> dict[str, float]:
        """Cores used in between; a process that ended in between is left out (its last
        ticks are gone with it), one that started counts from zero."""

        def spent(now: dict[int, float], then: dict[int, float]) -> float:
            return sum(max(0.0, t - then.get(p, 0.0)) for p, t in now.items())

        return {"client": (self.client - before.client) / wall,
                "server": spent(self.server, before.server) / wall,
                "postgres": spent(self.postgres, before.postgres) / wall,
                "machine": (self.machine - before.machine) / wall}


async def _phase(clients: list[_Client], job: Job, seconds: float, stats: _Stats) -> None:
    end = time.perf_counter() + seconds

    async def one_client(number: int, client: _Client) -> None:
        rng = random.Random(job.seed * 1000 + number)
        while time.perf_counter() < end:
            path, tenant = rng.choice(job.targets)
            start = time.perf_counter()
            try:
                status, body = await client.get(path, job.headers.get(tenant))
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError, httpx.HTTPError) as exc:
                stats.failures += 1
                stats.first_failure = stats.first_failure or f"{path}: {exc!r}"
                continue
            stats.latencies.append(time.perf_counter() - start)
            stats.statuses[status] += 1
            stats.bytes += len(body)
            if job.item_marker is not None:
                stats.items += body.count(job.item_marker)
            if not 200 <= status < 300 and stats.first_bad_status is None:
                stats.first_bad_status = f"{path}: {status} {body[:300]!r}"

    await asyncio.gather(*(one_client(n, c) for n, c in enumerate(clients)))


async def _drive(job: Job) -> dict[str, Any]:
    kind = _RawClient if job.client == "raw" else _HttpxClient
    clients: list[_Client] = [kind(job.base_url) for _ in range(job.clients)]
    try:
        await _phase(clients, job, job.warmup_s, _Stats())
        stats = _Stats()
        before, started = _Snapshot.take(job.server_pid), time.perf_counter()
        await _phase(clients, job, job.seconds, stats)
        wall = time.perf_counter() - started
        after = _Snapshot.take(job.server_pid)
    finally:
        for client in clients:
            await client.aclose()
    return _summary(job, stats, wall, after.cores_since(before, wall))


def run_job(job: Job) -> dict[str, Any]:
    """The load process's entry: one endpoint, warm-up then the measured window."""
    return asyncio.run(_drive(job))


def _percentile(ordered: Sequence[float], q: float) -> float:
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def _summary(job: Job, stats: _Stats, wall: float, cores: dict[str, float]) -> dict[str, Any]:
    ordered = sorted(stats.latencies)
    done = len(ordered)
    ms = {f"p{round(q * 100)}_ms": round(_percentile(ordered, q) * 1000, 2)
          for q in (0.5, 0.9, 0.99)} if ordered else {}
    non_2xx = sum(n for code, n in stats.statuses.items() if not 200 <= code < 300)
    out: dict[str, Any] = {
        "client": job.client, "requests": done, "seconds": round(wall, 2),
        "requests_per_s": round(done / wall, 1),
        **ms, "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
        "mean_ms": round(sum(ordered) / done * 1000, 2) if ordered else None,
        "non_2xx": non_2xx, "failed": stats.failures,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "mean_response_bytes": round(stats.bytes / done) if done else None,
        "cpu_cores_used": {k: round(v, 2) for k, v in cores.items()},
        "client_saturated": cores["client"] >= 0.9,
    }
    if job.item_marker is not None and done:
        out["mean_items_per_response"] = round(stats.items / done, 1)
    if stats.first_failure:
        out["first_failure"] = stats.first_failure
    if stats.first_bad_status:
        out["first_non_2xx"] = stats.first_bad_status
    return out


# --- targets, tokens, plans ---------------------------------------------------------------

def _targets(url: str, store: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]],
                                            dict[str, Any]]:
    """(tenant, case) of every chain; (tenant, employee) of everyone with a liability."""
    with psycopg.connect(url) as conn:
        cases = [(r[0], r[1]) for r in conn.execute(sql.SQL(
            "SELECT tenant, case_id FROM {} ORDER BY tenant, case_id").format(
            sql.Identifier(f"{store}_view_case_chains")))]
        liable = conn.execute(sql.SQL(
            "SELECT tenant, employee_id, count(*) FROM {} GROUP BY tenant, employee_id "
            "ORDER BY tenant, employee_id").format(
            sql.Identifier(f"{store}_view_liabilities"))).fetchall()
    per = sorted(r[2] for r in liable)
    shape = {"chains": len(cases), "liabilities": sum(per), "employees_with_liabilities":
             len(per), "liabilities_per_employee": {
                 "p50": _percentile(per, 0.5), "p90": _percentile(per, 0.9),
                 "max": per[-1]} if per else {}}
    return cases, [(r[0], r[1]) for r in liable], shape


def _tokens(url: str, store: str, tenants: Sequence[str]) -> dict[str, str]:
    settings = Settings(database_url=url, store_name=store)
    ledger = _open(settings)
    try:
        service = TokenService(ledger.store, ledger.clock)
        return {t: service.create(t, Role.AUDITOR, None, issued_by="bench") for t in tenants}
    finally:
        ledger.store.close()


def _revoke(url: str, store: str, tokens: dict[str, str]) -> None:
    settings = Settings(database_url=url, store_name=store)
    ledger = _open(settings)
    try:
        service = TokenService(ledger.store, ledger.clock)
        for token in tokens.values():
            parsed = parse_token(token)
            if parsed is not None:
                service.revoke(parsed[0], revoked_by="bench")
    finally:
        ledger.store.close()


def _explain(url: str, store: str, chain: tuple[str, str],
             employees: list[tuple[str, str, int]]) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the SQL that projections.reads.ReadModels composes (through
    RowView.select) for a chain and for a liabilities page (limit 100, one row more)."""
    chains = sql.Identifier(f"{store}_view_case_chains")
    liabilities = sql.Identifier(f"{store}_view_liabilities")
    statements: dict[str, tuple[sql.Composed, tuple[Any, ...]]] = {
        "chain": (sql.SQL("SELECT * FROM {} WHERE (tenant = %s) AND (case_id = %s)").format(
            chains), chain)}
    for label, (tenant, employee, count) in zip(("liabilities_busiest_employee",
                                                 "liabilities_median_employee"), employees,
                                                strict=True):
        statements[f"{label} ({count} rows)"] = (sql.SQL(
            "SELECT * FROM {} WHERE (tenant = %s) AND (employee_id = %s) "
            "ORDER BY at_utc, liability_id LIMIT %s").format(liabilities),
            (tenant, employee, 101))
    plans: dict[str, Any] = {}
    with psycopg.connect(url) as conn:
        cursor = psycopg.ClientCursor(conn)  # values inlined: EXPLAIN takes no parameters
        for label, (statement, params) in statements.items():
            cursor.execute(statement, params).fetchall()  # warm the cache first
            rows = cursor.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + statement,
                                  params).fetchall()
            plans[label] = [r[0] for r in rows]
    return plans


# --- the run ------------------------------------------------------------------------------

def _measure(jobs: list[Job]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        for job in jobs:
            _say(f"{job.name}: {job.clients} clients, {job.warmup_s:g} s warm-up, "
                 f"{job.seconds:g} s measured")
            future = pool.submit(run_job, job)
            with console.status(f"{job.name} ..."):
                results[job.name] = future.result()
            r = results[job.name]
            _say(f"  {r['requests_per_s']:,} req/s, p50 {r.get('p50_ms')} ms, "
                 f"p99 {r.get('p99_ms')} ms, non-2xx {r['non_2xx']}, failed {r['failed']}")
    return results


def _run(url: str) -> dict[str, Any]:
    document, reused = dataset(url)
    store = document["store"]
    cases, liable, shape = _targets(url, store)
    tenants = sorted({t for t, _ in cases})
    tokens = _tokens(url, store, tenants)
    headers = {t: {"Authorization": f"Bearer {tokens[t]}", "X-Ledger-Tenant": t}
               for t in tenants}
    uvicorn_log = Path(tempfile.mkdtemp(prefix="bench-query-")) / "uvicorn.log"
    idle = _busy_cores(3.0)
    _say(f"machine before the server starts: {idle:.2f} of {os.cpu_count()} cores busy "
         "(other processes)")
    try:
        with serving(url, store, uvicorn_log) as (base, pid, command):
            _say(f"server: {' '.join(command[1:])} (pid {pid}, log {uvicorn_log})")
            healthz = Job("healthz", base_url=base, targets=[("/healthz", "")],
                          headers=headers, clients=CLIENTS, warmup_s=WARMUP_S, seconds=SECONDS,
                          seed=1, server_pid=pid, client=CLIENT)
            other = "httpx" if CLIENT == "raw" else "raw"
            marker = b'"liability_id"'
            jobs = [
                healthz,
                replace(healthz, name=f"healthz_{other}", client=other),
                replace(healthz, name="chain", seed=2, item_marker=marker,
                        targets=[(f"/v1/cases/{c}/chain", t) for t, c in cases]),
                replace(healthz, name="liabilities", seed=3, item_marker=marker,
                        targets=[(f"/v1/liabilities?employee_id={e}", t) for t, e in liable]),
            ]
            endpoints = _measure(jobs)
    finally:
        _revoke(url, store, tokens)
    with psycopg.connect(url) as conn:
        counted = conn.execute(sql.SQL(
            "SELECT tenant, employee_id, count(*) AS n FROM {} GROUP BY 1, 2 "
            "ORDER BY n DESC, 1, 2").format(
            sql.Identifier(f"{store}_view_liabilities"))).fetchall()
    sample = random.Random(SEED).choice(cases)
    plans = _explain(url, store, sample, [counted[0], counted[len(counted) // 2]])
    ceiling = endpoints["healthz"]["requests_per_s"]
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return {
        "dataset": {**document, "reused": reused, "queried": shape},
        "server": {
            "command": " ".join(["python", *command[1:]]), "workers": WORKERS,
            "uvicorn": uvicorn.__version__, "loop": loop, "http": http,
            "db_pool_size_per_worker": POOL, "db_pool_max_per_worker": 2 * POOL,
            "projections_in_background": False, "engine_in_background": False,
            "app": "bench.bench_query_latency:server_app = api.app.create_app(build_ledger("
                   "load_settings()), read_side=ReadSide(run_projections=False))",
        },
        "load": {"clients": CLIENTS, "warmup_s": WARMUP_S, "seconds": SECONDS,
                 "client": CLIENT, "machine_busy_cores_before": round(idle, 2),
                 "generator": "one process of its own, asyncio, one keep-alive connection "
                              "per simulated client (raw: HTTP/1.1 written and parsed by "
                              "hand; httpx: an AsyncClient each); each client sends its next "
                              "request when the previous one answered; targets drawn at "
                              "random",
                 "auth": "Authorization: Bearer <auditor token of the tenant> + "
                         "X-Ledger-Tenant"},
        "endpoints": endpoints,
        "ratios_to_healthz_rps": {name: round(endpoints[name]["requests_per_s"] / ceiling, 3)
                                  for name in ("chain", "liabilities")},
        "explain_analyze": plans,
    }


def _print(results: dict[str, Any]) -> None:
    d = results["dataset"]
    table = Table(title=f"read API, {CLIENTS} clients, {WORKERS} uvicorn workers, over "
                  f"{d['entries']:,} ledger entries ({d['inbound_entries']:,} inbound + "
                  f"{d['derived_entries']:,} derived; {d['tenants']} tenants, "
                  f"{d['queried']['chains']:,} cases, {d['employees']:,} employees), PostgreSQL")
    for column in ("GET", "client", "req/s", "vs healthz", "p50 ms", "p90 ms", "p99 ms",
                   "max ms", "non-2xx/failed", "CPU cores client/server/pg/all"):
        table.add_column(column, justify="left" if column in ("GET", "client") else "right")
    labels = {"chain": "/v1/cases/{case_id}/chain", "liabilities":
              "/v1/liabilities?employee_id="}
    ceiling = results["endpoints"]["healthz"]["requests_per_s"]
    for name, r in results["endpoints"].items():
        cpu = r["cpu_cores_used"]
        label = labels.get(name, "/healthz" + (" (ceiling)" if name == "healthz" else ""))
        table.add_row(label, r["client"], f"{r['requests_per_s']:,}",
                      f"{r['requests_per_s'] / ceiling:.3f}", str(r.get("p50_ms")),
                      str(r.get("p90_ms")), str(r.get("p99_ms")), str(r["max_ms"]),
                      f"{r['non_2xx']}/{r['failed']}",
                      f"{cpu['client']}/{cpu['server']}/{cpu['postgres']}/{cpu['machine']}")
    console.print(table)
    build = "reused, built" if d["reused"] else "built"
    console.print(f"store {d['store']} {build} in {d['build_seconds']:,} s "
                  f"{d['build_phases_s']}; CPU columns are cores used in the measured window")
    for name, r in results["endpoints"].items():
        if r["client_saturated"]:
            used = r["cpu_cores_used"]["client"]
            console.print(f"[yellow]{name}: the load generator used {used} of a core: the "
                          "client, not the server, may be the limit[/yellow]")
        if (r.get("p99_ms") or 0) > SLOW_P99_MS:
            console.print(f"[yellow]{name}: p99 {r['p99_ms']} ms > {SLOW_P99_MS:g} ms; "
                          "plans in explain_analyze[/yellow]")


def main() -> None:
    url = bench_database_url()
    if url is None:
        console.print("LEDGER_BENCH_DATABASE_URL is not set: query latency benchmark skipped "
                      "(it needs PostgreSQL)")
        return
    started = time.perf_counter()
    results = _run(url)
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    _print(results)
    write_results("query_latency", results)


if __name__ == "__main__":
    # Run as the module itself, not as __main__: the load process (spawned) and uvicorn's
    # workers import it by name.
    from bench.bench_query_latency import main as _main

    _main()
