"""Quarantine for projections: a projection that keeps failing on one tenant's entry sets
that case aside for itself (`ledger.entry.quarantined`, stage `projection:<name>`) and
goes on, so the other tenant's views keep coming; `ledger quarantine retry` re-applies
the case after the fix, and the view is then what an undisturbed one is (both backends)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ledger.application.quarantine import open_quarantines, release
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.events import EntryRecorded
from projections.quarantine import ProjectionGuard
from projections.runner import Projections
from projections.views import Changes
from tests.integration.test_quarantine import engine, tenant_events
from tests.support.scenario import submit

NAME = "violations"


class Broken:
    """The bug under test: the projection fails on any entry of acme's case SO-BAD."""

    def __init__(self) -> None:
        self.on = True
        self.calls = 0

    def wrap(self, apply: Any) -> Any:
        def broken_apply(entries: Sequence[EntryRecorded], changes: Changes) -> None:
            for entry in entries:
                if self.on and entry.tenant == "acme" and \
                        entry.envelope.get("subject") == "SO-BAD":
                    self.calls += 1
                    raise RuntimeError("projection bug")
            apply(entries, changes)
        return broken_apply


@pytest.fixture
def views(ledger: Ledger, settings: Settings) -> Iterator[tuple[Projections, Broken]]:
    guard = ProjectionGuard(ledger.store, lambda events: ledger.record_derived(events, None),
                            threshold=3)
    projections = Projections(ledger.store, store_name=settings.store_name, names=[NAME],
                              guard=guard)
    broken = Broken()
    projection = projections.projections[NAME]
    projection.apply = broken.wrap(projection.apply)  # type: ignore[method-assign]
    yield projections, broken
    projections.drop()


def _rows(projections: Projections, tenant: str) -> list[dict[str, Any]]:
    return sorted((r for rows in projections.view(NAME).dump().values() for r in rows
                   if r.get("tenant") == tenant), key=repr)


def _cases(projections: Projections, tenant: str) -> set[str]:
    return {str(r.get("case_id")) for r in _rows(projections, tenant)}


def _catch_up(projections: Projections, rounds: int = 6) -> int:
    """Rounds until one goes through (a failure below the threshold raises); failures."""
    failures = 0
    for _ in range(rounds):
        try:
            projections.catch_up()
            return failures
        except RuntimeError:
            failures += 1
    raise AssertionError("the projection never went on")


def test_a_projection_failing_on_one_tenants_case_quarantines_it_and_goes_on(
    ledger: Ledger, views: tuple[Projections, Broken],
) -> None:
    projections, broken = views
    ledger.record(tenant_events("acme", poison=True) + tenant_events("beta", poison=False))
    engine(ledger).run_until_idle()

    failures = _catch_up(projections)

    assert failures == 2  # the third failure is the threshold: set aside, and on
    calls = broken.calls
    (q,) = open_quarantines(ledger.store, "acme")
    assert (q.stage, q.case_id) == (f"projection:{NAME}", "SO-BAD")
    assert "projection bug" in q.error
    assert "SO-BAD" not in _cases(projections, "acme")
    assert {"SO-1", "SO-2"} <= _cases(projections, "acme")
    assert {"SO-1", "SO-2"} <= _cases(projections, "beta")
    # The other tenant's views keep coming; the quarantined case costs nothing more.
    ledger.record([{**submit("SO-3", "SO-3", "2026-03-06T09:00:00+08:00", days=9),
                    "tenant": "beta"}])
    engine(ledger).run_until_idle()
    assert _catch_up(projections) == 0
    assert "SO-3" in _cases(projections, "beta")
    assert broken.calls == calls


def test_a_retry_after_the_fix_gives_the_view_an_undisturbed_projection_has(
    ledger: Ledger, settings: Settings, views: tuple[Projections, Broken],
) -> None:
    projections, broken = views
    ledger.record(tenant_events("acme", poison=True))
    engine(ledger).run_until_idle()
    _catch_up(projections)
    assert "SO-BAD" not in _cases(projections, "acme")

    broken.on = False  # the fix
    (released,) = release(ledger, "acme", stage=f"projection:{NAME}")
    assert _catch_up(projections) == 0

    assert released.case_id == "SO-BAD"
    assert open_quarantines(ledger.store, "acme") == []
    undisturbed = Projections(ledger.store, store_name=f"{settings.store_name}_ref",
                              names=[NAME])
    try:
        undisturbed.catch_up()
        assert _rows(projections, "acme") == _rows(undisturbed, "acme")
        assert "SO-BAD" in _cases(projections, "acme")
    finally:
        undisturbed.drop()


def test_the_servers_own_views_set_a_failing_case_aside_too(
    ledger: Ledger, settings: Settings,
) -> None:
    from api.read_side import ReadSide

    serving = ReadSide(ledger, settings=settings, run_projections=True)
    reading = ReadSide(ledger, settings=settings)

    assert serving.projections.guard is not None
    assert reading.projections.guard is None
    serving.projections.drop()
