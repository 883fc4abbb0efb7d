"""Quarantine: a case derivation keeps failing on is set aside, everything else goes on,
and a release after the fix derives what an undisturbed run would have (both backends)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger.application.derivation import ResponsibilityEngine, derivation_reached
from ledger.application.quarantine import DERIVATION, open_quarantines, release
from ledger.application.recording import Ledger
from ledger.domain.events import ENTRY_KIND_DERIVED
from ledger.domain.responsibility.policy_check import IN_PROCESS
from ledger.domain.responsibility.rules import RuleOutcome
from tests.support.scenario import LATENESS, SALES_ORG, policy, submit, tick

POISON_DAYS = 666
QUARANTINE_TYPES = {"ledger.entry.quarantined", "ledger.entry.released"}


class CrashingEvaluator:
    """An evaluator with a bug: it raises on one payload (what a broken rule library does
    to the engine when it is not caught in the sandbox)."""

    def __init__(self) -> None:
        self.calls = 0
        self.broken = True

    def evaluate(self, rule: str, payload: Mapping[str, Any]) -> RuleOutcome:
        if self.broken and payload.get("return_days") == POISON_DAYS:
            self.calls += 1
            raise RuntimeError("evaluator crashed")
        return IN_PROCESS.evaluate(rule, payload)


def tenant_events(tenant: str, poison: bool) -> list[dict[str, Any]]:
    def of(event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "tenant": tenant}

    events = [*SALES_ORG, policy(), submit("SO-1", "SO-1", "2026-03-01T09:00:00+08:00")]
    if poison:
        events.append(submit("SO-BAD", "SO-BAD", "2026-03-01T10:00:00+08:00",
                             days=POISON_DAYS))
    events += [submit("SO-2", "SO-2", "2026-03-01T11:00:00+08:00"),
               tick("2026-03-05T00:00:00+08:00")]
    return [of(e) for e in events]


def derived_by_case(ledger: Ledger, tenant: str) -> dict[str, list[str]]:
    cases: dict[str, list[str]] = {}
    for entry in ledger.store.iter_entries(tenant):
        if entry.kind == ENTRY_KIND_DERIVED and entry.envelope["type"] not in QUARANTINE_TYPES:
            cases.setdefault(entry.envelope["subject"], []).append(entry.envelope["id"])
    return cases


def engine(ledger: Ledger, evaluator: Any = IN_PROCESS, **options: Any) -> ResponsibilityEngine:
    return ResponsibilityEngine(ledger, LATENESS, ledger.clock, evaluator=evaluator, **options)


def test_a_case_derivation_keeps_failing_on_is_quarantined_and_everything_else_goes_on(
    make_ledger: Callable[[], Ledger],
) -> None:
    ledger = make_ledger()
    ledger.record(tenant_events("acme", poison=True) + tenant_events("beta", poison=False))
    crashing = CrashingEvaluator()

    engine(ledger, crashing).run_until_idle()

    (quarantined,) = open_quarantines(ledger.store, "acme")
    assert (quarantined.stage, quarantined.case_id) == (DERIVATION, "SO-BAD")
    assert "evaluator crashed" in quarantined.error
    assert crashing.calls == 3  # the default threshold, then never again
    acme, beta = derived_by_case(ledger, "acme"), derived_by_case(ledger, "beta")
    assert "SO-BAD" not in acme
    assert acme["SO-1"] == beta["SO-1"] and acme["SO-2"] == beta["SO-2"]
    assert open_quarantines(ledger.store, "beta") == []
    assert derivation_reached(ledger.store, "acme", ledger.store.head("acme").position)


def test_a_release_after_the_fix_derives_what_an_undisturbed_run_would_have(
    ledger: Ledger,
) -> None:
    ledger.record(tenant_events("acme", poison=True))
    engine(ledger, CrashingEvaluator()).run_until_idle()
    ledger.record(tenant_events("calm", poison=True))  # the same, never disturbed
    engine(ledger).run_until_idle()

    (released,) = release(ledger, "acme", case_id="SO-BAD")
    engine(ledger).run_until_idle()  # the fixed engine, restarted

    assert released.case_id == "SO-BAD"
    assert open_quarantines(ledger.store, "acme") == []
    assert derived_by_case(ledger, "acme") == derived_by_case(ledger, "calm")


def test_a_running_engine_takes_a_released_case_in_again(ledger: Ledger) -> None:
    evaluator = CrashingEvaluator()
    running = engine(ledger, evaluator, quarantine_after=2)
    ledger.record(tenant_events("acme", poison=True))
    running.run_until_idle()
    assert evaluator.calls == 2 and open_quarantines(ledger.store, "acme")

    evaluator.broken = False  # the fix
    release(ledger, "acme")
    ledger.record(tenant_events("calm", poison=True))
    running.run_until_idle()

    assert derived_by_case(ledger, "acme") == derived_by_case(ledger, "calm")


def test_an_engine_keeps_only_its_cache_of_settled_tenants_and_reloads_them_on_demand(
    ledger: Ledger,
) -> None:
    tenants, references = ("t1", "t2", "t3"), ("r1", "r2", "r3")
    for tenant in tenants:
        ledger.record(tenant_events(tenant, poison=False))
    small = engine(ledger, cache_tenants=1)
    small.run_until_idle()
    assert small.tenants_in_memory() <= 1
    more = submit("SO-3", "SO-3", "2026-03-06T09:00:00+08:00", days=9)
    ledger.record([{**more, "tenant": t} for t in tenants])
    small.run_until_idle()
    for reference in references:  # the same events, derived in one go
        ledger.record([*tenant_events(reference, poison=False), {**more, "tenant": reference}])
    engine(ledger).run_until_idle()
    for tenant, reference in zip(tenants, references, strict=True):
        assert derived_by_case(ledger, tenant) == derived_by_case(ledger, reference)
