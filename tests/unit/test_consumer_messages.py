"""Kafka messages -> JSON values and message keys (pure)."""

from __future__ import annotations

from consumers.messages import message_key, parse_value
from ledger.adapters.validation import EventValidator
from tests.support.envelopes import envelope

VALIDATOR = EventValidator()


def test_a_json_value_parses_to_its_object() -> None:
    value, problem = parse_value(b'{"a": [1, 2]}')
    assert value == {"a": [1, 2]} and problem is None


def test_bytes_that_are_not_json_give_the_invalid_json_reason() -> None:
    value, problem = parse_value(b"\xff\xfe not json")
    assert value is None
    assert problem is not None and problem.rule == "invalid_json"


def test_a_tombstone_without_value_is_not_json_either() -> None:
    _, problem = parse_value(None)
    assert problem is not None and problem.rule == "invalid_json"


def test_a_case_event_is_keyed_by_its_subject() -> None:
    assert message_key(envelope("a", subject="SO-1001"), VALIDATOR) == "SO-1001"


def test_an_org_event_without_subject_is_keyed_by_the_employee_id() -> None:
    event = {
        "specversion": "1.0", "id": "hr-1", "source": "hr", "type":
        "ledger.org.employee.assigned", "time": "2026-03-01T09:00:00+08:00", "tenant": "acme",
        "data": {"employee_id": "e-li", "name": "Li", "unit_id": "sales"},
    }
    assert message_key(event, VALIDATOR) == "e-li"


def test_an_org_event_with_a_subject_is_keyed_by_the_subject() -> None:
    event = {"type": "ledger.org.unit.defined", "subject": "sales", "data": {"unit_id": "x"}}
    assert message_key(event, VALIDATOR) == "sales"


def test_what_is_not_an_envelope_has_no_key() -> None:
    assert message_key([1, 2], VALIDATOR) is None
    assert message_key({"type": "no.such.type"}, VALIDATOR) is None
    assert message_key({"type": "ledger.org.unit.defined", "data": {}}, VALIDATOR) is None
