"""What `ledger verify` found: problems per tenant, and the report of a whole store.

Problems name the first ledger position they affect, so "the first bad position" is the
smallest one reported; a tenant keeps at most MAX_PROBLEMS of them and counts the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PROBLEMS = 1000


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing found wrong: where (ledger position and/or checkpoint), what, in words.

    `position` is the bad position when a check pins it down (a digest, a link, a gap);
    a signed root that no longer matches only says that some entry in `position`..`last`
    changed, so it carries the whole window.
    """

    tenant: str
    position: int | None
    kind: str
    message: str
    checkpoint: int | None = None
    last: int | None = None

    @property
    def where(self) -> str:
        if self.position is None:
            return "checkpoints"
        if self.last is None or self.last == self.position:
            return f"position {self.position}"
        return f"position in {self.position}..{self.last}"

    def as_dict(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "position": self.position,
            "last": self.last,
            "checkpoint": self.checkpoint,
            "kind": self.kind,
            "message": self.message,
        }


@dataclass(slots=True)
class TenantReport:
    tenant: str
    entries: int = 0  # last position present
    checkpoints: int = 0
    sealed: int = 0  # entries covered by the latest checkpoint
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """The first bad position: the earliest pinned-down problem, unless a signed root
        already disagrees over an earlier window that it does not fall in."""
        if not self.problems:
            return None
        exact = [p for p in self.problems if p.position is not None and p.last is None]
        ranged = [p for p in self.problems if p.position is not None and p.last is not None]
        first_exact = min(exact, key=lambda p: p.position or 0, default=None)
        first_range = min(ranged, key=lambda p: p.position or 0, default=None)
        if first_exact is not None and first_exact.position is not None and (
            first_range is None or first_range.last is None
            or first_exact.position <= first_range.last
        ):
            return first_exact
        return first_range or first_exact or self.problems[0]

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1


@dataclass(slots=True)
class StoreReport:
    tenants: list[TenantReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tenants)

    @property
    def entries(self) -> int:
        return sum(t.entries for t in self.tenants)
