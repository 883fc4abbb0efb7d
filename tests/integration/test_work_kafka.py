"""`ledger work` in Kafka mode on the real broker and PostgreSQL: the relay publishes the
committed entries keyed by tenant, `ledger work` processes (a consumer group) derive the
tenants Kafka assigns them, and the verdicts are exactly those of a single-process replay
of the same events (the same derived events per case, none doubled, none lost)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault.harness import KAFKA_WARNINGS, require_kafka
from tests.fault.work_harness import (
    WorkScenario,
    assert_reconciled,
    interleaved,
    record_all,
    streams,
    wait_derived,
    workers,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, KAFKA_WARNINGS, pytest.mark.timeout(180)]

CASES = 60
DERIVED_S = 90.0


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Iterator[WorkScenario]:
    require_kafka()
    made = WorkScenario(request.node.name.removeprefix("test_")[:20].replace("_", "-"))
    yield made
    made.cleanup()


def test_one_worker_derives_what_a_single_process_replay_derives(
    scenario: WorkScenario, tmp_path: Path,
) -> None:
    by_tenant = streams(scenario, CASES)
    chunks = interleaved(by_tenant, chunk=25)
    ledger = scenario.ledger()
    procs = workers(scenario, tmp_path, 1)
    try:
        record_all(ledger, chunks[: len(chunks) // 2])
        record_all(ledger, chunks[len(chunks) // 2 :], pause_s=0.05)  # while it works
        wait_derived(scenario, ledger, DERIVED_S, procs)
        assert_reconciled(scenario, ledger, by_tenant)
    finally:
        for proc in procs:
            proc.stop()
        ledger.store.close()


def test_two_workers_share_the_tenants_and_derive_what_one_process_derives(
    scenario: WorkScenario, tmp_path: Path,
) -> None:
    by_tenant = streams(scenario, CASES)
    chunks = interleaved(by_tenant, chunk=25, seed=5)
    ledger = scenario.ledger()
    procs = workers(scenario, tmp_path, 2)
    try:
        record_all(ledger, chunks, pause_s=0.05)
        wait_derived(scenario, ledger, DERIVED_S, procs)
        assert_reconciled(scenario, ledger, by_tenant)
        logs = [p.log_text() for p in procs]
        assert all("kafka mode" in text for text in logs), logs
    finally:
        for proc in procs:
            proc.stop()
        ledger.store.close()
