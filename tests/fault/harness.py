"""Helpers for the Kafka ingest tests on the real Kafka and PostgreSQL from deploy/local.

Everything a test creates is named uniquely (topics, group, store tables, tenant) and
removed afterwards; every wait is bounded by a deadline.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.adapters.store import EventStore
from ledger.config import Settings
from tests.support.envelopes import make_envelope
from tests.support.services import drop_store_tables, postgres_url

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))

KAFKA_WARNINGS = pytest.mark.filterwarnings(
    r"ignore:.*is deprecated\. Use files\(\) instead:DeprecationWarning"
)


def require_kafka() -> None:
    """FAIL (not skip) when the broker is unreachable, unless LEDGER_SKIP_SERVICES=1."""
    if os.environ.get("LEDGER_SKIP_SERVICES") == "1":
        pytest.skip("LEDGER_SKIP_SERVICES=1: Kafka tests skipped")
    from kafka import KafkaAdminClient

    try:
        KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=10000).close()
    except Exception as exc:
        pytest.fail(f"Kafka not reachable at {BOOTSTRAP} ({exc!r}); start it with "
                    "`deploy/local/kafka.sh start` or run `make test`", pytrace=False)


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # a service being restarted: try again until the deadline
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- a test's own topics, group, store and tenant ---------------------------------------


@dataclass
class Scenario:
    """Unique names for one test, and the Settings that point a ledger at them."""

    name: str
    partitions: int = 6
    tenant: str = field(init=False)
    topic: str = field(init=False)
    dlq_topic: str = field(init=False)
    obligations_topic: str = field(init=False)
    group: str = field(init=False)
    store_name: str = field(init=False)
    database_url: str = field(init=False)

    def __post_init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.tenant = f"t-{tag}"
        self.topic = f"it.{self.name}.{tag}"
        self.dlq_topic = f"it.{self.name}.{tag}.dlq"
        self.obligations_topic = f"it.{self.name}.{tag}.obligations"
        self.group = f"it.{self.name}.{tag}"
        self.store_name = f"k_{tag}"
        self.database_url = postgres_url()

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a `ledger consume` subprocess for this scenario."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env.update(
            LEDGER_DATABASE_URL=self.database_url,
            LEDGER_STORE_NAME=self.store_name,
            LEDGER_KAFKA_BOOTSTRAP=BOOTSTRAP,
            LEDGER_EVENTS_TOPIC=self.topic,
            LEDGER_DLQ_TOPIC=self.dlq_topic,
            LEDGER_OBLIGATIONS_TOPIC=self.obligations_topic,
            LEDGER_KAFKA_GROUP=self.group,
            LEDGER_KAFKA_PARTITIONS=str(self.partitions),
            LEDGER_DLQ_PARTITIONS="2",
            LEDGER_KAFKA_SESSION_TIMEOUT_MS="6000",
            LEDGER_DB_POOL_SIZE="3",
            # Small fetches: a consumer holds little read-but-unrecorded data, so a fault
            # injected at a quarter of the stream lands mid-stream (with 4 MiB per
            # partition the whole workload arrived in the first fetch).
            LEDGER_KAFKA_MAX_PARTITION_FETCH_BYTES="65536",
        )
        env.update(extra)
        return env

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url,
            store_name=self.store_name,
            kafka_bootstrap=BOOTSTRAP,
            events_topic=self.topic,
            dlq_topic=self.dlq_topic,
            obligations_topic=self.obligations_topic,
            kafka_group=self.group,
            kafka_partitions=self.partitions,
            dlq_partitions=2,
            kafka_session_timeout_ms=6000,
            db_pool_size=3,
        )

    def create_topics(self) -> None:
        from consumers.topics import ensure_topics

        ensure_topics(BOOTSTRAP, {self.topic: self.partitions, self.dlq_topic: 2})

    def _topics_made(self, admin: Any) -> list[str]:
        """The test's topics that exist (the reminder topic only once a consumer ran)."""
        mine = {self.topic, self.dlq_topic, self.obligations_topic}
        return sorted(mine & set(admin.list_topics()))

    def cleanup(self) -> None:
        from kafka import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)
            try:
                admin.delete_topics(self._topics_made(admin), timeout_ms=15000)
            finally:
                admin.close()
        except Exception:
            pass  # best effort: unique names never collide with a later test
        with contextlib.suppress(Exception):
            drop_store_tables(self.database_url, self.store_name)


