"""Scores for appraisal (docs/domain-rules.md, Scores for appraisal), rule by rule and as
properties: every record on the scheme in force at its own time, corrected ones for
nothing, sums that add up per employee and per unit."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.responsibility.scores import (
    APPEAL_OVERTURNED,
    CORRECTED,
    COUNTED,
    LIABILITY,
    NO_SCHEME,
    OVERTURNED,
    POSITIVE,
    Record,
    Scheme,
    in_force,
    number,
    score,
    score_all,
)

T0 = datetime.fromisoformat("2026-04-01T00:00:00+08:00")
V1 = Scheme.from_data({
    "scheme_id": "kpi", "version": 1,
    "penalties": {"violated_policy": 5, "review_missed": 3, "missed_deadline": 2},
    "severity_factor": {"minor": 0.5, "major": 1, "critical": 2},
    "bonuses": {"step_on_time": 1, "review_done": 1},
}, T0, "kpi-v1")
V2 = Scheme.from_data({
    "scheme_id": "kpi", "version": 2, "penalties": {"violated_policy": 10},
    "severity_factor": {}, "bonuses": {"step_on_time": 0.1},
}, T0 + timedelta(days=15), "kpi-v2")


def liability(basis: str, day: int, *, severity: str | None = None, employee: str = "e-li",
              unit: str | None = "sales", corrected: str | None = None) -> Record:
    return Record(LIABILITY, f"L-{basis}-{day}-{employee}", employee, unit, "C-1",
                  T0 + timedelta(days=day), basis=basis, severity=severity,
                  corrected_reason=corrected)


def positive(kind: str, day: int, *, employee: str = "e-li", unit: str | None = "sales") -> Record:
    return Record(POSITIVE, f"D-{kind}-{day}-{employee}", employee, unit, "C-1",
                  T0 + timedelta(days=day), kind=kind)


def test_a_liability_scores_minus_its_basis_points_times_its_severity_factor() -> None:
    assert score(liability("violated_policy", 1, severity="critical"), V1).points == -10
    assert score(liability("violated_policy", 1, severity="minor"), V1).points == Decimal("-2.5")


def test_a_liability_without_a_severity_or_a_factor_for_it_scores_its_basis_points() -> None:
    assert score(liability("review_missed", 1), V1).points == -3
    assert score(liability("violated_policy", 20, severity="major"), V2).points == -10


def test_a_positive_record_scores_its_kind_bonus() -> None:
    item = score(positive("review_done", 1), V1)
    assert (item.points, item.status, item.scheme) == (Decimal(1), COUNTED, V1)


def test_a_basis_or_kind_the_scheme_does_not_name_scores_nothing_but_is_listed() -> None:
    assert score(liability("passed_defect", 1), V1).points == 0
    assert score(positive("review_done", 20), V2).points == 0


def test_a_corrected_liability_scores_nothing_and_says_why() -> None:
    corrected = score(liability("violated_policy", 1, corrected="later data"), V1)
    overturned = score(liability("violated_policy", 1, corrected=APPEAL_OVERTURNED), V1)
    assert (corrected.points, corrected.status) == (Decimal(0), CORRECTED)
    assert (overturned.points, overturned.status) == (Decimal(0), OVERTURNED)


def test_a_record_before_any_scheme_scores_nothing() -> None:
    item = score(liability("violated_policy", -1), in_force([V1], T0 - timedelta(days=1)))
    assert (item.points, item.status, item.scheme) == (Decimal(0), NO_SCHEME, None)


def test_each_record_is_scored_on_the_version_in_force_at_its_own_time() -> None:
    assert in_force([V2, V1], T0 + timedelta(days=14)) == V1
    assert in_force([V2, V1], T0 + timedelta(days=15)) == V2
    scores = score_all([liability("violated_policy", 14, severity="major"),
                        liability("violated_policy", 16, severity="major")], [V2, V1])
    assert [i.points for i in scores.employees["e-li"].items] == [-5, -10]


def test_a_named_scheme_is_only_read_for_its_own_versions() -> None:
    other = Scheme.from_data({"scheme_id": "factory", "version": 1, "penalties": {},
                              "severity_factor": {}, "bonuses": {}}, T0 + timedelta(days=2))
    assert in_force([V1, other], T0 + timedelta(days=3)) == other
    assert in_force([V1, other], T0 + timedelta(days=3), "kpi") == V1


def test_an_employee_sums_penalties_and_bonuses_and_a_unit_its_members_at_the_time() -> None:
    records = [liability("violated_policy", 1, severity="major"), positive("step_on_time", 2),
               positive("review_done", 3, employee="e-zhang"),
               liability("missed_deadline", 4, unit="ops")]  # Li moved to ops by then
    scores = score_all(records, [V1])
    li = scores.employees["e-li"]
    assert (li.penalty, li.bonus, li.total) == tuple(map(Decimal, (7, 1, -6)))
    sales = scores.units["sales"]
    assert (sales.penalty, sales.bonus) == tuple(map(Decimal, (5, 2)))
    assert scores.units["ops"].total == -2


def test_decimal_points_add_up_exactly() -> None:
    scores = score_all([positive("step_on_time", 20 + i) for i in range(3)], [V2])
    assert number(scores.employees["e-li"].total) == 0.3
    assert number(Decimal("4.0")) == 4 and isinstance(number(Decimal("4.0")), int)


BASES = ["violated_policy", "review_missed", "missed_deadline", "passed_defect"]
records = st.lists(st.one_of(
    st.builds(liability, st.sampled_from(BASES), st.integers(-3, 30),
              severity=st.sampled_from([None, "minor", "major", "critical"]),
              employee=st.sampled_from(["e-li", "e-wu"]),
              unit=st.sampled_from([None, "sales", "ops"]),
              corrected=st.sampled_from([None, None, "later data", APPEAL_OVERTURNED])),
    st.builds(positive, st.sampled_from(["step_on_time", "review_done"]), st.integers(-3, 30),
              employee=st.sampled_from(["e-li", "e-wu"]),
              unit=st.sampled_from([None, "sales", "ops"])),
), max_size=30, unique_by=lambda r: r.record_id)


@settings(max_examples=200, deadline=None)
@given(records=records, order=st.randoms(use_true_random=False))
def test_sums_add_up_whatever_the_order_and_corrected_records_never_count(
    records: list[Record], order: object
) -> None:
    scores = score_all(records, [V1, V2])
    shuffled = list(records)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    again = score_all(shuffled, [V2, V1])
    for who, tally in scores.employees.items():
        assert tally.total == tally.bonus - tally.penalty == again.employees[who].total
        assert tally.penalty >= 0 and tally.bonus >= 0
        assert all(i.points == 0 for i in tally.items if i.record.corrected_reason)
    in_units = [r for r in records if r.unit_id is not None]
    assert sum(t.total for t in scores.units.values()) == sum(
        score(r, in_force([V1, V2], r.at)).points for r in in_units)
    assert sum(len(t.items) for t in scores.employees.values()) == len(records)
