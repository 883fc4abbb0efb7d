"""The spill gives back exactly the case it was given, and leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger.adapters.case_spill import CaseSpill, said_from_json, said_to_json
from ledger.domain.responsibility.emitted import CaseEmitted
from ledger.domain.responsibility.facts import Fact

SHANGHAI = timezone(timedelta(hours=8))
FACTS = [
    Fact("erp/sales", "SO-1", "ledger.operation.submitted",
         datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=SHANGHAI), "SO-1",
         {"actor_id": "e-li", "amount": 12.5, "note": "退货 ✓", "tags": ["a", None, True],
          "nested": {"n": 9007199254740993}},
         "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    Fact("oa/review", "R-1", "ledger.violation.reviewed",
         datetime(2026, 3, 2, 1, 0, tzinfo=UTC), "SO-1", {"violation_id": "SO-1"}, None),
]
SAID = CaseEmitted(
    digests={("ledger.violation.flagged", "abc"): "d1", ("ledger.liability.assigned", "k"): "d2"},
    liabilities={"L-1": ("claim", "e-li")},
    corrected={"L-0": "d0"},
    revisions={"L-0": ""},
)


def test_a_case_comes_back_as_it_was_set_aside(tmp_path: Path) -> None:
    spill = CaseSpill(tmp_path)
    spill.put("acme", "SO-1", FACTS, said_to_json(SAID))

    facts, said = spill.take("acme", "SO-1")

    assert [(f.ref, f.type, f.time, f.time.utcoffset(), f.subject, f.data, f.traceparent)
            for f in facts] == [(f.ref, f.type, f.time, f.time.utcoffset(), f.subject,
                                 f.data, f.traceparent) for f in FACTS]
    assert said_from_json(said) == SAID
    assert spill.cases == 0


def test_a_case_is_taken_once_and_tenants_are_kept_apart(tmp_path: Path) -> None:
    spill = CaseSpill(tmp_path)
    spill.put("acme", "SO-1", [], said_to_json(SAID))
    spill.put("globex", "SO-1", [], {"liabilities": {"L-1": {"position": 7}}})

    assert spill.take("globex", "SO-1")[1] == {"liabilities": {"L-1": {"position": 7}}}
    with pytest.raises(KeyError):
        spill.take("globex", "SO-1")
    spill.drop("acme")
    with pytest.raises(KeyError):
        spill.take("acme", "SO-1")
    assert spill.cases == 0


def test_nothing_is_written_until_a_case_is_set_aside_and_nothing_stays_after_close(
    tmp_path: Path,
) -> None:
    spill = CaseSpill(tmp_path)
    assert list(tmp_path.iterdir()) == []
    spill.put("acme", "SO-1", [])
    assert len(list(tmp_path.iterdir())) == 1
    spill.close()
    assert list(tmp_path.iterdir()) == []