@pytest.fixture(name="scenario")
def scenario_fixture(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    """A test's own topics, group, store and tenant; removed afterwards."""
    require_kafka()
    name = request.node.name.removeprefix("test_")[:24].replace("_", "-")
    made = Scenario(name)
    made.create_topics()
    yield made
    made.cleanup()


# --- realistic events ----------------------------------------------------------------------


def _envelope(
    tenant: str, case: str, suffix: str, etype: str, minute: int, data: dict[str, Any]
) -> dict[str, Any]:
    time = f"2026-03-{1 + minute // 1440:02d}T{(minute // 60) % 24:02d}:{minute % 60:02d}:00+08:00"
    return make_envelope(f"{case}-{suffix}", etype, time, data, tenant=tenant, subject=case)


def case_events(tenant: str, cases: int, per_case: int, seed: int = 7) -> list[dict[str, Any]]:
    """Valid envelopes over `cases` case keys: each case opened, then operations on it."""
    rnd = random.Random(seed)
    events: list[dict[str, Any]] = []
    for c in range(cases):
        case = f"SO-{c:06d}"
        actor = f"e-{rnd.randrange(200):03d}"
        events.append(_envelope(tenant, case, "open", "ledger.case.opened", 0,
                                {"title": f"Sales order {case}", "opened_by": actor}))
        for i in range(per_case - 1):
            events.append(_envelope(tenant, case, f"op{i}", "ledger.operation.submitted", 1 + i, {
                "actor_id": actor, "operation": "sales_order",
                "payload": {"return_days": rnd.randrange(10), "amount": rnd.randrange(10**5)},
            }))
    return events


def lines_of(events: Sequence[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


POISON = [
    b"this is not json",
    b"\xff\xfe\x00 binary junk",
    b'{"specversion": "1.0", "id": "no-type"}',
    b"[1, 2, 3]",
]


@dataclass(frozen=True)
class Sent:
    """One published message and where it landed."""

    key: bytes | None
    value: bytes
    partition: int
    offset: int


def publish(topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> list[Sent]:
    """Publish with acks=all; every message's partition and offset, in send order."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=10,
                             max_block_ms=60000, request_timeout_ms=30000)
    try:
        futures = [producer.send(topic, key=k, value=v) for k, v in messages]
        producer.flush(timeout=120)
        metas = [f.get(timeout=60) for f in futures]
    finally:
        producer.close(timeout=10)
    return [Sent(k, v, m.partition, m.offset) for (k, v), m in zip(messages, metas, strict=True)]


def keyed(events: Sequence[dict[str, Any]]) -> list[tuple[bytes | None, bytes]]:
    return [(e["subject"].encode(), orjson.dumps(e)) for e in events]


# --- a `ledger consume` process -------------------------------------------------------------


class ConsumerProcess:
    """`ledger consume` as a real subprocess, for kill -9 and rebalance tests."""

    def __init__(self, scenario: Scenario, log_dir: Path, name: str, *args: str,
                 **env: str) -> None:
        self.scenario = scenario
        self.log_path = log_dir / f"{name}.log"
        self.args = args
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ConsumerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [LEDGER_BIN, "consume", "--metrics-port", "-1", *self.args],
            env=self.scenario.env(**self.env), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: the process stands still mid-whatever (a long GC pause, a VM frozen)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then SIGKILL if it does not leave in time; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- reading back what happened ---------------------------------------------------------------


def ledger_keys(store: EventStore, tenant: str) -> Counter[tuple[str, str]]:
    """(source, id) of every entry of the tenant's ledger, with how often it occurs."""
    return Counter((e.source, e.event_id) for e in store.iter_entries(tenant))


def entry_count(settings: Settings, tenant: str) -> int:
    """How many entries the tenant's ledger holds (one short query, for progress waits)."""
    import psycopg
    from psycopg import sql

    from ledger.domain.events import ledger_stream_id

    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, connect_timeout=3) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE originator_id = %s").format(
                sql.Identifier(f"{settings.store_name}_events")),
            (ledger_stream_id(tenant),),
        ).fetchone()
    return int(row[0]) if row else 0


def dlq_records(topic: str, expected: int, timeout: float = 60) -> list[Any]:
    """Every committed message on the DLQ topic (waits until `expected` are there, then
    reads a little longer so that a duplicate would show)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             isolation_level="read_committed")
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    settle: float | None = None
    try:
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            if len(records) >= expected:
                settle = settle or time.monotonic() + 3.0
                if time.monotonic() >= settle:
                    break
    finally:
        consumer.close()
    return records


def header(record: Any, name: str) -> bytes | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value)
    return None


def tracked_positions(store: EventStore, topic: str, partitions: int) -> dict[int, int | None]:
    from consumers.batch import tracking_name

    return {p: store.max_tracking_id(tracking_name(topic, p)) for p in range(partitions)}


@dataclass
class Reconciliation:
    published: int
    recorded: int
    duplicates: int
    dead_lettered: int

    def balanced(self) -> bool:
        return self.published == self.recorded + self.duplicates + self.dead_lettered


def reconcile(
    scenario: Scenario,
    sent: Sequence[Sent],
    valid: Sequence[dict[str, Any]],
    poison: Sequence[Sent],
) -> Reconciliation:
    """Assert the exact outcome; returns the counts for the test's report.

    - every accepted event is in the ledger exactly once, and nothing else is;
    - every poison message is a dead letter exactly once, and on the DLQ exactly once,
      with its original key and bytes and its source position;
    - every partition's recorded position is its last offset;
    - published = recorded + duplicates + dead-lettered.
    """
    from cli.root import build_ledger
    from consumers.dlq import list_dead_letters
    from consumers.dlq_records import H_SOURCE_OFFSET, H_SOURCE_PARTITION

    ledger = build_ledger(scenario.settings())
    try:
        keys = ledger_keys(ledger.store, scenario.tenant)
        expected = {(e["source"], e["id"]) for e in valid}
        twice = {k: n for k, n in keys.items() if n > 1}
        assert not twice, f"recorded more than once: {list(twice.items())[:5]}"
        assert set(keys) == expected, (
            f"missing {len(expected - set(keys))}, unexpected {len(set(keys) - expected)}"
        )
        letters = list_dead_letters(ledger)
        by_source = Counter((v.letter.source_partition, v.letter.source_offset) for v in letters)
        poison_at = {(p.partition, p.offset): p for p in poison}
        assert not [s for s, n in by_source.items() if n > 1], "a dead letter recorded twice"
        assert set(by_source) == set(poison_at), (
            f"dead letters at {sorted(by_source)} but poison at {sorted(poison_at)}"
        )
        for view in letters:
            original = poison_at[(view.letter.source_partition, view.letter.source_offset)]
            assert view.letter.value == original.value and view.letter.key == original.key
        last: dict[int, int] = {}
        for s in sent:
            last[s.partition] = max(last.get(s.partition, -1), s.offset)
        positions = tracked_positions(ledger.store, scenario.topic, scenario.partitions)
        assert {p: o for p, o in positions.items() if o is not None} == last
    finally:
        ledger.store.close()
    on_dlq = dlq_records(scenario.dlq_topic, len(poison))
    published_at = Counter(
        (int(header(r, H_SOURCE_PARTITION) or b"-1"), int(header(r, H_SOURCE_OFFSET) or b"-1"))
        for r in on_dlq
    )
    assert not [s for s, n in published_at.items() if n > 1], "a dead letter published twice"
    assert set(published_at) == set(poison_at), "the DLQ does not hold every poison message"
    for record in on_dlq:
        src = (int(header(record, H_SOURCE_PARTITION) or b"-1"),
               int(header(record, H_SOURCE_OFFSET) or b"-1"))
        assert record.value == poison_at[src].value and record.key == poison_at[src].key
    result = Reconciliation(
        published=len(sent),
        recorded=len(keys),
        duplicates=len(sent) - len(poison) - len(keys),
        dead_lettered=len(letters),
    )
    assert result.balanced()
    assert result.duplicates == len(sent) - len(poison) - len(expected)
    return result
