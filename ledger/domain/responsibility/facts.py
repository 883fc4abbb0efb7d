"""Inbound events as facts, ordered by business time, and references between them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
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
    when its event arrives (docs/domain-rules.md, Case operations).

    The facts of a case set aside (evicted from memory) stay known by ref and id; resolving
    one asks `fault` to bring its case back first.
    """

    def __init__(self) -> None:
        self._by_ref: dict[str, Fact] = {}
        #: Ref -> case, for the facts of cases set aside.
        self._away: dict[str, str] = {}
        #: Event id -> its ref, or refs in arrival order when sources share the id, whether
        #: in memory or set aside (one string, not a list, for the usual unique id).
        self._by_id: dict[str, str | list[str]] = {}
        self._inspections: list[Fact] = []
        #: Brings a set-aside case back (its facts re-admitted); given by whoever evicts.
        self.fault: Callable[[str], None] | None = None

    def add(self, fact: Fact) -> None:
        if fact.ref in self._by_ref or fact.ref in self._away:
            return
        ref = fact.ref
        self._by_ref[ref] = fact
        known = self._by_id.get(fact.event_id)
        if known is None:
            self._by_id[fact.event_id] = ref
        elif isinstance(known, str):
            self._by_id[fact.event_id] = [known, ref]
        else:
            known.append(ref)
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

    def knows(self, reference: object) -> bool:
        """Whether `reference` resolves, without bringing any case back."""
        return isinstance(reference, str) and self._ref_of(reference) is not None

    def resolve(self, reference: object) -> Fact | None:
        if not isinstance(reference, str):
            return None
        ref = self._ref_of(reference)
        if ref is None:
            return None
        fact = self._by_ref.get(ref)
        if fact is None:
            assert self.fault is not None, "a case was set aside with nothing to bring it back"
            self.fault(self._away[ref])
            fact = self._by_ref[ref]
        return fact

    def set_aside(self, case_id: str, facts: Iterable[Fact]) -> None:
        """Forget the facts' objects (their case is evicted); keep them known by ref and id.
        Inspections stay: `inspections_of` looks through all of them."""
        for fact in facts:
            known = self._by_id[fact.event_id]  # the ref as stored: one string object kept
            ref = known if isinstance(known, str) else known[known.index(fact.ref)]
            del self._by_ref[ref]
            self._away[ref] = case_id

    def readmit(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            del self._away[fact.ref]
            self._by_ref[fact.ref] = fact

    def inspection(self, ref: str) -> Fact | None:
        """The inspection object kept while its case is set aside (so it stays one object)."""
        return next((f for f in self._inspections if f.ref == ref), None)

    def _ref_of(self, reference: str) -> str | None:
        if reference in self._by_ref or reference in self._away:
            return reference
        candidates = self._by_id.get(reference)
        return candidates if isinstance(candidates, str) else None  # a list: ambiguous

    def __len__(self) -> int:
        return len(self._by_ref) + len(self._away)
