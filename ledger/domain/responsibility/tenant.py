"""A tenant's facts, kept in business-time terms, and which cases a new fact affects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.responsibility.appeals import APPEAL_TYPES
from ledger.domain.responsibility.assess import assess_case
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.org import DEFINITION_TYPES, ORG_TYPES
from ledger.domain.responsibility.verdicts import CaseAssessment
from ledger.domain.responsibility.view import TenantView

REFERENCE_FIELDS = ("target_id", "violation_id")


@dataclass(slots=True)
class TenantFacts:
    """Everything a tenant has told the ledger, and the event-time watermark."""

    tenant: str
    lateness: timedelta
    view: TenantView = field(default_factory=TenantView)
    cases: dict[str, list[Fact]] = field(default_factory=dict)
    latest_time: datetime | None = None
    #: Reference -> the case that makes it, or the cases (one string, not a set, for the
    #: usual single one: this index stays in memory for every case set aside).
    _referrers: dict[str, str | set[str]] = field(default_factory=dict)
    _next_due: dict[str, datetime] = field(default_factory=dict)
    _horizon: dict[str, datetime] = field(default_factory=dict)
    #: Which case each liability belongs to, so that an appeal reaches it.
    _liability_cases: dict[str, str] = field(default_factory=dict)
    #: Cases whose facts were set aside (evicted); the indexes above still name them.
    _away: set[str] = field(default_factory=set)
    #: Cases in memory, least recently used first (`cases` keeps its own order).
    _recent: dict[str, None] = field(default_factory=dict)
    #: Brings a set-aside case back (`readmit`); given by whoever sets cases aside.
    fault: Callable[[str], None] | None = None

    @property
    def watermark(self) -> datetime | None:
        """Latest event time seen minus the allowed lateness (docs/domain-rules.md,
        Semantics: watermark)."""
        return None if self.latest_time is None else self.latest_time - self.lateness

    def add(self, fact: Fact) -> set[str]:
        """Take in a fact; return the cases whose verdicts it may change. Taking the same
        fact twice (a re-read after a lost race) changes nothing."""
        if self.view.index.knows(fact.ref):
            return set()
        if self.latest_time is None or fact.time > self.latest_time:
            self.latest_time = fact.time
        self.view.index.add(fact)
        if fact.type in APPEAL_TYPES:
            case = self._liability_cases.get(self.view.appeals.add(fact))
            return {case} if case else set()
        if fact.type in ORG_TYPES:
            self.view.org.add(fact)
            self.view.powers.add(fact)
            return self._reaching(fact.time)
        if fact.type in DEFINITION_TYPES:
            self.view.rules.add(fact)
            return self._reaching(fact.time)
        if fact.subject is None:
            return set()
        self._bring_back(fact.subject)
        self.cases.setdefault(fact.subject, []).append(fact)
        self._touch(fact.subject)
        self._extend_horizon(fact.subject, fact.time)
        affected = {fact.subject}
        for reference in self._references(fact):
            self._refer(reference, fact.subject)
        for name in (fact.ref, fact.event_id):
            referring = self._referrers.get(name)
            if referring is not None:
                affected |= {referring} if isinstance(referring, str) else referring
        return affected

    def look_ahead(self, envelopes: Iterable[Mapping[str, Any]]) -> None:
        """Inbound events about to be added: what they will look up of the facts set aside
        (their own refs, and the references they make) is learnt at once."""
        if not len(self.view.index.away):
            return
        names: set[str] = set()
        for envelope in envelopes:
            names.add(f"{envelope['source']}#{envelope['id']}")
            data = envelope.get("data")
            if isinstance(data, Mapping):
                names.update(_named_in(data))
        self.view.index.look_ahead(names)

    def _refer(self, reference: str, case_id: str) -> None:
        known = self._referrers.get(reference)
        if known is None:
            self._referrers[reference] = case_id
        elif isinstance(known, str):
            if known != case_id:
                self._referrers[reference] = {known, case_id}
        else:
            known.add(case_id)

    def due_by(self, watermark: datetime | None) -> set[str]:
        """Cases with an obligation that falls due at or before the watermark."""
        if watermark is None:
            return set()
        return {case for case, due in self._next_due.items() if due <= watermark}

    def assess(self, case_id: str, watermark: datetime | None) -> CaseAssessment:
        assessment = assess_case(case_id, self.facts_of(case_id), self.view, watermark)
        if assessment.next_due is None:
            self._next_due.pop(case_id, None)
        else:
            self._next_due[case_id] = assessment.next_due
        for moment in _moments(assessment):
            self._extend_horizon(case_id, moment)
        for liability in assessment.liabilities:
            self._liability_cases[liability.liability_id] = case_id
        return assessment

    # --- cases set aside and brought back (bounded memory) ----------------------------

    def case_ids(self) -> set[str]:
        """Every case with facts, in memory or set aside."""
        return set(self.cases) | self._away

    def has_case(self, case_id: str) -> bool:
        return case_id in self.cases or case_id in self._away

    def is_away(self, case_id: str) -> bool:
        """Whether the case is set aside (out of memory)."""
        return case_id in self._away

    def facts_of(self, case_id: str) -> list[Fact]:
        """The case's facts, brought back first if set aside; marks the case used."""
        self._bring_back(case_id)
        facts = self.cases.get(case_id, [])
        if facts:
            self._touch(case_id)
        return facts

    def recall(self, case_id: str) -> None:
        """Bring a set-aside case back into memory (nothing to do if it is there)."""
        self._bring_back(case_id)

    def settled(self, case_id: str) -> bool:
        """Nothing falls due in the case: it may be set aside until news reaches it."""
        return case_id not in self._next_due

    def resident(self) -> list[str]:
        """Cases in memory, least recently used first."""
        return list(self._recent)

    def set_aside(self, case_id: str) -> list[Fact]:
        """Drop a settled case's facts from memory and hand them over; every index keeps
        naming it, so news reaching it brings it back (`fault`) exactly as it was."""
        assert self.settled(case_id), "a case with something due stays in memory"
        facts = self.cases.pop(case_id)
        self._recent.pop(case_id, None)
        self.view.index.set_aside(case_id, facts)
        self._away.add(case_id)
        return facts

    def readmit(self, case_id: str, facts: list[Fact]) -> None:
        """Take back the facts `set_aside` handed over (inspections as the same objects)."""
        kept = [self.view.index.inspection(f.ref) or f
                if f.type == "ledger.inspection.recorded" else f for f in facts]
        self._away.discard(case_id)
        self.view.index.readmit(kept)
        self.cases[case_id] = kept
        self._touch(case_id)

    def _bring_back(self, case_id: str) -> None:
        if case_id in self._away:
            assert self.fault is not None, "a case was set aside with nothing to bring it back"
            self.fault(case_id)

    def _touch(self, case_id: str) -> None:
        """Move the case to the most recently used end (dicts keep insertion order)."""
        self._recent.pop(case_id, None)
        self._recent[case_id] = None

    def observe(self, derived: Mapping[str, Any]) -> None:
        """Take note of a derived event read back from the ledger (after a restart the
        cases are not re-assessed, yet an appeal must still find its liability's case)."""
        if derived.get("type") == "liability.assigned" and derived.get("subject"):
            self._liability_cases[derived["data"]["liability_id"]] = str(derived["subject"])

    def _reaching(self, effective: datetime) -> set[str]:
        """Cases that look anything up at or after `effective`: an org change or a new
        definition from that time can change only their verdicts (every lookup is as of
        a fact's time or a due time, and a case's horizon is the latest of those)."""
        return {case for case, horizon in self._horizon.items() if horizon >= effective}

    def _extend_horizon(self, case_id: str, moment: datetime) -> None:
        current = self._horizon.get(case_id)
        if current is None or moment > current:
            self._horizon[case_id] = moment

    @staticmethod
    def _references(fact: Fact) -> Iterable[str]:
        return _named_in(fact.data)


def _named_in(data: Mapping[str, Any]) -> Iterable[str]:
    """The facts an event's data refers to."""
    for name in REFERENCE_FIELDS:
        value = data.get(name)
        if isinstance(value, str):
            yield value
    related = data.get("related_ids")
    if isinstance(related, list):
        yield from (r for r in related if isinstance(r, str))


def _moments(assessment: CaseAssessment) -> list[datetime]:
    """Every time the assessment looked something up at: due times and their windows."""
    moments = [link.due for link in assessment.links if link.due is not None]
    moments += [v.review_due for v in assessment.violations]
    moments += [m.due for m in assessment.misses]
    moments += [e.review_due for e in assessment.escalations]
    moments += [c.due for c in assessment.contributions]
    if assessment.next_due is not None:
        moments.append(assessment.next_due)
    return moments
