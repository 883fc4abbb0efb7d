"""The entries relay: committed ledger entries -> the entries topic, keyed by tenant.

Its messages only wake the derivation workers: each says "tenant T has entries up to
position P" (one message per tenant per chunk of the notification log). A worker then
reads T's ledger from its own recorded position, so a message published twice (a crash
between the flush and the recorded position) or out of order is harmless: exactly once
in effect. The relay's position is a tracking record in the store (`relay:<topic>`),
written after the chunk's messages are acknowledged.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from eventsourcing.persistence import Tracking

from ledger.adapters.store import AppendConflict, EventStore

CHUNK = 5000


def relay_reader(topic: str) -> str:
    return f"relay:{topic}"


def wake_up(value: bytes) -> tuple[str, int] | None:
    """The (tenant, position) a relayed message says, or None for anything else."""
    try:
        data = orjson.loads(value)
        return str(data["tenant"]), int(data["position"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class EntriesRelay:
    def __init__(self, store: EventStore, producer: Any, topic: str) -> None:
        self.store = store
        self.producer = producer
        self.topic = topic
        self.reader = relay_reader(topic)

    def step(self) -> int:
        """Relay one chunk; returns how many entries it covered."""
        after = self.store.max_tracking_id(self.reader) or 0
        # Stream ids and positions only: decoding every entry to learn its tenant cost the
        # relay's worker as much as reading them.
        batch = self.store.entry_streams(after, CHUNK)
        if not batch:
            return 0
        heads: dict[str, int] = {}
        for _, stream, position in batch:
            tenant = self.store.tenant_of_stream(stream)
            if tenant is not None:
                heads[tenant] = max(heads.get(tenant, 0), position)
        for tenant, position in sorted(heads.items()):
            value = orjson.dumps({"tenant": tenant, "position": position})
            self.producer.send(self.topic, key=tenant.encode(), value=value)
        self.producer.flush()
        # Another relay (a rebalance) may have got there first: its messages are as good.
        with contextlib.suppress(AppendConflict):
            self.store.append([], Tracking(self.reader, batch[-1][0]))
        return len(batch)
