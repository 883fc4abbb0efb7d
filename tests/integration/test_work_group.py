"""A derivation worker's group membership on the real broker: it holds the entries
topic's partitions, and after joining again with a fresh client it holds them again
(what it does when left holding nothing while partitions have no owner)."""

from __future__ import annotations

import time
import uuid

import pytest

from consumers.topics import ensure_topics
from consumers.work_group import WorkGroupMember
from ledger.config import Settings
from tests.fault.harness import KAFKA_WARNINGS, require_kafka

pytestmark = [pytest.mark.kafka, KAFKA_WARNINGS, pytest.mark.timeout(120)]


def _held(member: WorkGroupMember, timeout_s: float = 60.0) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        member.consumer.poll(timeout_ms=200)
        member.check()
        held = {tp.partition for tp in member.consumer.assignment()}
        if held:
            return held
    return set()


def test_a_worker_that_joins_again_with_a_fresh_client_holds_its_partitions_again() -> None:
    require_kafka()
    name = uuid.uuid4().hex[:8]
    settings = Settings(entries_topic=f"test.work-group.{name}", work_group=f"wg-{name}",
                        kafka_partitions=3)
    ensure_topics(settings.kafka_bootstrap, {settings.entries_topic: 3}, 1)
    member = WorkGroupMember(settings)
    try:
        assert _held(member) == {0, 1, 2}
        first = member.client_id
        member.reconnect()
        assert member.client_id != first
        assert _held(member) == {0, 1, 2}
        assert member.check() is False  # holding partitions: nothing to ask the broker
    finally:
        member.close()
