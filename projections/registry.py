"""The views by name: what the runner builds, and what a caller may name."""

from __future__ import annotations

from collections.abc import Iterable

from ledger.errors import LedgerError
from projections.access_history import AccessHistoryProjection
from projections.appraisal import AppraisalProjection
from projections.base import LedgerProjection
from projections.case_chains import CaseChainsProjection
from projections.duties import DutiesProjection
from projections.liabilities import LiabilitiesProjection
from projections.obligations import ObligationsProjection
from projections.org_history import OrgHistoryProjection
from projections.unit_stats import UnitStatsProjection
from projections.violations import ViolationsProjection

PROJECTIONS: dict[str, type[LedgerProjection]] = {
    p.name: p for p in (LiabilitiesProjection, ViolationsProjection, DutiesProjection,
                        OrgHistoryProjection, CaseChainsProjection, UnitStatsProjection,
                        ObligationsProjection, AppraisalProjection, AccessHistoryProjection)
}
NAMES: tuple[str, ...] = tuple(PROJECTIONS)

#: Relative cost of each view per entry (CPU seconds of a rebuild, bench/bench_projections.py):
#: how a rebuild shares the views out between processes.
COST: dict[str, float] = {
    "case_chains": 10.0, "obligations": 3.0, "unit_stats": 3.0, "violations": 2.5,
    "appraisal": 2.5, "liabilities": 2.0, "duties": 1.5, "org_history": 0.5,
    "access_history": 0.5,
}


class UnknownProjection(LedgerError, ValueError):
    code = "unknown-projection"


def checked_names(names: Iterable[str] | None) -> list[str]:
    chosen = list(names) if names is not None else list(NAMES)
    unknown = [n for n in chosen if n not in PROJECTIONS]
    if unknown:
        raise UnknownProjection(f"unknown projection(s) {unknown}; known: {list(NAMES)}")
    return chosen


def shares(names: Iterable[str], parts: int) -> list[list[str]]:
    """`names` in at most `parts` groups of about equal cost (the costliest first, each to
    the lightest group so far); no group is empty."""
    groups: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(parts)]
    for name in sorted(names, key=lambda n: (-COST.get(n, 1.0), n)):
        groups.sort(key=lambda g: g[0])
        cost, members = groups[0]
        groups[0] = (cost + COST.get(name, 1.0), [*members, name])
    return [members for _, members in groups if members]
