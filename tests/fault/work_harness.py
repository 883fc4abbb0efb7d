"""Helpers for the derivation-worker tests on the real Kafka and PostgreSQL.

A `WorkScenario` is one test's own store, entries topic, consumer group and tenants; a
`WorkerProcess` is a real `ledger work` subprocess in Kafka mode. Verdicts are compared
with a single-process replay: the same inbound events, in the same order per tenant,
recorded in a fresh store and derived there by one engine (`replay_derived`).
The tenants' events arrive in event-time order, so no batching changes what is derived.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.adapters.store import EventStore
from ledger.adapters.validation import default_validator
from ledger.application.derivation import ResponsibilityEngine, derivation_reached
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.events import ENTRY_KIND_DERIVED
from tests.fault.harness import BOOTSTRAP, LEDGER_BIN, REPO, wait_until
from tests.support.clock import FixedClock
from tests.support.scenario import LATENESS, SALES_ORG, act, policy, submit, tick
from tests.support.services import drop_store_tables, postgres_url

#: Bookkeeping of quarantine: not verdicts (compared separately where a test expects it).
QUARANTINE_TYPES = frozenset({"ledger.entry.quarantined", "ledger.entry.released"})


@dataclass
class WorkScenario:
    """Unique names for one worker test, and the Settings/environment that point at them."""

    name: str
    tenants: int = 4
    partitions: int = 6
    topic: str = field(init=False)
    group: str = field(init=False)
    store_name: str = field(init=False)
    database_url: str = field(init=False)
    tenant_ids: list[str] = field(init=False)

    def __post_init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.topic = f"it.work.{self.name}.{tag}"
        self.group = f"it.work.{self.name}.{tag}"
        self.store_name = f"w_{tag}"
        self.database_url = postgres_url()
        self.tenant_ids = [f"t{i}-{tag}" for i in range(self.tenants)]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env.update(
            LEDGER_DATABASE_URL=self.database_url,
            LEDGER_STORE_NAME=self.store_name,
            LEDGER_KAFKA_BOOTSTRAP=BOOTSTRAP,
            LEDGER_WORK_MODE="kafka",
            LEDGER_ENTRIES_TOPIC=self.topic,
            LEDGER_WORK_GROUP=self.group,
            LEDGER_KAFKA_PARTITIONS=str(self.partitions),
            LEDGER_KAFKA_SESSION_TIMEOUT_MS="6000",
            LEDGER_DB_POOL_SIZE="3",
            LEDGER_METRICS_PORT="0",
            # Event time only: a live worker judges quiet tenants by the wall clock, which
            # a replay cannot reproduce.
            LEDGER_ENGINE_LIVE="false",
            LEDGER_LOG_FORMAT="text",
        )
        env.update(extra)
        return env

    def settings(self) -> Settings:
        return Settings(database_url=self.database_url, store_name=self.store_name,
                        kafka_bootstrap=BOOTSTRAP, db_pool_size=3)

    def ledger(self) -> Ledger:
        return Ledger(EventStore(self.settings()), default_validator(), FixedClock())

    def cleanup(self) -> None:
        from kafka import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)
            try:
                admin.delete_topics([self.topic], timeout_ms=15000)
            finally:
                admin.close()
        except Exception:
            pass  # best effort: unique names never collide with a later test
        with contextlib.suppress(Exception):
            drop_store_tables(self.database_url, self.store_name)


class WorkerProcess:
    """`ledger work` (Kafka mode) as a real subprocess, for kill -9 and scale-out tests."""

    def __init__(self, scenario: WorkScenario, log_dir: Path, name: str, **env: str) -> None:
        self.scenario = scenario
        self.log_path = log_dir / f"{name}.log"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [LEDGER_BIN, "work"], env=self.scenario.env(**self.env), cwd=REPO,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int:
        """SIGINT (what ^C does: the worker leaves its group cleanly), then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def workers(scenario: WorkScenario, log_dir: Path, count: int, first: int = 0,
            **env: str) -> list[WorkerProcess]:
    return [WorkerProcess(scenario, log_dir, f"work-{i}", **env).start()
            for i in range(first, first + count)]


# --- what the tenants post ----------------------------------------------------------------


def _at(minute: int) -> str:
    day, rest = divmod(minute, 1440)
    return f"2026-03-{1 + day:02d}T{rest // 60:02d}:{rest % 60:02d}:00+08:00"


def tenant_stream(tenant: str, cases: int, seed: int = 11) -> list[dict[str, Any]]:
    """One tenant's inbound events in ledger order: the org and a policy, then orders (some
    breaking the policy), reviews of some of them, and ticks that move the watermark past
    review deadlines, so verdicts of every kind appear along the way."""
    rnd = random.Random(f"{seed}-{cases}")
    events: list[dict[str, Any]] = [*SALES_ORG, policy()]
    for c in range(cases):
        minute = 60 * c
        case = f"SO-{c:05d}"
        days = rnd.choice((1, 2, 5, 7, 9))
        events.append(submit(case, case, _at(minute), days=days))
        if days > 3 and rnd.random() < 0.4:
            events.append(act(f"{case}-review", "ledger.violation.reviewed", case,
                              _at(minute + 30), actor_id="e-zhang",
                              violation_id=case, decision="upheld"))
        if c % 7 == 6:
            events.append(tick(_at(minute + 45)))
    events.append(tick(_at(60 * cases + 60 * 24 * 3)))
    return [{**e, "tenant": tenant} for e in events]


