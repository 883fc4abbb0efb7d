"""The fast validity check (jsonschema-rs) and the detailed one (jsonschema) must agree:
the fast one decides what is accepted, the detailed one explains rejections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.adapters.validation import DEFAULT_SCHEMAS_DIR, default_validator

EXAMPLES = sorted((DEFAULT_SCHEMAS_DIR / "examples").glob("*/*.json"))
WORKED = Path(__file__).resolve().parents[2] / "examples" / "worked-examples.jsonl"


def instances() -> list[Any]:
    found = []
    for path in EXAMPLES:
        doc = orjson.loads(path.read_bytes())
        found.append(doc["envelope"] if path.name == "invalid.json" else doc)
    found += [orjson.loads(line) for line in WORKED.read_bytes().splitlines()]
    return found


@pytest.mark.parametrize("instance", instances(), ids=lambda i: str(i.get("id")))
def test_fast_and_detailed_validators_agree_on_every_example(instance: Any) -> None:
    validator = default_validator()
    compiled = [validator._envelope]
    data_schema = validator._data.get(instance.get("type"))
    for schema, value in ((compiled[0], instance), (data_schema, instance.get("data"))):
        if schema is None or not isinstance(value, dict):
            continue
        fast = schema.fast.is_valid(value)
        slow = not list(schema.slow.iter_errors(value))
        assert fast == slow, (instance.get("id"), list(schema.slow.iter_errors(value)))


def test_a_real_looking_but_impossible_time_is_rejected_by_both() -> None:
    validator = default_validator()
    schema = validator._envelope
    bad = orjson.loads(WORKED.read_bytes().splitlines()[0])
    bad["time"] = "2026-02-30T10:00:00+08:00"
    assert not schema.fast.is_valid(bad)
    assert list(schema.slow.iter_errors(bad))


@pytest.mark.parametrize("instance", instances(), ids=lambda i: str(i.get("id")))
def test_the_plain_shortcut_accepts_only_what_the_full_path_finds_no_problem_with(
    instance: Any,
) -> None:
    validator = default_validator()
    if validator._plainly_valid(instance):
        assert validator._full_problems(instance) == []
    assert (validator.validate(instance) == []) == (validator._full_problems(instance) == [])


def test_types_with_semantic_checks_never_take_the_shortcut() -> None:
    from ledger.adapters.validation import INBOUND_TYPES, SEMANTIC_TYPES

    assert SEMANTIC_TYPES <= INBOUND_TYPES
    bad_rule = next(i for i in instances() if i.get("type") == "ledger.policy.defined"
                    and default_validator().validate(i) == [])
    broken = {**bad_rule, "data": {**bad_rule["data"], "rule": "this is ( not CEL"}}
    assert not default_validator()._plainly_valid(broken)
    assert [p.rule for p in default_validator().validate(broken)] == ["cel_compile"]
