"""A derivation worker's membership of its consumer group, kept honest.

The workers share the entries topic's partitions (so the tenants) through Kafka's group
protocol. kafka-python 3.0 has been seen to leave a member holding nothing while the
partitions it should hold belong to nobody (a join made before the client knew a new
topic's partitions), and to leave a member the coordinator dropped outside the group for
good (its rejoin never finished) while the others took everything. Either way verdicts
stop, or the workers' capacity shrinks, with no error anywhere. The ingest consumer guards
against it (consumers/group_health.py); a worker does the same: while it holds nothing,
it asks the broker now and then who owns the partitions, and if some have belonged to
nobody, or the group has not counted it, for LEDGER_KAFKA_STALL_AFTER_S, it leaves with
a fresh client and joins again. Positions live in the store, so a rejoin loses and
doubles nothing.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from typing import Any

from consumers.consumer import EMPTY_ASSIGNMENT_GRACE_S, PROBE_EVERY_S
from consumers.group_client import liveness_options
from consumers.group_health import AssignmentWatch, GroupProbe, Verdict
from ledger.config import Settings

log = logging.getLogger("consumers.work_group")


class WorkGroupMember:
    """This worker's consumer of the entries topic, reconnected when it is left stuck."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients = itertools.count(1)
        self._watch = AssignmentWatch(EMPTY_ASSIGNMENT_GRACE_S, PROBE_EVERY_S,
                                      settings.kafka_stall_after_s)
        self.client_id = ""
        self.consumer: Any = self._connect()
        self._probe = GroupProbe(settings.kafka_bootstrap, settings.work_group,
                                 settings.entries_topic, self.client_id)

    def _connect(self) -> Any:
        from kafka import KafkaConsumer

        settings = self.settings
        # Unique per client: the broker's picture of the group tells this client's entry
        # apart from a previous one of the same process that has not yet timed out.
        self.client_id = f"ledger-work-{os.getpid()}-{next(self._clients)}"
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=settings.work_group,
            client_id=self.client_id, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=settings.consume_batch_size,
            **liveness_options(settings.kafka_session_timeout_ms),
        )
        consumer.subscribe([settings.entries_topic])
        return consumer

    def check(self) -> bool:
        """Called on every turn of the worker's loop; whether it reconnected."""
        now = time.monotonic()
        if self._watch.observe(now, holding=bool(self.consumer.assignment())) \
                is not Verdict.PROBE:
            return False
        view = self._probe.view()
        if self._watch.probed(time.monotonic(), view) is not Verdict.RECONNECT or not view:
            return False
        log.warning("this worker holds no partition of %s while %s; joining the group "
                    "again with a fresh client", self.settings.entries_topic,
                    "some belong to nobody" if view.unowned else "the group does not count it",
                    extra={"unowned": sorted(view.unowned), "group_state": view.state})
        self.reconnect()
        return True

    def reconnect(self) -> None:
        try:
            self.consumer.close(autocommit=False)
        except Exception as exc:  # the old client is being dropped for misbehaving
            log.warning("closing the stuck client failed: %r", exc)
        self._watch.reset()
        self.consumer = self._connect()
        self._probe.own_client_id = self.client_id

    def close(self) -> None:
        self._probe.close()
        self.consumer.close()
