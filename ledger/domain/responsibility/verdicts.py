"""What the rules conclude: small immutable values, each naming who, what and when."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from ledger.domain.responsibility.facts import Fact


def short_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Violation:
    violation_id: str
    case_id: str
    fact: Fact
    employee_id: str
    policy_id: str
    policy_version: int
    severity: str
    supervisor_id: str | None
    review_due: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class DeadlineMissed:
    obligation: str  # "step" | "review"
    case_id: str
    due: datetime
    step: str | None = None
    violation_id: str | None = None
    owner_id: str | None = None
    unit_id: str | None = None
    cause: Fact | None = None
    #: A cooperating party (`unit:tech`, `employee:e-li`, `role:qa`) for a contribution.
    party: str | None = None

    @property
    def key(self) -> str:
        parts = [self.step or "", self.violation_id or "", self.owner_id or ""]
        if self.party is not None:  # only contributions: other keys stay as they were
            parts.append(self.party)
        return short_hash("missed", self.obligation, self.case_id, *parts)


@dataclass(frozen=True, slots=True)
class ObligationEscalated:
    """A missed review (`violation_id`) or step (`obligation` "step", `step`) handed up to
    `to_id`, due `review_due`."""

    violation_id: str
    case_id: str
    from_id: str
    to_id: str
    review_due: datetime
    at: datetime
    cause: Fact | None = None
    obligation: str = "review"
    step: str | None = None

    @property
    def key(self) -> str:
        if self.obligation == "step":
            return short_hash("escalated", "step", self.case_id, self.step or "",
                              self.from_id, self.to_id)
        return short_hash("escalated", self.violation_id, self.from_id, self.to_id)


@dataclass(frozen=True, slots=True)
class ContributionMark:
    """One cooperating party's part in a step: when it was due and what came."""

    step: str
    party: str
    owners: tuple[str, ...]
    unit_id: str | None
    due: datetime
    contribution: Fact | None
    on_time: bool | None  # None: not yet due and not yet given


@dataclass(frozen=True, slots=True)
class Liability:
    employee_id: str
    kind: str  # "direct" | "supervisor"
    basis: str
    case_id: str
    facts: tuple[Fact, ...]
    at: datetime
    unit_id: str | None = None
    role: str | None = None
    violation_id: str | None = None
    step: str | None = None
    #: The roles whose responsibilities it falls under (docs/domain-rules.md, Power and
    #: responsibility); part of its identity, so a late grant corrects it.
    roles: tuple[str, ...] = ()
    #: The broken policy's severity, for scoring; not part of its identity.
    severity: str | None = None

    @property
    def liability_id(self) -> str:
        """Stable for the same conclusion, different when any part of it changes, so a
        changed conclusion is a new liability and the old one is corrected, not rewritten."""
        return "L-" + short_hash(
            self.employee_id,
            self.kind,
            self.basis,
            self.case_id,
            *sorted(f.ref for f in self.facts),
            self.violation_id or "",
            self.step or "",
            self.role or "",
            *(("roles", *self.roles) if self.roles else ()),
        )

    @property
    def claim(self) -> str:
        """The liability without its employee: what a correction's replacement must match."""
        return short_hash(
            self.kind,
            self.basis,
            self.case_id,
            self.violation_id or "",
            self.step or "",
            self.role or "",
            *sorted(f.ref for f in self.facts),
        )


@dataclass(frozen=True, slots=True)
class DutyFulfilled:
    """Positive evidence: a step done on time, a review done by its due time."""

    duty: str  # "step_on_time" | "review_done"
    employee_id: str
    case_id: str
    facts: tuple[Fact, ...]
    at: datetime
    step: str | None = None
    violation_id: str | None = None
    unit_id: str | None = None

    @property
    def key(self) -> str:
        return short_hash(
            "duty",
            self.duty,
            self.employee_id,
            self.case_id,
            self.step or "",
            self.violation_id or "",
            *sorted(f.ref for f in self.facts),
        )


@dataclass(frozen=True, slots=True)
class Link:
    """One operation in a case's responsibility chain (docs/domain-rules.md,
    Semantics: responsibility chain and source)."""

    event_id: str
    ref: str
    type: str
    at: datetime
    actor_id: str | None
    unit_id: str | None
    step: str | None = None
    expected_lead: str | None = None
    due: datetime | None = None
    on_time: bool | None = None
    flags: tuple[str, ...] = ()
    liable_id: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    event_id: str
    employee_id: str | None
    unit_id: str | None
    reason: str


@dataclass(slots=True)
class CaseAssessment:
    case_id: str
    links: list[Link] = field(default_factory=list)
    source: Source | None = None
    violations: list[Violation] = field(default_factory=list)
    misses: list[DeadlineMissed] = field(default_factory=list)
    escalations: list[ObligationEscalated] = field(default_factory=list)
    liabilities: list[Liability] = field(default_factory=list)
    duties: list[DutyFulfilled] = field(default_factory=list)
    next_due: datetime | None = None
    #: Every obligation the case gave someone, and what to announce about it (8.7).
    obligations: list[Obligation] = field(default_factory=list)
    notices: list[ObligationNotice] = field(default_factory=list)
    #: Liabilities under appeal, with their history (8.5).
    appeals: list[AppealOutcome] = field(default_factory=list)
    contributions: list[ContributionMark] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Obligation:
    """Something someone owes by a due time: a step, a review, a contribution."""

    obligation: str  # "step" | "review" | "contribution"
    case_id: str
    holder_id: str
    start: datetime
    due: datetime
    step: str | None = None
    violation_id: str | None = None
    unit_id: str | None = None
    done: Fact | None = None
    level: int = 1
    cause: Fact | None = None
    #: A cooperating party (`unit:tech`), for a contribution only.
    party: str | None = None

    @property
    def obligation_id(self) -> str:
        return obligation_key(
            self.obligation, self.case_id, self.step, self.violation_id, self.holder_id,
            self.party,
        )


def obligation_key(
    obligation: str, case_id: str, step: str | None, violation_id: str | None,
    holder: str | None, party: str | None = None,
) -> str:
    """The same obligation named from any of its events (opened, missed, escalated)."""
    parts = [obligation, case_id, step or "", violation_id or "", holder or ""]
    if party is not None:  # contributions only: other keys stay as they were
        parts.append(party)
    return "O-" + short_hash("obligation", *parts)


@dataclass(frozen=True, slots=True)
class ObligationNotice:
    """What is announced about an obligation: `opened`, `due_soon` or `done`."""

    notice: str
    obligation: Obligation
    at: datetime


@dataclass(frozen=True, slots=True)
class AppealStep:
    """One appeal or decision on a liability, and whether it takes effect."""

    fact: Fact
    effective: bool
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class AppealOutcome:
    liability_id: str
    case_id: str
    employee_id: str
    status: str  # "appealed" | "upheld" | "overturned" | "not_appealed"
    history: tuple[AppealStep, ...]
    decided_by: Fact | None = None
