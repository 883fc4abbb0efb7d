"""Who is asking and what they may see: the token's principal, its scope, the read models.

Every read route takes a `Caller` from `reader(capability)`: the token is checked first
(api/auth.py), then the read models are opened and, for a manager, their scope is worked
out. The tenant is always the token's.

The manager rule (docs/http-api.md, "Access control"): a manager token names a unit; its holder
reads what concerns the employees assigned, *as the org chart stands now* (the service's
clock), to that unit or any unit below it:

- a violation or a liability concerns the employee it is about (the violator, the liable
  employee); lists are filtered to those, and the unit report to the subtree's units
  (ranked among themselves);
- an employee's evidence and the directory: the subtree's employees;
- a case concerns the subtree if one of its links was done by, or one of its liabilities
  or its responsibility source names, one of those employees; its chain is then shown
  with the liabilities of the subtree's employees only;
- an event's proof: an event done by or naming one of those employees (or naming a unit
  of the subtree), or an event of a case the manager may read.

Outside the scope a single resource is a 404, exactly as if it did not exist, and a list
simply leaves it out. An org change moves what a manager sees the moment it takes effect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import require
from api.read_side import ReadSide
from ledger.domain.access import Capability, Principal
from projections.reads import ReadModels, Scope

#: Fields of an event's data that name the employee it is by or about.
_PEOPLE_FIELDS = ("actor_id", "employee_id", "opened_by")


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    reads: ReadModels
    scope: Scope | None  # None: the whole tenant

    @property
    def tenant(self) -> str:
        return self.principal.tenant

    @property
    def employees(self) -> frozenset[str] | None:
        """The employees whose records the caller may read; None: all of the tenant's."""
        return None if self.scope is None else self.scope.employees

    @property
    def units(self) -> frozenset[str] | None:
        return None if self.scope is None else self.scope.units

    def sees_employee(self, employee_id: str | None) -> bool:
        return self.scope is None or (employee_id is not None
                                      and employee_id in self.scope.employees)

    def sees_chain(self, document: Mapping[str, Any]) -> bool:
        if self.scope is None:
            return True
        people = {link.get("actor_id") for link in document.get("links", [])}
        people |= {li.get("employee_id") for li in document.get("liabilities", [])}
        source = document.get("responsibility_source") or {}
        people.add(source.get("employee_id"))
        return not people.isdisjoint(self.scope.employees)

    def chain_view(self, document: dict[str, Any]) -> dict[str, Any]:
        """The chain as the caller may see it: a manager sees their people's liabilities."""
        if self.scope is None:
            return document
        mine = [li for li in document.get("liabilities", []) if self.sees_employee(
            li.get("employee_id"))]
        return {**document, "liabilities": mine}

    def sees_event(self, envelope: Mapping[str, Any]) -> bool:
        """Whether a ledger event (inbound or derived) concerns the caller's scope."""
        if self.scope is None:
            return True
        data = envelope.get("data")
        data = data if isinstance(data, Mapping) else {}
        named = {data.get(field) for field in _PEOPLE_FIELDS if isinstance(data.get(field), str)}
        if not named.isdisjoint(self.scope.employees):
            return True
        unit = data.get("unit_id")
        if isinstance(unit, str) and unit in self.scope.units:
            return True
        subject = envelope.get("subject")
        chain = self.reads.chain(self.tenant, subject) if isinstance(subject, str) else None
        return chain is not None and self.sees_chain(chain)


def _scope(principal: Principal, reads: ReadModels, request: Request) -> Scope | None:
    if not principal.scoped_to_unit or principal.unit_id is None:
        return None
    now = request.app.state.ledger.clock()
    return reads.unit_scope(principal.tenant, principal.unit_id, now)


def caller_for(request: Request, principal: Principal) -> Caller:
    """The read models (as fresh as the read side waits for) and the principal's scope."""
    read_side: ReadSide = request.app.state.read_side
    reads = read_side.reads()
    return Caller(principal, reads, _scope(principal, reads, request))


def _reader(capability: Capability) -> Callable[[Request, Principal], Caller]:
    # A default, not Annotated: annotations are strings here (PEP 563), and FastAPI
    # resolves them in the module's namespace, where `capability` is not.
    def dependency(
        request: Request, principal: Principal = Depends(require(capability)),  # noqa: B008
    ) -> Caller:
        return caller_for(request, principal)

    dependency.__name__ = f"reader_{capability.value}"
    return dependency


_READERS = {capability: _reader(capability) for capability in Capability}


def reader(capability: Capability) -> Callable[[Request, Principal], Caller]:
    """A dependency: the caller, if their token grants `capability`, with their scope."""
    return _READERS[capability]


ChainReader = Annotated[Caller, Depends(reader(Capability.READ_CHAINS))]
ViolationReader = Annotated[Caller, Depends(reader(Capability.READ_VIOLATIONS))]
LiabilityReader = Annotated[Caller, Depends(reader(Capability.READ_LIABILITIES))]
EvidenceReader = Annotated[Caller, Depends(reader(Capability.READ_EVIDENCE))]
ReportReader = Annotated[Caller, Depends(reader(Capability.READ_REPORTS))]
ObligationReader = Annotated[Caller, Depends(reader(Capability.READ_OBLIGATIONS))]
ScoreReader = Annotated[Caller, Depends(reader(Capability.READ_SCORES))]
PermissionReader = Annotated[Caller, Depends(reader(Capability.READ_PERMISSIONS))]
