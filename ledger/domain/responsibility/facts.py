"""Inbound events as facts, ordered by business time, and references between them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


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


class AwayFacts(Protocol):
    """Where the identities of set-aside facts are kept, so that they stay known by ref
    and id while their objects are out of memory (on local disk, in a worker)."""

    def put(self, case_id: str, identities: list[tuple[str, str]]) -> None:
        """Keep the facts of a case set aside: (ref, event id) each."""

    def remove(self, refs: list[str]) -> None:
        """Forget them: their case is back in memory."""

    def named(self, reference: str) -> list[tuple[str, str]]:
        """(ref, case) of every set-aside fact whose ref or event id is `reference`."""

    def look_ahead(self, references: set[str]) -> None:
        """These are about to be looked up: learn at once which name no set-aside fact (a
        batch's new facts are mostly unknown, so one lookup for all of them, not one each)."""

    def __len__(self) -> int: ...


class AwayInMemory:
    """Set-aside identities kept in memory (when nothing better is given)."""

    def __init__(self) -> None:
        self._facts: dict[str, tuple[str, str]] = {}  # ref -> (case, event id)
        self._ids: dict[str, list[str]] = {}

    def put(self, case_id: str, identities: list[tuple[str, str]]) -> None:
        for ref, event_id in identities:
            self._facts[ref] = (case_id, event_id)
            self._ids.setdefault(event_id, []).append(ref)

    def remove(self, refs: list[str]) -> None:
        for ref in refs:
            _, event_id = self._facts.pop(ref)
            others = [r for r in self._ids[event_id] if r != ref]
            if others:
                self._ids[event_id] = others
            else:
                del self._ids[event_id]

    def named(self, reference: str) -> list[tuple[str, str]]:
        refs = {reference} if reference in self._facts else set()
        refs.update(self._ids.get(reference, ()))
        return [(ref, self._facts[ref][0]) for ref in sorted(refs)]

    def look_ahead(self, references: set[str]) -> None:
        """Nothing to gain: lookups are in memory."""

    def __len__(self) -> int:
        return len(self._facts)


class FactIndex:
    """Resolves `target_id` / `related_ids` references: `source#id`, or a plain id when
    only one source used it. An unresolved reference is kept by the caller and resolved
    when its event arrives (docs/domain-rules.md, Case operations).

    The facts of a case set aside (evicted from memory) stay known by ref and id in `away`;
    resolving one asks `fault` to bring its case back first.
    """

    def __init__(self) -> None:
        self._by_ref: dict[str, Fact] = {}
        #: Event id -> its ref, or refs when sources share the id, of the facts in memory
        #: (one string, not a list, for the usual unique id).
        self._by_id: dict[str, str | list[str]] = {}
        self._inspections: list[Fact] = []
        #: The identities of set-aside facts; whoever sets cases aside may keep them on disk.
        self.away: AwayFacts = AwayInMemory()
        #: Brings a set-aside case back (its facts re-admitted); given by whoever evicts.
        self.fault: Callable[[str], None] | None = None

    def add(self, fact: Fact) -> None:
        """Index a fact not known yet (`knows(fact.ref)` is false)."""
        ref = fact.ref
        if ref in self._by_ref:
            return
        self._by_ref[ref] = fact
        self._index_id(fact.event_id, ref)
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

    def look_ahead(self, references: set[str]) -> None:
        """The names about to be looked up (see `AwayFacts.look_ahead`)."""
        if len(self.away):
            self.away.look_ahead({r for r in references if r not in self._by_ref})

    def knows(self, reference: object) -> bool:
        """Whether `reference` resolves, without bringing any case back."""
        return isinstance(reference, str) and self._found(reference) is not None

    def resolve(self, reference: object) -> Fact | None:
        if not isinstance(reference, str):
            return None
        found = self._found(reference)
        if found is None:
            return None
        ref, case_away = found
        if case_away is not None:
            assert self.fault is not None, "a case was set aside with nothing to bring it back"
            self.fault(case_away)
        return self._by_ref[ref]

    def set_aside(self, case_id: str, facts: Iterable[Fact]) -> None:
        """Forget the facts' objects (their case is evicted); keep them known by ref and id
        in `away`. Inspections stay: `inspections_of` looks through all of them."""
        identities = []
        for fact in facts:
            ref = fact.ref
            del self._by_ref[ref]
            self._unindex_id(fact.event_id, ref)
            identities.append((ref, fact.event_id))
        self.away.put(case_id, identities)

    def readmit(self, facts: Iterable[Fact]) -> None:
        facts = list(facts)
        self.away.remove([fact.ref for fact in facts])
        for fact in facts:
            self._by_ref[fact.ref] = fact
            self._index_id(fact.event_id, fact.ref)

    def inspection(self, ref: str) -> Fact | None:
        """The inspection object kept while its case is set aside (so it stays one object)."""
        return next((f for f in self._inspections if f.ref == ref), None)

    def _found(self, reference: str) -> tuple[str, str | None] | None:
        """The ref `reference` resolves to, and its case if set aside: itself if it is a
        ref, else the one fact with that id (none when sources share it)."""
        if reference in self._by_ref:
            return reference, None
        away = self.away.named(reference) if len(self.away) else []
        for ref, case_id in away:
            if ref == reference:
                return ref, case_id
        here = self._by_id.get(reference)
        in_memory = 0 if here is None else 1 if isinstance(here, str) else len(here)
        if in_memory + len(away) != 1:
            return None  # unknown, or an id sources share: ambiguous
        return (here, None) if isinstance(here, str) else away[0]

    def _index_id(self, event_id: str, ref: str) -> None:
        known = self._by_id.get(event_id)
        if known is None:
            self._by_id[event_id] = ref
        elif isinstance(known, str):
            self._by_id[event_id] = [known, ref]
        else:
            known.append(ref)

    def _unindex_id(self, event_id: str, ref: str) -> None:
        known = self._by_id[event_id]
        if isinstance(known, str):
            del self._by_id[event_id]
            return
        known.remove(ref)
        if len(known) == 1:
            self._by_id[event_id] = known[0]

    def __len__(self) -> int:
        return len(self._by_ref) + len(self.away)
