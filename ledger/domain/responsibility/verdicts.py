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

    @property
    def key(self) -> str:
        return short_hash(
            "missed",
            self.obligation,
            self.case_id,
            self.step or "",
            self.violation_id or "",
            self.owner_id or "",
        )


@dataclass(frozen=True, slots=True)
class ObligationEscalated:
    violation_id: str
    case_id: str
    from_id: str
    to_id: str
    review_due: datetime
    at: datetime
    cause: Fact | None = None

    @property
    def key(self) -> str:
        return short_hash("escalated", self.violation_id, self.from_id, self.to_id)


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
