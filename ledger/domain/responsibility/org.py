"""The org chart and the rule book as they stood at any business time.

History is kept, never replaced: every lookup is `as of t`, so a transfer on 03-10 does
not change who supervised a violation dated 03-05 (docs/domain-rules.md,
Semantics: supervisor at the time; worked example E4).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import isodate

from ledger.domain.responsibility.calendars import CALENDAR_TYPES, CalendarBook
from ledger.domain.responsibility.durations import parse_duration
from ledger.domain.responsibility.facts import Fact

DEPARTED: Mapping[str, Any] = {"departed": True}
DEFAULT_REVIEW_WITHIN = "PT24H"


@dataclass(slots=True)
class _Timeline:
    """Values of one thing over business time, ordered by (time, source, id)."""

    keys: list[tuple[datetime, str, str]] = field(default_factory=list)
    values: list[Mapping[str, Any]] = field(default_factory=list)

    def add(self, fact: Fact, value: Mapping[str, Any]) -> None:
        at = bisect.bisect_right(self.keys, fact.order)
        if at > 0 and self.keys[at - 1] == fact.order:
            return
        self.keys.insert(at, fact.order)
        self.values.insert(at, value)

    def as_of(self, when: datetime) -> Mapping[str, Any] | None:
        # Everything effective at or before `when`, whatever its source or id.
        at = bisect.bisect_right(self.keys, (when, "\U0010ffff", "\U0010ffff"))
        return self.values[at - 1] if at else None

    def all(self) -> list[Mapping[str, Any]]:
        return list(self.values)


def add_duration(start: datetime, iso_duration: str) -> datetime:
    """`start` + an ISO 8601 duration; calendar units (P1M) move the calendar date."""
    duration = parse_duration(iso_duration)
    result = start + duration
    assert isinstance(result, datetime)
    return result


def duration(iso_duration: str) -> timedelta | isodate.Duration:
    return parse_duration(iso_duration)


@dataclass(frozen=True, slots=True)
class Policy:
    policy_id: str
    version: int
    applies_to: str
    rule: str
    severity: str
    review_within: str
    escalate_levels: int
    effective: datetime
    #: Who may approve or override what the policy checks (docs/domain-rules.md, Power
    #: and responsibility); None: anyone.
    approver_permission: str | None = None
    review_counting: str | None = None


@dataclass(frozen=True, slots=True)
class Cooperating:
    """A party that must contribute to a step: its own due (else the step's) and the
    outputs a complete contribution carries."""

    party: Mapping[str, str]
    due: str | None = None
    counting: str | None = None
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    step: str
    title: str
    lead: Mapping[str, str]
    due: str
    after: tuple[str, ...] = ()
    required_outputs: tuple[str, ...] = ()
    counting: str | None = None
    escalate_levels: int = 1
    escalate_after: str | None = None
    cooperating: tuple[Cooperating, ...] = ()


@dataclass(frozen=True, slots=True)
class Process:
    process_id: str
    version: int
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.step == name), None)


ORG_TYPES = frozenset(
    {
        "ledger.org.unit.defined",
        "ledger.org.employee.assigned",
        "ledger.org.employee.departed",
        "ledger.access.role.defined",
        "ledger.access.role.granted",
        "ledger.access.role.revoked",
    }
)
DEFINITION_TYPES = (
    frozenset({"ledger.policy.defined", "ledger.process.defined"}) | CALENDAR_TYPES
)


class OrgChart:
    """Effective-dated org history: assignments, units, role grants."""

    def __init__(self) -> None:
        self._assignments: dict[str, _Timeline] = {}
        self._units: dict[str, _Timeline] = {}
        self._grants: dict[tuple[str, str], _Timeline] = {}
        self._roles: set[str] = set()

    def add(self, fact: Fact) -> None:
        data = fact.data
        match fact.type:
            case "ledger.org.employee.assigned":
                self._assignments.setdefault(data["employee_id"], _Timeline()).add(fact, data)
            case "ledger.org.employee.departed":
                self._assignments.setdefault(data["employee_id"], _Timeline()).add(fact, DEPARTED)
            case "ledger.org.unit.defined":
                self._units.setdefault(data["unit_id"], _Timeline()).add(fact, data)
            case "ledger.access.role.granted" | "ledger.access.role.revoked":
                key = (data["role"], data["employee_id"])
                self._roles.add(data["role"])
                granted = {"granted": fact.type.endswith("granted")}
                self._grants.setdefault(key, _Timeline()).add(fact, granted)
            case "ledger.access.role.defined":
                self._roles.add(data["role"])

    def assignment(self, employee_id: str, when: datetime) -> Mapping[str, Any] | None:
        timeline = self._assignments.get(employee_id)
        value = timeline.as_of(when) if timeline else None
        return None if value is None or value.get("departed") else value

    def unit_of(self, employee_id: str | None, when: datetime) -> str | None:
        if employee_id is None:
            return None
        assignment = self.assignment(employee_id, when)
        return str(assignment["unit_id"]) if assignment else None

    def unit(self, unit_id: str, when: datetime) -> Mapping[str, Any] | None:
        timeline = self._units.get(unit_id)
        return timeline.as_of(when) if timeline else None

    def head_of(self, unit_id: str, when: datetime) -> str | None:
        unit = self.unit(unit_id, when)
        head = unit.get("head_id") if unit else None
        return str(head) if head else None

    def supervisor_of(self, employee_id: str, when: datetime) -> str | None:
        """The named supervisor at `when`; else the head of the employee's unit, or of the
        nearest parent unit whose head is someone else."""
        assignment = self.assignment(employee_id, when)
        if assignment is None:
            return None
        if assignment.get("supervisor_id"):
            return str(assignment["supervisor_id"])
        unit_id: str | None = assignment.get("unit_id")
        seen: set[str] = set()
        while unit_id and unit_id not in seen:
            seen.add(unit_id)
            head = self.head_of(unit_id, when)
            if head and head != employee_id:
                return head
            unit = self.unit(unit_id, when)
            unit_id = unit.get("parent_id") if unit else None
        return None

    def holders(self, role: str, when: datetime) -> list[str]:
        return sorted(
            employee
            for (r, employee), timeline in self._grants.items()
            if r == role and (state := timeline.as_of(when)) is not None and state["granted"]
        )

    def subtree(self, unit_id: str, when: datetime) -> set[str]:
        units = {unit_id}
        changed = True
        while changed:
            changed = False
            for uid, timeline in self._units.items():
                unit = timeline.as_of(when)
                if uid not in units and unit and unit.get("parent_id") in units:
                    units.add(uid)
                    changed = True
        return units


class RuleBook:
    """Versioned policies and processes, each version in force from its own time."""

    def __init__(self) -> None:
        self._policies: dict[str, list[Policy]] = {}
        self._processes: dict[str, list[tuple[datetime, Process]]] = {}
        self.calendars = CalendarBook()

    def add(self, fact: Fact) -> None:
        data = fact.data
        if fact.type == "ledger.policy.defined":
            policy = Policy(
                policy_id=data["policy_id"],
                version=int(data["version"]),
                applies_to=data["applies_to"],
                rule=data["rule"],
                severity=data["severity"],
                review_within=data.get("review_within", DEFAULT_REVIEW_WITHIN),
                escalate_levels=int(data.get("escalate_levels", 1)),
                effective=fact.time,
                approver_permission=data.get("approver_permission"),
                review_counting=data.get("review_counting"),
            )
            versions = self._policies.setdefault(policy.policy_id, [])
            if all(p.version != policy.version for p in versions):
                versions.append(policy)
                versions.sort(key=lambda p: (p.effective, p.version))
        elif fact.type in CALENDAR_TYPES:
            self.calendars.add(fact)
        elif fact.type == "ledger.process.defined":
            process = Process(
                process_id=data["process_id"],
                version=int(data["version"]),
                steps=tuple(_step(s) for s in data["steps"]),
            )
            versions_ = self._processes.setdefault(process.process_id, [])
            if all(p.version != process.version for _, p in versions_):
                versions_.append((fact.time, process))
                versions_.sort(key=lambda tp: (tp[0], tp[1].version))

    def policies_for(self, operation: str, when: datetime) -> list[Policy]:
        """Every policy for `operation` in force at `when`: per policy, its latest version
        whose own time is at or before `when`."""
        in_force = []
        for versions in self._policies.values():
            current = [p for p in versions if p.applies_to == operation and p.effective <= when]
            if current:
                in_force.append(current[-1])
        return sorted(in_force, key=lambda p: p.policy_id)

    def process(self, process_id: str, version: int | None, when: datetime) -> Process | None:
        versions = self._processes.get(process_id, [])
        if version is not None:
            return next((p for _, p in versions if p.version == version), None)
        current = [p for t, p in versions if t <= when]
        return current[-1] if current else None


def _step(raw: Mapping[str, Any]) -> Step:
    return Step(
        step=raw["step"],
        title=raw.get("title", raw["step"]),
        lead=raw["lead"],
        due=raw["due"],
        after=tuple(raw.get("after", ())),
        required_outputs=tuple(raw.get("required_outputs", ())),
        counting=raw.get("counting"),
        escalate_levels=int(raw.get("escalate_levels", 1)),
        escalate_after=raw.get("escalate_after"),
        cooperating=tuple(_cooperating(c) for c in raw.get("cooperating", ())),
    )


def _cooperating(raw: Mapping[str, Any]) -> Cooperating:
    party = {k: str(raw[k]) for k in ("employee_id", "unit_id", "role") if raw.get(k)}
    return Cooperating(
        party=party,
        due=raw.get("due"),
        counting=raw.get("counting"),
        outputs=tuple(raw.get("outputs", ())),
    )
