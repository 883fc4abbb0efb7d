"""A case touched only by the engine's conclusions keeps its last assessment in the
case-chains view (while no due time has passed since): its chain is exactly the one a
fresh assessment gives (both backends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import projections.case_chains as case_chains
from ledger.application.recording import Ledger
from ledger.config import Settings
from tests.integration.test_projections import (
    derive,
    make_projections,
    record_all,
    worked_examples,
)
from tests.support.reminders import climbing_cases
from tests.support.second_round import LATE_PART


def _as(tenant: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "tenant": tenant} for e in events]


def _arrivals() -> list[dict[str, Any]]:
    """Tenants interleaved: violations and reviews, steps missed that climb, a late part."""
    streams = [worked_examples("acme"), _as("climb", climbing_cases(12)),
               _as("launch", LATE_PART)]
    mixed: list[dict[str, Any]] = []
    for start in range(0, max(len(s) for s in streams), 3):
        for stream in streams:
            mixed += stream[start:start + 3]
    return mixed


@pytest.mark.parametrize("cache_cases", [None, 0])
def test_chains_kept_from_a_last_assessment_equal_fresh_ones(
    ledger: Ledger, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    cache_cases: int | None,
) -> None:
    arrivals = _arrivals()
    live = make_projections(ledger, settings, batch_size=4, names=["case_chains"],
                            cache_cases=cache_cases, spill_dir=tmp_path)
    for start in range(0, len(arrivals), 5):  # the engine's conclusions follow in later batches
        record_all(ledger, arrivals[start:start + 5])
        live.catch_up()
        derive(ledger)
        live.catch_up()
    kept = live.dump()
    reused = live.projections["case_chains"].reused  # type: ignore[attr-defined]

    monkeypatch.setattr(case_chains, "unchanged_since", lambda *_: False)
    fresh = make_projections(ledger, settings, batch_size=7, names=["case_chains"])
    fresh.rebuild(["case_chains"])

    assert reused > 0
    assert fresh.projections["case_chains"].reused == 0  # type: ignore[attr-defined]
    assert kept == fresh.dump()