def streams(scenario: WorkScenario, cases: int) -> dict[str, list[dict[str, Any]]]:
    return {t: tenant_stream(t, cases) for t in scenario.tenant_ids}


def interleaved(by_tenant: dict[str, list[dict[str, Any]]], chunk: int,
                seed: int = 3) -> list[list[dict[str, Any]]]:
    """The tenants' streams cut into chunks, the chunks of different tenants interleaved
    at random (each tenant's own order kept)."""
    rnd = random.Random(seed)
    queues = {t: [s[i:i + chunk] for i in range(0, len(s), chunk)] for t, s in by_tenant.items()}
    out: list[list[dict[str, Any]]] = []
    while any(queues.values()):
        tenant = rnd.choice(sorted(t for t, q in queues.items() if q))
        out.append(queues[tenant].pop(0))
    return out


def record_all(ledger: Ledger, chunks: Iterable[Sequence[dict[str, Any]]],
               pause_s: float = 0.0) -> int:
    recorded = 0
    for chunk in chunks:
        outcomes = ledger.record(list(chunk))
        rejected = [o for o in outcomes if o.status.value == "rejected"]
        assert not rejected, rejected[:3]
        recorded += len(chunk)
        if pause_s:
            time.sleep(pause_s)
    return recorded


# --- reading back and comparing -------------------------------------------------------------


def derived_by_case(store: EventStore, tenant: str,
                    skip: frozenset[str] = QUARANTINE_TYPES) -> dict[str, list[str]]:
    """Every derived event id of the tenant, per case, in ledger order."""
    cases: dict[str, list[str]] = {}
    for entry in store.iter_entries(tenant):
        if entry.kind == ENTRY_KIND_DERIVED and entry.envelope["type"] not in skip:
            cases.setdefault(str(entry.envelope.get("subject")), []).append(
                str(entry.envelope["id"]))
    return cases


def doubled(store: EventStore, tenant: str) -> list[str]:
    """Derived event ids recorded more than once (none may be)."""
    seen: dict[str, int] = {}
    for entry in store.iter_entries(tenant):
        if entry.kind == ENTRY_KIND_DERIVED:
            seen[entry.event_id] = seen.get(entry.event_id, 0) + 1
    return [i for i, n in seen.items() if n > 1]


def replay_derived(by_tenant: dict[str, list[dict[str, Any]]],
                   settings: Settings | None = None) -> dict[str, dict[str, list[str]]]:
    """What one process derives from the same events on a fresh store (SQLite in a temp
    directory unless `settings` says otherwise)."""
    import tempfile

    own = settings or Settings(home=Path(tempfile.mkdtemp(prefix="replay-")), database_url=None)
    ledger = Ledger(EventStore(own), default_validator(), FixedClock())
    try:
        for events in by_tenant.values():
            record_all(ledger, [events])
        ResponsibilityEngine(ledger, LATENESS, ledger.clock).run_until_idle()
        return {t: derived_by_case(ledger.store, t) for t in by_tenant}
    finally:
        ledger.store.close()


def all_derived(scenario: WorkScenario, ledger: Ledger) -> bool:
    store = ledger.store
    return all(derivation_reached(store, t, store.head(t).position) for t in scenario.tenant_ids)


def wait_derived(scenario: WorkScenario, ledger: Ledger, timeout: float,
                 procs: Sequence[WorkerProcess] = ()) -> None:
    try:
        wait_until(lambda: all_derived(scenario, ledger), timeout, "every tenant derived",
                   interval=0.5)
    except AssertionError:
        logs = "\n".join(f"--- {p.log_path.name}\n{p.log_text()[-3000:]}" for p in procs)
        raise AssertionError(f"not every tenant derived in {timeout:.0f}s\n{logs}") from None


def assert_reconciled(scenario: WorkScenario, ledger: Ledger,
                      by_tenant: dict[str, list[dict[str, Any]]]) -> int:
    """The workers' verdicts are exactly the replay's, case by case, none doubled and none
    lost; returns how many derived events were compared.

    Compared per case as sets, not sequences: the engine derives at the end of each batch
    and sorts a batch's output by business time, so where a batch boundary falls moves
    an event before or after one of the same case (an obligation's due_soon, which falls
    before its opening, comes first when both are derived in one batch)."""
    expected = replay_derived(by_tenant)
    compared = 0
    for tenant in scenario.tenant_ids:
        got = derived_by_case(ledger.store, tenant)
        assert not doubled(ledger.store, tenant), f"{tenant}: a derived event recorded twice"
        missing = {c for c in expected[tenant] if c not in got}
        extra = {c for c in got if c not in expected[tenant]}
        assert not missing and not extra, f"{tenant}: missing {missing}, unexpected {extra}"
        for case, ids in expected[tenant].items():
            assert sorted(got[case]) == sorted(ids), f"{tenant} {case}: {got[case]} != {ids}"
            compared += len(ids)
    assert compared > 0
    return compared
