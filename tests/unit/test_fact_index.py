"""References resolve the same whether the facts they name are in memory or set aside, and
whether the set-aside identities are kept in memory or in the worker's spill on disk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.adapters.case_spill import CaseSpill
from ledger.domain.responsibility.facts import AwayFacts, AwayInMemory, Fact, FactIndex

AT = datetime(2026, 3, 1, 9, tzinfo=UTC)
ERP_1 = Fact("erp/sales", "1", "ledger.operation.submitted", AT, "SO-1", {})
OA_1 = Fact("oa/approvals", "1", "ledger.operation.approved", AT, "SO-2", {})
ERP_2 = Fact("erp/sales", "2", "ledger.operation.submitted", AT, "SO-2", {})
CASES = {"SO-1": [ERP_1], "SO-2": [OA_1, ERP_2]}


def in_memory(_: Path) -> AwayFacts:
    return AwayInMemory()


def on_disk(tmp_path: Path) -> AwayFacts:
    return CaseSpill(tmp_path).away_facts("acme")


class Index(FactIndex):
    """A fact index over CASES whose fault brings a case back and notes which."""

    def __init__(self, away: AwayFacts) -> None:
        super().__init__()
        self.away = away
        self.brought_back: list[str] = []
        self.fault = self._bring_back
        for facts in CASES.values():
            for fact in facts:
                self.add(fact)

    def _bring_back(self, case_id: str) -> None:
        self.brought_back.append(case_id)
        self.readmit(CASES[case_id])


@pytest.fixture(params=[in_memory, on_disk])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Index:
    keeper: Callable[[Path], AwayFacts] = request.param
    return Index(keeper(tmp_path))


def test_a_ref_and_a_unique_id_name_the_same_fact_in_memory_or_set_aside(
    index: Index,
) -> None:
    assert index.resolve("2") is ERP_2
    index.set_aside("SO-2", CASES["SO-2"])

    assert index.knows("erp/sales#2") and index.knows("2")
    assert index.brought_back == []  # knowing does not bring a case back
    assert index.resolve("2") is ERP_2
    assert index.brought_back == ["SO-2"]
    assert len(index.away) == 0 and len(index) == 3


def test_an_id_two_sources_share_names_neither_wherever_their_facts_are(
    index: Index,
) -> None:
    assert index.resolve("1") is None
    index.set_aside("SO-2", CASES["SO-2"])  # one in memory, one set aside
    assert index.resolve("1") is None
    index.set_aside("SO-1", CASES["SO-1"])  # both set aside
    assert index.resolve("1") is None and not index.knows("1")
    assert index.brought_back == []

    assert index.resolve("oa/approvals#1") is OA_1  # the ref still names it
    assert index.brought_back == ["SO-2"]


def test_an_unknown_reference_resolves_to_nothing_and_brings_nothing_back(
    index: Index,
) -> None:
    index.set_aside("SO-1", CASES["SO-1"])

    assert index.resolve("erp/sales#9") is None and index.resolve("9") is None
    assert index.resolve(9) is None
    assert index.brought_back == [] and len(index) == 3


def test_names_looked_up_ahead_resolve_as_they_would_one_by_one(index: Index) -> None:
    index.set_aside("SO-1", CASES["SO-1"])
    names = {"erp/sales#1", "1", "2", "erp/sales#2", "oa/approvals#1", "erp/sales#9", "9"}
    one_by_one = {name: index.knows(name) for name in names}

    index.look_ahead(names)

    assert {name: index.knows(name) for name in names} == one_by_one


def test_a_fact_set_aside_after_a_look_ahead_is_still_found(index: Index) -> None:
    index.set_aside("SO-1", CASES["SO-1"])
    index.look_ahead({"erp/sales#2", "2", "oa/approvals#1"})  # in memory: none set aside

    index.set_aside("SO-2", CASES["SO-2"])

    assert index.knows("erp/sales#2") and index.knows("2")
    assert index.resolve("oa/approvals#1") is OA_1
    assert index.brought_back == ["SO-2"]
