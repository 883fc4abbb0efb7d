"""Which cases the engine keeps in memory: open ones, and settled ones up to a capacity.

A settled case (nothing of it falls due) is needed again only when news reaches it: a new
fact of the case, a fact it refers to or that refers to it, an org change or definition
reaching its horizon, an appeal of one of its liabilities, a reference resolved from
another case. Every index that finds a case stays in memory (a few strings per fact); the
case's facts and what the ledger already says about it are set aside in a spill, and the
first index lookup that needs them brings them back exactly as they were. The engine's
own verdicts about a set-aside case, read back, are noted beside it in the spill: they
change what the ledger says about the case, not its facts. So the engine's
memory is its open cases and this cache, plus those indexes, not the history behind them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ledger.adapters.case_spill import CaseSpill, said_from_json, said_to_json
from ledger.application.quarantine import DERIVATION, describe
from ledger.domain.responsibility.emitted import CaseEmitted

if TYPE_CHECKING:
    from ledger.application.tenant_memory import TenantState

log = logging.getLogger("ledger.application.derivation")


class CaseCache:
    """Settled cases beyond `capacity`, across the tenants in memory, set aside in `spill`
    (least recently used tenants, then cases, first)."""

    def __init__(self, spill: CaseSpill, capacity: int) -> None:
        self.spill = spill
        self.capacity = capacity
        #: Cases set aside and brought back since start (metrics, benchmarks).
        self.set_aside = 0
        self.brought_back = 0
        #: What the ledger says about set-aside cases that verdicts read back reached since
        #: the last trim, read from the spill and written back at the next.
        self._noted: dict[tuple[str, str], CaseEmitted] = {}

    def attach(self, state: TenantState) -> None:
        """Let the tenant's indexes bring its set-aside cases back."""

        tenant = state.facts.tenant

        def bring_back(case_id: str) -> None:
            facts, said = self.spill.take(tenant, case_id)
            noted = self._noted.pop((tenant, case_id), None)
            state.facts.readmit(case_id, facts)
            state.emitted.readmit(case_id, noted or said_from_json(said))
            self.brought_back += 1

        def note_away(case_id: str, envelope: Mapping[str, Any]) -> None:
            said = self._noted.get((tenant, case_id))
            if said is None:
                said = said_from_json(self.spill.beside(tenant, case_id))
                self._noted[(tenant, case_id)] = said
            said.observe(envelope)

        state.facts.fault = bring_back
        index = state.facts.view.index
        assert not index.away, "set-aside identities are kept where they were put"
        index.away = self.spill.away_facts(state.facts.tenant)
        index.fault = bring_back
        state.emitted.fault = bring_back
        state.emitted.note_away = note_away  # its verdicts read back need not its facts

    def forget(self, tenant: str) -> None:
        """The tenant's memory was dropped: so are its set-aside cases."""
        self.spill.drop(tenant)
        self._noted = {key: said for key, said in self._noted.items() if key[0] != tenant}

    def trim(self, states: Iterable[TenantState], spare: int = 0) -> None:
        """Set aside settled cases until at most `capacity` (plus `spare`, for cases just
        used) stay in memory, if it can."""
        for (tenant, case_id), said in self._noted.items():
            self.spill.keep_beside(tenant, case_id, said_to_json(said))
        self._noted = {}
        states = list(states)
        excess = sum(len(s.facts.cases) for s in states) - self.capacity - spare
        for state in states:
            if excess <= 0:
                return
            excess -= self._trim_tenant(state, excess)

    def _trim_tenant(self, state: TenantState, wanted: int) -> int:
        facts = state.facts
        kept = state.book.cases(DERIVATION) | set(state.untaken)  # released by replaying them
        done = 0
        for case_id in facts.resident():
            if done >= wanted:
                break
            if case_id in kept or not facts.settled(case_id):
                continue
            said = state.emitted.cases.get(case_id) or CaseEmitted()
            try:
                self.spill.put(facts.tenant, case_id, facts.cases[case_id], said_to_json(said))
            except (TypeError, ValueError) as exc:  # not representable: stays in memory
                log.debug("case %s of tenant %s kept in memory: %s", case_id, facts.tenant,
                          describe(exc))
                continue
            facts.set_aside(case_id)
            state.emitted.set_aside(case_id)
            done += 1
        self.set_aside += done
        return done
