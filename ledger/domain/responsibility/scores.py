"""Scores for appraisal (docs/domain-rules.md, Scores for appraisal): penalty and bonus
points per employee and unit over a period, each item traced to its record.

A pure computation over the ledger's own records (liabilities and positive records) and
the `ledger.scoring.defined` versions: the read model keeps the inputs, so a scheme that
arrives late rescores every record it reaches on the next query, and nothing about a score
needs to be derived into the ledger. Every record is scored on the scheme in force at its
own business time; a corrected liability (an overturned appeal included) scores nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

LIABILITY = "liability"
POSITIVE = "positive"
#: Why an item counts or not (its `status`).
COUNTED = "counted"
CORRECTED = "corrected"
OVERTURNED = "overturned"
NO_SCHEME = "no_scheme"
APPEAL_OVERTURNED = "appeal_overturned"


def _points(value: Any) -> Decimal:
    """Exact decimal points: 0.1 + 0.2 must add up to 0.3 in a score."""
    return Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Scheme:
    """One version of a scoring scheme, in force from `since` (its business time)."""

    scheme_id: str
    version: int
    since: datetime
    penalties: Mapping[str, Decimal]
    severity_factor: Mapping[str, Decimal]
    bonuses: Mapping[str, Decimal]
    event_id: str = ""

    @classmethod
    def from_data(cls, data: Mapping[str, Any], since: datetime, event_id: str = "") -> Scheme:
        def table(name: str) -> dict[str, Decimal]:
            raw = data.get(name) or {}
            return {str(k): _points(v) for k, v in raw.items()}

        return cls(str(data["scheme_id"]), int(data["version"]), since, table("penalties"),
                   table("severity_factor"), table("bonuses"), event_id)

    @property
    def order(self) -> tuple[datetime, str, int]:
        return (self.since, self.scheme_id, self.version)


@dataclass(frozen=True, slots=True)
class Record:
    """A liability (`basis`, `severity`) or a positive record (`kind`) to be scored."""

    record: str  # LIABILITY | POSITIVE
    record_id: str  # the liability id, or the positive record's key
    employee_id: str
    unit_id: str | None
    case_id: str
    at: datetime
    basis: str | None = None
    kind: str | None = None
    severity: str | None = None
    corrected_reason: str | None = None  # None: in force
    event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Item:
    """A scored record: signed points (penalties negative) and why."""

    record: Record
    points: Decimal
    status: str
    scheme: Scheme | None


@dataclass(slots=True)
class Tally:
    """Penalty (as a positive number), bonus and total (bonus - penalty) of someone."""

    penalty: Decimal = Decimal(0)
    bonus: Decimal = Decimal(0)
    items: list[Item] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.bonus - self.penalty

    def add(self, item: Item) -> None:
        self.items.append(item)
        if item.points < 0:
            self.penalty -= item.points
        else:
            self.bonus += item.points


@dataclass(slots=True)
class Scores:
    employees: dict[str, Tally] = field(default_factory=dict)
    units: dict[str, Tally] = field(default_factory=dict)


def in_force(schemes: Iterable[Scheme], at: datetime, scheme_id: str | None = None) -> (
        Scheme | None):
    """The latest version (of `scheme_id`, or of any scheme) defined at or before `at`."""
    candidates = [s for s in schemes
                  if s.since <= at and (scheme_id is None or s.scheme_id == scheme_id)]
    return max(candidates, key=lambda s: s.order) if candidates else None


def score(record: Record, scheme: Scheme | None) -> Item:
    """One record on one scheme: a liability scores minus `penalties[basis]` times the
    severity factor (1 without a severity or a factor for it), a positive record
    `bonuses[kind]`; a kind or basis the scheme does not name scores 0."""
    if record.corrected_reason is not None:
        status = OVERTURNED if record.corrected_reason == APPEAL_OVERTURNED else CORRECTED
        return Item(record, Decimal(0), status, scheme)
    if scheme is None:
        return Item(record, Decimal(0), NO_SCHEME, None)
    if record.record == LIABILITY:
        base = scheme.penalties.get(record.basis or "", Decimal(0))
        factor = scheme.severity_factor.get(record.severity or "", Decimal(1))
        return Item(record, -(base * factor), COUNTED, scheme)
    return Item(record, scheme.bonuses.get(record.kind or "", Decimal(0)), COUNTED, scheme)


def score_all(records: Iterable[Record], schemes: Iterable[Scheme],
              scheme_id: str | None = None) -> Scores:
    """Every record scored and summed per employee and per unit (the unit the employee
    belonged to at the record's time), items in business-time order."""
    versions = sorted(schemes, key=lambda s: s.order)
    result = Scores()
    for record in sorted(records, key=lambda r: (r.at, r.record_id)):
        item = score(record, in_force(versions, record.at, scheme_id))
        result.employees.setdefault(record.employee_id, Tally()).add(item)
        if record.unit_id is not None:
            result.units.setdefault(record.unit_id, Tally()).add(item)
    return result


def number(value: Decimal) -> int | float:
    """Points as JSON shows them: whole numbers as integers."""
    return int(value) if value == value.to_integral_value() else float(value)
