"""Asking the broker, not the client, whether this consumer's empty assignment is right.

A member with no partitions is either right (the group has more members than the topic
has partitions, and the others own them all) or stuck: kafka-python 3.0 has been seen to
leave a member unassigned after a rebalance (it joined before its client knew the
topic's partitions, and the rejoin that should have followed never finished), polling
forever while its partitions belonged to nobody. Nothing in the client tells the two
apart; the group coordinator does. So, while this member holds nothing, it asks the
broker now and then who owns the topic's partitions: if some belong to nobody for longer
than `stall_after_s`, or the group no longer counts this member at all (dropped by the
coordinator, its rejoin never finished, while the others took everything), it reconnects
(a fresh client, a fresh join); if the others own them all and it is in the group, it is
rightly idle.

`AssignmentWatch` is the decision, without I/O or clock (the caller passes `now` and
the broker's answer), so it is tested on its own; `GroupProbe` asks the broker.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("consumers.group_health")


@dataclass(frozen=True, slots=True)
class GroupView:
    """The broker's picture of one topic's partitions in one consumer group."""

    state: str
    partitions: frozenset[int]
    owned: frozenset[int]
    #: Whether this member is in the group at all (a member the coordinator dropped, whose
    #: rejoin never finished, polls on, outside it, while the others take everything).
    present: bool = True

    @property
    def unowned(self) -> frozenset[int]:
        return self.partitions - self.owned


def group_view(
    description: Mapping[str, Any], topic: str, partitions: Iterable[int], own_client_id: str,
) -> GroupView:
    """Read a `KafkaAdminClient.describe_groups` entry: which partitions of `topic` the
    group's other members hold.

    This member's own entry does not count: partitions the broker gave it but its client
    never took up are exactly the stuck case, and counting them as owned would call it
    idle (seen: a slow second join, the probe answering before the client had synced)."""
    owned: set[int] = set()
    present = False
    for member in description.get("members") or ():
        if member.get("client_id") == own_client_id:
            present = True
            continue
        assignment = member.get("member_assignment")
        if not isinstance(assignment, Mapping):
            continue  # not a consumer-protocol assignment (or not yet synced)
        for entry in assignment.get("assigned_partitions") or ():
            if entry.get("topic") == topic:
                owned.update(int(p) for p in entry.get("partitions") or ())
    return GroupView(str(description.get("group_state", "")), frozenset(partitions),
                     frozenset(owned), present)


class Verdict(enum.Enum):
    WAIT = "wait"  # holding partitions, or too early to tell
    PROBE = "probe"  # ask the broker now
    IDLE = "idle"  # rightly unassigned: the others own every partition
    RECONNECT = "reconnect"  # stuck: partitions belong to nobody, for too long


class AssignmentWatch:
    """Decides, from how long this member has held nothing and what the broker said,
    whether to ask the broker, to count as idle, or to reconnect.

    An empty assignment is normal for a moment (a join before the topic's metadata was
    known is followed by a rejoin within a second or so), hence `grace_s` before the
    first question; partitions that belong to nobody during a rebalance are normal too,
    hence `stall_after_s` of them, seen by every probe since, before reconnecting.
    """

    def __init__(self, grace_s: float, probe_every_s: float, stall_after_s: float) -> None:
        self.grace_s = grace_s
        self.probe_every_s = probe_every_s
        self.stall_after_s = stall_after_s
        self._empty_since: float | None = None
        self._last_probe: float | None = None
        self._unowned_since: float | None = None
        self._owned_elsewhere = False

    def observe(self, now: float, holding: bool) -> Verdict:
        """Called on every turn of the poll loop with whether this member holds partitions."""
        if holding:
            self.reset()
            return Verdict.WAIT
        if self._empty_since is None:
            self._empty_since = now
        if now - self._empty_since < self.grace_s:
            return Verdict.WAIT
        if self._last_probe is None or now - self._last_probe >= self.probe_every_s:
            return Verdict.PROBE
        return Verdict.IDLE if self._owned_elsewhere else Verdict.WAIT

    def probed(self, now: float, view: GroupView | None) -> Verdict:
        """The broker's answer (None: it could not be asked; nothing is concluded)."""
        self._last_probe = now
        if view is None or not view.partitions:  # no answer, or no topic yet: unknown
            self._owned_elsewhere = False
            return Verdict.WAIT
        if not view.unowned and view.present:
            self._unowned_since = None
            self._owned_elsewhere = True
            return Verdict.IDLE
        # Partitions nobody holds, or this member outside the group: stuck if it lasts.
        self._owned_elsewhere = False
        if self._unowned_since is None:
            self._unowned_since = now
        if now - self._unowned_since >= self.stall_after_s:
            return Verdict.RECONNECT
        return Verdict.WAIT

    def reset(self) -> None:
        self._empty_since = self._last_probe = self._unowned_since = None
        self._owned_elsewhere = False


class GroupProbe:
    """Asks the broker who in `group` owns which partitions of `topic` (admin API).

    `own_client_id` names this member (its Kafka client id, unique per client)."""

    def __init__(self, bootstrap: str, group: str, topic: str, own_client_id: str) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topic = topic
        self.own_client_id = own_client_id
        self._admin: Any = None

    def view(self) -> GroupView | None:
        """The group's picture, or None when the broker cannot be asked right now."""
        try:
            admin = self._client()
            described = admin.describe_topics([self.topic])
            partitions = [p["partition_index"] for t in described if not t.get("error_code")
                          for p in t.get("partitions") or ()]
            description = admin.describe_groups([self.group]).get(self.group) or {}
        except Exception as exc:
            log.warning("cannot ask the broker about the group", extra={
                "group": self.group, "error": repr(exc)})
            self.close()
            return None
        return group_view(description, self.topic, partitions, self.own_client_id)

    def _client(self) -> Any:
        if self._admin is None:
            from kafka import KafkaAdminClient

            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                           client_id="ledger-group-probe",
                                           request_timeout_ms=10_000)
        return self._admin

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception as exc:  # closing a broken client: nothing more to do
                log.debug("group probe close failed", extra={"error": repr(exc)})
