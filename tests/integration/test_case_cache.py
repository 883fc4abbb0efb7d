"""A worker keeps its open cases and a cache of settled ones in memory; the others are set
aside on disk and brought back by whatever news reaches them. The verdicts, and the case
chains the read side builds the same way, are exactly those of a worker that holds
everything (both backends)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from cli.work import Worker, WorkMetrics
from ledger.adapters.case_spill import CaseSpill
from ledger.application.case_cache import CaseCache
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.responsibility.tenant import TenantFacts
from tests.integration.test_projections import (
    LATE_TRANSFER,
    case_event,
    derive,
    make_projections,
    record_all,
    worked_examples,
)
from tests.integration.test_quarantine import derived_by_case
from tests.support.scenario import LATENESS

TENANTS = {"whole": None, "aside": 0, "few": 2}


def _news(tenant: str) -> list[dict[str, Any]]:
    """Late news for cases long settled: a review naming a violation by id, and an org
    change dated before most of the cases (it moves who held their reviews)."""
    return [{**e, "tenant": tenant} for e in (
        case_event("rev-1005", "ledger.violation.reviewed", "2026-03-05T18:00:00+08:00",
                   "SO-1005", actor_id="e-zhang", violation_id="SO-1005-submitted",
                   decision="upheld"),
        LATE_TRANSFER)]


def _engines(ledger: Ledger, tmp_path: Path) -> dict[str, tuple[ResponsibilityEngine,
                                                                 CaseCache | None]]:
    made = {}
    for tenant, capacity in TENANTS.items():
        cache = None if capacity is None else CaseCache(CaseSpill(tmp_path), capacity)
        made[tenant] = (ResponsibilityEngine(ledger, LATENESS, ledger.clock, batch_size=3,
                                             cases=cache), cache)
    return made


def _assert_same_verdicts_as_holding_everything(ledger: Ledger) -> None:
    whole = derived_by_case(ledger, "whole")
    assert derived_by_case(ledger, "aside") == whole
    assert derived_by_case(ledger, "few") == whole


def _derive(engine: ResponsibilityEngine, tenant: str) -> None:
    engine.mark_dirty({tenant})
    while not engine.idle:
        engine.run_dirty()


def test_set_aside_cases_are_brought_back_by_late_news_and_derive_the_same_verdicts(
    ledger: Ledger, tmp_path: Path
) -> None:
    events = {t: worked_examples(t) for t in TENANTS}
    engines = _engines(ledger, tmp_path)
    for start in range(0, len(events["whole"]), 4):  # live: small arrivals
        for tenant, (engine, _cache) in engines.items():
            record_all(ledger, events[tenant][start:start + 4])
            _derive(engine, tenant)
    for tenant, (engine, _cache) in engines.items():
        record_all(ledger, _news(tenant))
        _derive(engine, tenant)

    _assert_same_verdicts_as_holding_everything(ledger)
    aside, cache = engines["aside"]
    assert cache is not None and cache.set_aside and cache.brought_back
    assert aside.cases_in_memory() == 0  # every case of the worked examples is settled
    assert engines["few"][0].cases_in_memory() <= 2


def test_a_restarted_worker_replays_a_tenant_setting_cases_aside_as_it_goes(
    ledger: Ledger, tmp_path: Path
) -> None:
    for tenant, (engine, _cache) in _engines(ledger, tmp_path).items():
        record_all(ledger, worked_examples(tenant))
        _derive(engine, tenant)

    restarted = _engines(ledger, tmp_path)  # new processes: memory rebuilt from the ledger
    for tenant, (engine, _cache) in restarted.items():
        record_all(ledger, _news(tenant))
        _derive(engine, tenant)

    _assert_same_verdicts_as_holding_everything(ledger)
    assert restarted["aside"][0].cases_in_memory() == 0


@pytest.mark.parametrize("arrivals", [4, 1000], ids=["live", "backlog"])
def test_a_restarted_worker_sets_each_settled_case_aside_once_and_brings_none_back(
    ledger: Ledger, tmp_path: Path, arrivals: int
) -> None:
    """Replayed, a case is assessed as live derivation did, when news reaches it, and set
    aside if settled; the verdicts read back after it (right after its facts, or after a
    whole backlog's) are noted beside it on disk, and the end of the replay needs no case
    back to learn its next deadline."""
    engines = _engines(ledger, tmp_path)
    events = {t: worked_examples(t) for t in ("whole", "aside")}
    for start in range(0, len(events["aside"]), arrivals):
        for tenant, tenant_events in events.items():
            record_all(ledger, tenant_events[start:start + arrivals])
            _derive(engines[tenant][0], tenant)

    cache = CaseCache(CaseSpill(tmp_path), 0)
    # A replayed batch holds a few arrivals, so that a case's facts are read together, as
    # in a batch of thousands; what was derived from them may come batches later.
    restarted = ResponsibilityEngine(ledger, LATENESS, ledger.clock, batch_size=20, cases=cache)
    assessed: list[str] = []
    original = TenantFacts.assess

    def counted(facts: TenantFacts, case_id: str, watermark: datetime | None) -> Any:
        assessed.append(case_id)
        return original(facts, case_id, watermark)

    with patch.object(TenantFacts, "assess", counted):
        restarted.assess("aside", "")  # loads the tenant, as a new owner does

    cases = {e["subject"] for e in events["aside"] if e.get("subject")}
    assert cache.brought_back == 0
    assert cache.set_aside == len(cases) and restarted.cases_in_memory() == 0
    assert len(assessed) < 2 * len(cases)  # about once each: when its news was read
    for tenant, engine in (("whole", engines["whole"][0]), ("aside", restarted)):
        record_all(ledger, _news(tenant))
        _derive(engine, tenant)
    assert derived_by_case(ledger, "aside") == derived_by_case(ledger, "whole")


def test_the_case_chains_view_sets_settled_cases_aside_and_builds_the_same_chains(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    events = worked_examples()
    half = len(events) // 2
    frugal = make_projections(ledger, settings, batch_size=3, cache_cases=0,
                              spill_dir=tmp_path)
    for start in range(0, half, 4):  # live: small arrivals
        record_all(ledger, events[start:min(start + 4, half)])
        derive(ledger)
        frugal.catch_up()
    record_all(ledger, events[half:])
    derive(ledger)
    frugal.catch_up()
    restarted = make_projections(ledger, settings, batch_size=2, cache_cases=2,
                                 spill_dir=tmp_path)  # a new process replays as it goes
    record_all(ledger, _news("acme"))
    derive(ledger)
    restarted.catch_up()
    built = restarted.dump()  # the same tables as the rebuild below: read them before it

    roomy = make_projections(ledger, settings, batch_size=5000)
    roomy.rebuild()

    assert built == roomy.dump()
    for projections, most in ((frugal, 0), (restarted, 2)):
        chains = projections.projections["case_chains"]
        assert chains.cases_set_aside > 0 and chains.brought_back > 0  # type: ignore[attr-defined]
        assert projections.cases_held()[0] <= most


def test_the_case_chains_view_writes_new_liabilities_of_a_set_aside_case_from_the_spill(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    """The engine's conclusions about a settled case set aside since its facts were read
    change only its liabilities: its chain is rewritten from its last assessment and the
    liabilities kept beside it, and its facts stay on disk."""
    record_all(ledger, worked_examples())
    frugal = make_projections(ledger, settings, batch_size=50, cache_cases=0,
                              spill_dir=tmp_path)
    frugal.catch_up()  # every case assessed, settled and set aside
    chains = frugal.projections["case_chains"]
    assert chains.cases_set_aside > 0  # type: ignore[attr-defined]
    derive(ledger)
    frugal.catch_up()  # the engine's output only
    built = frugal.dump()

    roomy = make_projections(ledger, settings, batch_size=5000)
    roomy.rebuild()

    assert built == roomy.dump()
    assert chains.brought_back == 0  # type: ignore[attr-defined]
    assert any(row["liabilities"] for row in built["case_chains"]["case_chains"])


def test_a_workers_metrics_show_the_cases_it_holds_and_those_set_aside(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    record_all(ledger, worked_examples())
    engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock,
                                  cases=CaseCache(CaseSpill(tmp_path), 0))
    projections = make_projections(ledger, settings, cache_cases=0, spill_dir=tmp_path)
    worker = Worker(engine, projections, WorkMetrics())

    worker.round({"acme"})

    sample = worker.metrics.registry.get_sample_value
    for stage in ("work", "projections"):
        assert sample(f"ledger_{stage}_cases_in_memory") == 0
        assert (sample(f"ledger_{stage}_cases_set_aside") or 0) > 0
