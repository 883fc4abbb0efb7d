"""Inbound events as facts, ordered by business time, and references between them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, eq=False)
class Fact:
    """One recorded inbound event, as the responsibility rules see it.

    Identity is its `source#id` within a tenant: two facts with the same ref are the same
    fact (the ledger never records a key twice), so equality and hashing use the ref.
    """

    source: str
    event_id: str
    type: str
    time: datetime
    subject: str | None
    data: Mapping[str, Any]
    traceparent: str | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fact) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)

    @property
    def ref(self) -> str:
        """`source#id`: unique within a tenant, whatever ids two sources reuse."""
        return f"{self.source}#{self.event_id}"

    @property
    def order(self) -> tuple[datetime, str, str]:
        """Business-time order; ties broken by identity, never by arrival."""
        return (self.time, self.source, self.event_id)

    @property
    def actor_id(self) -> str | None:
        actor = self.data.get("actor_id") or self.data.get("opened_by")
        return str(actor) if actor else None

    @property
    def step(self) -> str | None:
        step = self.data.get("step")
        return str(step) if step else None

    @classmethod
    def from_envelope(cls, envelope: Mapping[str, Any]) -> Fact:
        return cls(
            source=envelope["source"],
            event_id=envelope["id"],
            type=envelope["type"],
            time=datetime.fromisoformat(envelope["time"]),
            subject=envelope.get("subject"),
            data=envelope["data"],
            traceparent=envelope.get("traceparent"),
        )


class FactIndex:
    """Resolves `target_id` / `related_ids` references: `source#id`, or a plain id when
    only one source used it. An unresolved reference is kept by the caller and resolved
    when its event arrives (docs/domain-rules.md, Case operations)."""

    def __init__(self) -> None:
        self._by_ref: dict[str, Fact] = {}
        self._by_id: dict[str, list[Fact]] = {}
        self._inspections: list[Fact] = []

    def add(self, fact: Fact) -> None:
        if fact.ref in self._by_ref:
            return
        self._by_ref[fact.ref] = fact
        self._by_id.setdefault(fact.event_id, []).append(fact)
        if fact.type == "ledger.inspection.recorded" and fact.data.get("target_id"):
            self._inspections.append(fact)

    def inspections_of(self, ref: str) -> list[Fact]:
        """Inspections whose target resolves to `ref` (resolved now: targets may arrive late)."""
        found = []
        for inspection in self._inspections:
            target = self.resolve(inspection.data.get("target_id"))
            if target is not None and target.ref == ref:
                found.append(inspection)
        return found

    def resolve(self, reference: object) -> Fact | None:
        if not isinstance(reference, str):
            return None
        exact = self._by_ref.get(reference)
        if exact is not None:
            return exact
        candidates = self._by_id.get(reference, [])
        return candidates[0] if len(candidates) == 1 else None

    def __len__(self) -> int:
        return len(self._by_ref)
