"""The validator against the contract: every inbound type's examples, and the rules that
JSON Schema alone cannot carry (real times, CEL rules, step graphs, subjects)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.adapters.validation import (
    DERIVED_TYPES,
    INBOUND_TYPES,
    EventValidator,
    Problem,
    parse_time,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EXAMPLES = SCHEMAS / "examples"
CASE_TYPES = sorted(
    t
    for t in INBOUND_TYPES
    if t.startswith(("ledger.case.", "ledger.step.", "ledger.operation."))
    or t
    in {
        "ledger.inspection.recorded",
        "ledger.decision.overridden",
        "ledger.violation.reviewed",
        "ledger.incident.reported",
    }
)
NON_CASE_TYPES = sorted(INBOUND_TYPES - set(CASE_TYPES))


@pytest.fixture(scope="module")
def validator() -> EventValidator:
    return EventValidator()


def example(event_type: str, name: str) -> Any:
    return json.loads((EXAMPLES / event_type / f"{name}.json").read_text(encoding="utf-8"))


def valid(event_type: str) -> dict[str, Any]:
    envelope: dict[str, Any] = copy.deepcopy(example(event_type, "valid"))
    return envelope


def pairs(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in problems]


# --- the examples ------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(INBOUND_TYPES))
def test_valid_example_has_no_problems(validator: EventValidator, event_type: str) -> None:
    envelope = example(event_type, "valid")
    assert envelope["type"] == event_type
    assert validator.validate(envelope) == []


@pytest.mark.parametrize("event_type", sorted(INBOUND_TYPES))
def test_invalid_example_yields_exactly_the_expected_problems(
    validator: EventValidator, event_type: str
) -> None:
    case = example(event_type, "invalid")
    assert case["envelope"]["type"] == event_type
    expected = sorted((e["field"], e["rule"]) for e in case["expect"])
    assert expected, "an invalid example must expect at least one problem"
    assert sorted(pairs(validator.validate(case["envelope"]))) == expected


# --- the envelope --------------------------------------------------------------------------


def test_time_without_offset_is_rejected(validator: EventValidator) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope["time"] = "2026-03-02T10:00:00"
    assert pairs(validator.validate(envelope)) == [("time", "pattern")]


@pytest.mark.parametrize(
    "time",
    [
        "2026-03-02T10:00+08:00",  # no seconds
        "2026-03-02 10:00:00+08:00",  # space instead of T
        "2026-03-02T10:00:00+0800",  # offset without colon
        "2026-03-02T10:00:00+08:00\n",  # Python's $ would let this through
        "2026-03-02",
        "",
    ],
)
def test_malformed_time_is_rejected_by_pattern(validator: EventValidator, time: str) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope["time"] = time
    assert pairs(validator.validate(envelope)) == [("time", "pattern")]


@pytest.mark.parametrize(
    "time",
    ["2026-02-30T10:00:00+08:00", "2026-03-02T24:00:00Z", "2026-03-02T10:00:00+24:00"],
)
def test_time_that_is_no_real_instant_is_rejected(validator: EventValidator, time: str) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope["time"] = time
    assert pairs(validator.validate(envelope)) == [("time", "invalid_time")]


@pytest.mark.parametrize(
    "time",
    ["2026-03-02T02:00:00Z", "2026-03-02T10:00:00.123456+08:00", "2026-03-01T21:00:00-05:00"],
)
def test_time_with_any_offset_form_is_accepted(validator: EventValidator, time: str) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope["time"] = time
    assert validator.validate(envelope) == []
    assert parse_time(time).utcoffset() is not None


@pytest.mark.parametrize("tenant", ["ACME", "acme\n", "", "a" * 64, "acme_corp"])
def test_tenant_outside_its_pattern_is_rejected(validator: EventValidator, tenant: str) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope["tenant"] = tenant
    assert pairs(validator.validate(envelope)) == [("tenant", "pattern")]


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("specversion", "0.3", ("specversion", "const")),
        ("id", "", ("id", "minLength")),
        ("id", "x" * 129, ("id", "maxLength")),
        ("source", "", ("source", "pattern")),
        ("source", "erp orders", ("source", "pattern")),
        ("subject", "S" * 257, ("subject", "maxLength")),
        ("data", [], ("data", "type")),
        ("traceparent", "00-abc-01", ("traceparent", "pattern")),
        ("datacontenttype", 5, ("datacontenttype", "type")),
        ("partitionkey", {"a": 1}, ("partitionkey", "type")),
        ("Subject", "SO-1001", ("Subject", "propertyNames")),
        ("data_base64", "eyJ9", ("data_base64", "propertyNames")),
    ],
)
def test_envelope_attribute_rules(
    validator: EventValidator, attribute: str, value: object, expected: tuple[str, str]
) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope[attribute] = value
    assert pairs(validator.validate(envelope)) == [expected]


def test_cloudevents_extensions_with_scalar_values_are_allowed(
    validator: EventValidator,
) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope |= {
        "datacontenttype": "application/json",
        "dataschema": "https://example.com/schemas/sales_order.json",
        "partitionkey": "SO-1001",
        "sequence": 42,
        "replayed": False,
    }
    assert validator.validate(envelope) == []


@pytest.mark.parametrize(
    "attribute", ["specversion", "id", "source", "type", "time", "tenant", "data"]
)
def test_missing_required_attribute_is_named(validator: EventValidator, attribute: str) -> None:
    envelope = valid("ledger.org.employee.assigned")
    del envelope[attribute]
    assert (attribute, "required") in pairs(validator.validate(envelope))


@pytest.mark.parametrize("envelope", [[], "event", None, 42, b"{}"])
def test_non_object_envelope_is_rejected(validator: EventValidator, envelope: object) -> None:
    problems = validator.validate(envelope)
    assert pairs(problems) == [("", "not_an_object")]
    assert problems[0].event_id is None


# --- types ---------------------------------------------------------------------------------


@pytest.mark.parametrize("derived_type", sorted(DERIVED_TYPES))
def test_derived_type_from_outside_is_rejected(
    validator: EventValidator, derived_type: str
) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope["type"] = derived_type
    assert pairs(validator.validate(envelope)) == [("type", "derived_type")]


@pytest.mark.parametrize("event_type", ["ledger.order.created", "", "LEDGER.CASE.OPENED"])
def test_unknown_type_is_rejected(validator: EventValidator, event_type: str) -> None:
    envelope = valid("ledger.case.opened")
    envelope["type"] = event_type
    assert pairs(validator.validate(envelope)) == [("type", "unknown_type")]


@pytest.mark.parametrize("event_type", CASE_TYPES)
def test_case_event_without_subject_is_rejected(validator: EventValidator, event_type: str) -> None:
    envelope = valid(event_type)
    del envelope["subject"]
    assert pairs(validator.validate(envelope)) == [("subject", "subject_required")]


@pytest.mark.parametrize("event_type", NON_CASE_TYPES)
def test_non_case_event_needs_no_subject(validator: EventValidator, event_type: str) -> None:
    envelope = valid(event_type)
    envelope.pop("subject", None)
    assert validator.validate(envelope) == []
    assert not validator.subject_required(event_type)


def test_clients_may_add_optional_data_fields(validator: EventValidator) -> None:
    envelope = valid("ledger.operation.submitted")
    envelope["data"]["channel"] = "store-12"
    assert validator.validate(envelope) == []


def test_optional_data_fields_may_not_be_null(validator: EventValidator) -> None:
    envelope = valid("ledger.org.employee.assigned")
    envelope["data"]["supervisor_id"] = None
    assert pairs(validator.validate(envelope)) == [("data.supervisor_id", "type")]


# --- policies ------------------------------------------------------------------------------


def test_policy_rule_that_does_not_compile_is_rejected_with_compile_error(
    validator: EventValidator,
) -> None:
    envelope = valid("ledger.policy.defined")
    envelope["data"]["rule"] = "payload.return_days <="
    problems = validator.validate(envelope)
    assert pairs(problems) == [("data.rule", "cel_compile")]
    assert "Syntax error" in problems[0].message
    assert "payload.return_days <=" in problems[0].message


@pytest.mark.parametrize(
    "rule",
    [
        "payload.return_days <= 3",
        "has(payload.discount) ? payload.discount < 0.2 : true",
        "payload.lines.all(l, l.qty > 0) && payload.customer.startsWith('C-')",
        "size(payload.approvers) >= 2",
    ],
)
def test_policy_rule_that_compiles_is_accepted(validator: EventValidator, rule: str) -> None:
    envelope = valid("ledger.policy.defined")
    envelope["data"]["rule"] = rule
    assert validator.validate(envelope) == []


@pytest.mark.parametrize("rule", ["payload.x == 'a", "1 +", "payload..x", "   "])
def test_policy_rule_with_syntax_errors_is_rejected(validator: EventValidator, rule: str) -> None:
    envelope = valid("ledger.policy.defined")
    envelope["data"]["rule"] = rule
    assert pairs(validator.validate(envelope)) == [("data.rule", "cel_compile")]


def test_policy_rule_of_wrong_type_is_a_type_problem_not_a_compile_error(
    validator: EventValidator,
) -> None:
    envelope = valid("ledger.policy.defined")
    envelope["data"]["rule"] = 3
    assert pairs(validator.validate(envelope)) == [("data.rule", "type")]


@pytest.mark.parametrize("duration", ["PT24H", "P7D", "P1DT2H", "PT30M", "P2W", "PT0.5S", "P1Y2M"])
def test_iso_durations_are_accepted(validator: EventValidator, duration: str) -> None:
    envelope = valid("ledger.policy.defined")
    envelope["data"]["review_within"] = duration
    assert validator.validate(envelope) == []


@pytest.mark.parametrize(
    "duration", ["P", "PT", "P1DT", "24H", "PT24h", "P-1D", "PT24H\n", "P1.5D", "", "P1D2H"]
)
def test_malformed_durations_are_rejected(validator: EventValidator, duration: str) -> None:
    envelope = valid("ledger.policy.defined")
    envelope["data"]["review_within"] = duration
    assert pairs(validator.validate(envelope)) == [("data.review_within", "pattern")]


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("escalate_levels", 0, "minimum"),
        ("escalate_levels", 1.5, "type"),
        ("escalate_levels", True, "type"),
        ("version", 0, "minimum"),
        ("version", "1", "type"),
        ("severity", "Major", "enum"),
    ],
)
def test_policy_numbers_and_enums(
    validator: EventValidator, field: str, value: object, rule: str
) -> None:
    envelope = valid("ledger.policy.defined")
    envelope["data"][field] = value
    assert pairs(validator.validate(envelope)) == [(f"data.{field}", rule)]


# --- processes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lead", [{"employee_id": "e-wang"}, {"unit_id": "market"}, {"role": "campaign-owner"}]
)
def test_lead_naming_one_party_is_accepted(validator: EventValidator, lead: dict[str, str]) -> None:
    envelope = valid("ledger.process.defined")
    envelope["data"]["steps"][0]["lead"] = lead
    assert validator.validate(envelope) == []


@pytest.mark.parametrize(
    ("lead", "rule"),
    [
        ({}, "oneOf"),
        ({"employee_id": "e-wang", "unit_id": "market"}, "oneOf"),
        ({"employee_id": "e-wang", "unit_id": "market", "role": "r"}, "oneOf"),
        ({"employee_id": ""}, "oneOf"),
        ("market", "type"),
    ],
)
def test_lead_must_name_exactly_one_party(
    validator: EventValidator, lead: object, rule: str
) -> None:
    envelope = valid("ledger.process.defined")
    envelope["data"]["steps"][0]["lead"] = lead
    assert pairs(validator.validate(envelope)) == [("data.steps.0.lead", rule)]


def test_cooperating_parties_follow_the_lead_shape(validator: EventValidator) -> None:
    envelope = valid("ledger.process.defined")
    envelope["data"]["steps"][1]["cooperating"] = [{"unit_id": "market"}, {"team": "x"}]
    assert pairs(validator.validate(envelope)) == [("data.steps.1.cooperating.1", "oneOf")]


def test_step_missing_its_due_is_named(validator: EventValidator) -> None:
    envelope = valid("ledger.process.defined")
    del envelope["data"]["steps"][2]["due"]
    assert pairs(validator.validate(envelope)) == [("data.steps.2.due", "required")]


def test_process_with_step_cycle_is_rejected(validator: EventValidator) -> None:
    envelope = valid("ledger.process.defined")
    envelope["data"]["steps"][0]["after"] = ["promote"]  # research waits for promote
    # research -> promote -> build -> prototype -> research: one problem, on the edge
    # that closes the loop when the steps are walked in the order they are listed.
    assert pairs(validator.validate(envelope)) == [("data.steps.1.after.0", "step_cycle")]


def test_step_waiting_for_itself_is_rejected(validator: EventValidator) -> None:
    envelope = valid("ledger.process.defined")
    envelope["data"]["steps"][2]["after"] = ["prototype", "build"]
    assert pairs(validator.validate(envelope)) == [("data.steps.2.after.1", "step_cycle")]


def test_duplicate_step_names_are_rejected(validator: EventValidator) -> None:
    envelope = valid("ledger.process.defined")
    envelope["data"]["steps"][3]["step"] = "build"
    assert pairs(validator.validate(envelope)) == [
        ("data.steps.3.step", "duplicate_step"),
    ]


def test_long_process_is_checked_without_recursion(validator: EventValidator) -> None:
    envelope = valid("ledger.process.defined")
    lead = {"unit_id": "ops"}
    steps = [{"step": "s0", "title": "s0", "lead": lead, "due": "P1D"}]
    steps += [
        {"step": f"s{i}", "title": f"s{i}", "lead": lead, "due": "P1D", "after": [f"s{i - 1}"]}
        for i in range(1, 5000)
    ]
    envelope["data"]["steps"] = steps
    assert validator.validate(envelope) == []
    steps[0]["after"] = ["s4999"]
    assert pairs(validator.validate(envelope)) == [("data.steps.1.after.0", "step_cycle")]


# --- problems ------------------------------------------------------------------------------


def _many_problems() -> dict[str, Any]:
    envelope = valid("ledger.operation.submitted")
    envelope["id"] = "o-1"
    envelope["time"] = "2026-03-02T10:00:00"
    envelope["tenant"] = "Acme"
    del envelope["subject"]
    envelope["data"] = {"actor_id": 7, "payload": {"return_days": "seven"}}
    return envelope


def test_every_problem_names_event_id_field_and_rule(validator: EventValidator) -> None:
    problems = validator.validate(_many_problems())
    assert pairs(problems) == [
        ("data.actor_id", "type"),
        ("data.operation", "required"),
        ("subject", "subject_required"),
        ("tenant", "pattern"),
        ("time", "pattern"),
    ]
    for problem in problems:
        assert problem.event_id == "o-1"
        assert "'o-1'" in problem.message
        assert problem.field in problem.message
        assert problem.rule in problem.message
        assert problem.as_dict() == {
            "event_id": "o-1",
            "field": problem.field,
            "rule": problem.rule,
            "message": problem.message,
        }


def test_problem_without_readable_id_says_so(validator: EventValidator) -> None:
    envelope = valid("ledger.case.closed")
    envelope["id"] = 17
    problems = validator.validate(envelope)
    assert pairs(problems) == [("id", "type")]
    assert problems[0].event_id is None
    assert "no readable id" in problems[0].message


def test_problems_are_sorted_and_deterministic(validator: EventValidator) -> None:
    envelope = valid("ledger.process.defined")
    for i in range(len(envelope["data"]["steps"])):
        envelope["data"]["steps"][i]["due"] = "PT"
    envelope["data"]["steps"] *= 3  # 12 steps: steps.10 must sort after steps.2
    first = validator.validate(envelope)
    assert first == validator.validate(copy.deepcopy(envelope))
    due = [p.field for p in first if p.rule == "pattern"]
    assert due == [f"data.steps.{i}.due" for i in range(12)]


@pytest.mark.parametrize("key", ["²", "¹", "٣", "1"])
def test_problems_sort_whatever_digits_a_member_name_holds(
    validator: EventValidator, key: str
) -> None:
    """Found by fuzzing POST /v1/events: {"¹": null} was a 500 (`int("¹")` while sorting)."""
    problems = validator.validate({key: None, "b": None})
    assert ("required", "id") in [(p.rule, p.field) for p in problems]
    expected = [key, "b"] if key == "1" else ["b", key]  # numbers first, then names
    assert [p.field for p in problems if p.rule == "type"] == expected


def test_problems_are_json_serialisable(validator: EventValidator) -> None:
    problems = validator.validate(_many_problems())
    assert json.loads(json.dumps([p.as_dict() for p in problems]))


def test_long_values_are_cut_short_in_messages(validator: EventValidator) -> None:
    envelope = valid("ledger.case.closed")
    envelope["data"]["outcome"] = ["x" * 10_000]
    (problem,) = validator.validate(envelope)
    assert (problem.field, problem.rule) == ("data.outcome", "type")
    assert len(problem.message) < 500


# --- stream keys ---------------------------------------------------------------------------


def test_stream_key_of_org_event_is_its_employee(validator: EventValidator) -> None:
    envelope = valid("ledger.org.employee.assigned")
    envelope.pop("subject", None)
    assert validator.validate(envelope) == []
    assert validator.stream_key(envelope) == "employee:e-li"


def test_stream_key_of_case_event_is_its_case(validator: EventValidator) -> None:
    assert validator.stream_key(valid("ledger.operation.submitted")) == "case:SO-1001"


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("ledger.org.unit.defined", "unit:sales"),
        ("ledger.org.employee.departed", "employee:e-li"),
        ("ledger.access.role.defined", "role:buyer"),
        ("ledger.access.role.granted", "role:buyer"),
        ("ledger.access.role.revoked", "role:buyer"),
        ("ledger.policy.defined", "policy:return-window"),
        ("ledger.process.defined", "process:launch"),
        ("ledger.case.opened", "case:SO-1001"),
        ("ledger.inspection.recorded", "case:B-77"),
    ],
)
def test_stream_key_per_type(validator: EventValidator, event_type: str, expected: str) -> None:
    envelope = valid(event_type)
    if not validator.subject_required(event_type):
        envelope.pop("subject", None)
    assert validator.stream_key(envelope) == expected


def test_stream_key_of_non_case_event_prefers_its_subject(validator: EventValidator) -> None:
    envelope = valid("ledger.org.employee.assigned")
    assert envelope["subject"] == "e-li"
    assert validator.stream_key(envelope) == "employee:e-li"


@pytest.mark.parametrize("event_type", ["violation.flagged", "ledger.nope"])
def test_stream_key_refuses_types_it_cannot_route(
    validator: EventValidator, event_type: str
) -> None:
    envelope = valid("ledger.case.opened")
    envelope["type"] = event_type
    with pytest.raises(ValueError, match="not an inbound event type"):
        validator.stream_key(envelope)


# --- derived data --------------------------------------------------------------------------


def test_derived_data_the_ledger_writes_is_checked(validator: EventValidator) -> None:
    flagged = {
        "violation_id": "v-1",
        "event_id": "erp-SO-1001-submit",
        "employee_id": "e-li",
        "policy_id": "return-window",
        "policy_version": 1,
        "severity": "major",
        "supervisor_id": "e-zhang",
        "review_due": "2026-03-03T10:00:00+08:00",
    }
    assert validator.validate_derived_data("violation.flagged", flagged) == []
    missed = {"obligation": "step", "case_id": "LAUNCH-7", "due": "2026-03-09T09:00:00+08:00"}
    assert pairs(validator.validate_derived_data("deadline.missed", missed)) == [
        ("data.step", "required")
    ]
    liability = {
        "liability_id": "l-1",
        "employee_id": "e-zhang",
        "kind": "supervisor",
        "basis": "slept",
        "case_id": "SO-1001",
        "event_ids": [],
    }
    assert pairs(validator.validate_derived_data("liability.assigned", liability)) == [
        ("data.basis", "enum"),
        ("data.event_ids", "minItems"),
    ]


def test_validator_refuses_a_schema_dir_that_disagrees_with_the_code(tmp_path: Path) -> None:
    registry = json.loads((SCHEMAS / "types.json").read_text(encoding="utf-8"))
    del registry["inbound"]["ledger.case.closed"]
    (tmp_path / "types.json").write_text(json.dumps(registry), encoding="utf-8")
    (tmp_path / "types.schema.json").write_bytes((SCHEMAS / "types.schema.json").read_bytes())
    with pytest.raises(ValueError, match=r"ledger\.case\.closed"):
        EventValidator(tmp_path)
