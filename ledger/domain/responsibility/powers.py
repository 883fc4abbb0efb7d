"""Roles over business time: what each role grants and binds, who held it, through which
grant (docs/domain-rules.md, Power and responsibility).

Holding a permission binds the responsibilities its role lists; both are answered as of a
business time, so a role revoked the day before an approval no longer covers it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain.responsibility.facts import Fact

ROLE_DEFINED = "ledger.access.role.defined"
ROLE_GRANTED = "ledger.access.role.granted"
ROLE_REVOKED = "ledger.access.role.revoked"
_LAST = ("\U0010ffff", "\U0010ffff")


@dataclass(slots=True)
class _History:
    """Facts about one thing in business-time order; the latest at or before a time wins."""

    keys: list[tuple[datetime, str, str]] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)

    def add(self, fact: Fact) -> None:
        at = bisect.bisect_right(self.keys, fact.order)
        if at > 0 and self.keys[at - 1] == fact.order:
            return
        self.keys.insert(at, fact.order)
        self.facts.insert(at, fact)

    def as_of(self, when: datetime) -> Fact | None:
        at = bisect.bisect_right(self.keys, (when, *_LAST))
        return self.facts[at - 1] if at else None


@dataclass(frozen=True, slots=True)
class Holding:
    """One employee holding one role at a time, through the grant that gave it."""

    employee_id: str
    role: str
    grant: Fact


class Powers:
    """Role definitions and grants, effective-dated."""

    def __init__(self) -> None:
        self._definitions: dict[str, _History] = {}
        self._grants: dict[tuple[str, str], _History] = {}

    def add(self, fact: Fact) -> None:
        data = fact.data
        if fact.type == ROLE_DEFINED:
            self._definitions.setdefault(str(data["role"]), _History()).add(fact)
        elif fact.type in (ROLE_GRANTED, ROLE_REVOKED):
            key = (str(data["role"]), str(data["employee_id"]))
            self._grants.setdefault(key, _History()).add(fact)

    def definition_fact(self, role: str, when: datetime) -> Fact | None:
        """The role's definition in force at `when`."""
        history = self._definitions.get(role)
        return history.as_of(when) if history else None

    def definition(self, role: str, when: datetime) -> Mapping[str, Any] | None:
        fact = self.definition_fact(role, when)
        return fact.data if fact else None

    def holdings(self, when: datetime, employee_id: str | None = None) -> list[Holding]:
        """Every role held at `when` (by `employee_id` only, when given)."""
        held = []
        for (role, employee), history in self._grants.items():
            if employee_id is not None and employee != employee_id:
                continue
            fact = history.as_of(when)
            if fact is not None and fact.type == ROLE_GRANTED:
                held.append(Holding(employee, role, fact))
        return sorted(held, key=lambda h: (h.employee_id, h.role))

    def grants(self, role: str, permission: str, when: datetime) -> bool:
        definition = self.definition(role, when)
        return definition is not None and permission in definition.get("permissions", ())

    def holders(self, permission: str, when: datetime) -> list[Holding]:
        """Who held `permission` at `when`, each through the role grant that gave it."""
        return [h for h in self.holdings(when) if self.grants(h.role, permission, when)]

    def permitted(self, employee_id: str, permission: str, when: datetime) -> bool:
        return any(
            self.grants(h.role, permission, when) for h in self.holdings(when, employee_id)
        )

    def responsible_roles(
        self, employee_id: str, when: datetime, names: Iterable[str]
    ) -> tuple[str, ...]:
        """The roles `employee_id` held at `when` whose responsibilities name any of
        `names` (an operation or a step)."""
        wanted = set(names)
        roles = []
        for holding in self.holdings(when, employee_id):
            definition = self.definition(holding.role, when)
            if definition and wanted & set(definition.get("responsibilities", ())):
                roles.append(holding.role)
        return tuple(roles)
