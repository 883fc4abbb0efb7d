"""Derivation workers (`ledger work`, Kafka mode) under faults, with real processes.

Each test records tenants' events while workers derive them, injects one fault (kill -9 of
a worker mid-batch, scaling 1 -> 3 workers, a broker restart, a PostgreSQL restart) and
ends in exact reconciliation: every tenant's derived events, case by case,
are those of a single-process replay of the same events on a fresh store; none is
recorded twice and none is missing.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application.derivation import derivation_reached, derived_position
from ledger.application.recording import Ledger
from tests.fault.harness import KAFKA_WARNINGS, REPO, require_kafka, wait_until
from tests.fault.work_harness import (
    WorkerProcess,
    WorkScenario,
    all_derived,
    assert_reconciled,
    interleaved,
    record_all,
    streams,
    tenant_stream,
    wait_derived,
    workers,
)

pytestmark = [
    pytest.mark.fault,
    pytest.mark.kafka,
    pytest.mark.postgres,
    KAFKA_WARNINGS,
    pytest.mark.timeout(240),
]

CASES = 250
DERIVED_S = 120.0
#: Between chunks of 20 events: the feed lasts ~20 s, so faults land mid-stream (a
#: consumer group takes a few seconds per rebalance to let new members in).
PAUSE_S = 0.12


@pytest.fixture
def work_scenario(request: pytest.FixtureRequest) -> Iterator[WorkScenario]:
    require_kafka()
    made = WorkScenario(request.node.name.removeprefix("test_")[:20].replace("_", "-"),
                        tenants=6)
    yield made
    made.cleanup()


def _service(script: str, command: str) -> None:
    subprocess.run([str(REPO / "deploy" / "local" / script), command], check=True,
                   cwd=REPO, timeout=180, capture_output=True)


def _progress(scenario: WorkScenario, ledger: Ledger) -> int:
    return sum(derived_position(ledger.store, t) for t in scenario.tenant_ids)


class Feeder:
    """Records the chunks in a background thread, as ingest does beside the workers; a
    failed append (the database being restarted) is retried until it goes through."""

    def __init__(self, ledger: Ledger, chunks: list[list[dict[str, object]]],
                 pause_s: float) -> None:
        self.ledger = ledger
        self.chunks = chunks
        self.pause_s = pause_s
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Feeder:
        self.thread.start()
        return self

    def _run(self) -> None:
        for chunk in self.chunks:
            deadline = time.monotonic() + 120
            while True:
                try:
                    record_all(self.ledger, [chunk])
                    break
                except AssertionError:
                    raise
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            time.sleep(self.pause_s)
        self.done.set()

    def join(self, timeout: float = 120) -> None:
        self.thread.join(timeout)
        assert self.done.is_set(), "the feeder did not record every chunk"


def _assigned(proc: WorkerProcess) -> bool:
    """Whether the worker has said it holds partitions (so derives some tenants)."""
    return any(line.split("partitions assigned: ", 1)[1].startswith("[") and
               not line.split("partitions assigned: ", 1)[1].startswith("[]")
               for line in proc.log_text().splitlines() if "partitions assigned: " in line)


def _inbound(by_tenant: dict[str, list[dict[str, object]]]) -> int:
    return sum(len(events) for events in by_tenant.values())


def _stop_all(procs: list[WorkerProcess]) -> None:
    for proc in procs:
        proc.stop(timeout=15)


def test_a_worker_killed_mid_batch_loses_and_doubles_no_verdict(
    work_scenario: WorkScenario, tmp_path: Path,
) -> None:
    by_tenant = streams(work_scenario, CASES)
    ledger = work_scenario.ledger()
    procs = workers(work_scenario, tmp_path, 2)
    try:
        wait_until(lambda: all(_assigned(p) for p in procs), 60, "both workers assigned")
        feeder = Feeder(ledger, interleaved(by_tenant, chunk=20), PAUSE_S).start()
        wait_until(lambda: _progress(work_scenario, ledger) >= _inbound(by_tenant) // 5, 60,
                   "a fifth derived")
        procs[0].kill9()  # whatever batch it was deriving or recording is in flight
        assert not feeder.done.is_set(), "the kill must land mid-stream"
        procs += workers(work_scenario, tmp_path, 1, first=2)  # its replacement
        feeder.join()
        wait_derived(work_scenario, ledger, DERIVED_S, procs)
        assert_reconciled(work_scenario, ledger, by_tenant)
    finally:
        _stop_all(procs)
        ledger.store.close()


def test_scaling_from_one_to_three_workers_mid_stream_loses_and_doubles_no_verdict(
    work_scenario: WorkScenario, tmp_path: Path,
) -> None:
    by_tenant = streams(work_scenario, CASES)
    ledger = work_scenario.ledger()
    procs = workers(work_scenario, tmp_path, 1)
    try:
        wait_until(lambda: _assigned(procs[0]), 60, "the first worker assigned")
        feeder = Feeder(ledger, interleaved(by_tenant, chunk=20, seed=8), PAUSE_S).start()
        wait_until(lambda: _progress(work_scenario, ledger) > 0, 60, "derivation to start")
        procs += workers(work_scenario, tmp_path, 2, first=1)
        wait_until(lambda: all(_assigned(p) for p in procs), 60, "three workers assigned")
        assert not feeder.done.is_set(), "the new workers must join mid-stream"
        feeder.join()
        wait_derived(work_scenario, ledger, DERIVED_S, procs)
        assert all(p.alive() for p in procs)
        assert_reconciled(work_scenario, ledger, by_tenant)
    finally:
        _stop_all(procs)
        ledger.store.close()


def test_a_broker_restart_under_load_loses_and_doubles_no_verdict(
    work_scenario: WorkScenario, tmp_path: Path,
) -> None:
    by_tenant = streams(work_scenario, CASES)
    ledger = work_scenario.ledger()
    procs = workers(work_scenario, tmp_path, 2)
    try:
        wait_until(lambda: all(_assigned(p) for p in procs), 60, "both workers assigned")
        feeder = Feeder(ledger, interleaved(by_tenant, chunk=20, seed=9), PAUSE_S).start()
        wait_until(lambda: _progress(work_scenario, ledger) > 0, 60, "derivation to start")
        try:
            _service("kafka.sh", "stop")
            time.sleep(1.0)
        finally:
            _service("kafka.sh", "start")
        feeder.join()
        wait_derived(work_scenario, ledger, DERIVED_S, procs)
        assert all(p.alive() for p in procs), "the workers ride out a broker restart"
        assert_reconciled(work_scenario, ledger, by_tenant)
    finally:
        _stop_all(procs)
        ledger.store.close()


def test_a_postgres_restart_under_load_loses_and_doubles_no_verdict(
    work_scenario: WorkScenario, tmp_path: Path,
) -> None:
    by_tenant = streams(work_scenario, CASES)
    ledger = work_scenario.ledger()
    procs = workers(work_scenario, tmp_path, 2)
    try:
        wait_until(lambda: all(_assigned(p) for p in procs), 60, "both workers assigned")
        feeder = Feeder(ledger, interleaved(by_tenant, chunk=20, seed=10), PAUSE_S).start()
        wait_until(lambda: _progress(work_scenario, ledger) > 0, 60, "derivation to start")
        try:
            _service("postgres.sh", "stop")
            time.sleep(2.0)
        finally:
            _service("postgres.sh", "start")
        feeder.join()
        wait_derived(work_scenario, ledger, DERIVED_S, procs)
        assert all(p.alive() for p in procs), "the workers ride out a database restart"
        assert_reconciled(work_scenario, ledger, by_tenant)
    finally:
        _stop_all(procs)
        ledger.store.close()


def test_a_tenant_with_a_long_backlog_never_holds_up_another(
    work_scenario: WorkScenario, tmp_path: Path,
) -> None:
    *busy, quiet = work_scenario.tenant_ids
    ledger = work_scenario.ledger()
    record_all(ledger, [tenant_stream(t, 600) for t in busy])  # thousands of entries each
    # Small batches: the busy tenants' backlog takes many, each worth a look at the broker.
    procs = workers(work_scenario, tmp_path, 1, LEDGER_ENGINE_BATCH_SIZE="20")
    try:
        wait_until(lambda: any(derived_position(ledger.store, t) > 0 for t in busy), 60,
                   "the busy tenants' derivation started")
        record_all(ledger, [tenant_stream(quiet, 10)])
        posted = ledger.store.head(quiet).position

        wait_until(lambda: derivation_reached(ledger.store, quiet, posted), 60,
                   "the quiet tenant derived")

        assert not all_derived(work_scenario, ledger), "the busy tenants must still be busy"
        wait_derived(work_scenario, ledger, DERIVED_S, procs)
    finally:
        _stop_all(procs)
        ledger.store.close()
