"""Guards on the contract's machine form.

The schemas are a public contract: upstream teams code against them. A change to one
must be a decision, so every schema file is pinned by its sha256 and a change fails
here until the snapshot is updated on purpose. The other tests keep the pieces
(types.json, data schemas, examples, AsyncAPI) from drifting apart.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource

from ledger.adapters.validation import DERIVED_TYPES, INBOUND_TYPES

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "schemas.sha256"
UPDATE_HINT = (
    "If the change is deliberate, update the snapshot with\n"
    "    UPDATE_SNAPSHOTS=1 pytest tests/unit/test_schema_snapshots.py\n"
    "and commit it together with the schema change (and tell upstream teams)."
)


def schema_files() -> list[Path]:
    """Every JSON/YAML file under schemas/, except the examples (they are test data)."""
    return sorted(
        path
        for path in SCHEMAS.rglob("*")
        if path.is_file()
        and path.suffix in {".json", ".yaml", ".yml"}
        and "examples" not in path.relative_to(SCHEMAS).parts
    )


def current_digests() -> dict[str, str]:
    return {
        path.relative_to(SCHEMAS).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in schema_files()
    }


def read_snapshot() -> dict[str, str]:
    digests: dict[str, str] = {}
    for line in SNAPSHOT.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            digests[name] = digest
    return digests


def write_snapshot(digests: dict[str, str]) -> None:
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{digest}  {name}" for name, digest in sorted(digests.items())]
    # sha256sum format: `cd schemas && sha256sum -c ../tests/unit/snapshots/schemas.sha256`
    SNAPSHOT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_schemas_match_snapshot() -> None:
    digests = current_digests()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        write_snapshot(digests)
        return
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}.\n{UPDATE_HINT}"
    recorded = read_snapshot()
    changes = [
        f"changed: schemas/{n}"
        for n in sorted(digests)
        if n in recorded and recorded[n] != digests[n]
    ]
    changes += [f"added:   schemas/{n}" for n in sorted(set(digests) - set(recorded))]
    changes += [f"removed: schemas/{n}" for n in sorted(set(recorded) - set(digests))]
    assert not changes, (
        "The published schemas differ from the recorded snapshot:\n  "
        + "\n  ".join(changes)
        + "\n"
        + UPDATE_HINT
    )


# --- consistency -------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def types_registry() -> dict[str, Any]:
    registry: dict[str, Any] = load_json(SCHEMAS / "types.json")
    return registry


def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text("utf-8"))
    return document


def json_schema_files() -> list[Path]:
    return [p for p in schema_files() if p.name.endswith(".schema.json")]


@pytest.mark.parametrize(
    "path", json_schema_files(), ids=lambda p: p.relative_to(SCHEMAS).as_posix()
)
def test_every_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = load_json(path)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("/schemas/" + path.relative_to(SCHEMAS).as_posix())
    assert schema.get("description"), "a published schema says what it is for"


def test_types_json_matches_its_schema() -> None:
    validator = Draft202012Validator(load_json(SCHEMAS / "types.schema.json"))
    assert list(validator.iter_errors(types_registry())) == []


def test_types_json_lists_exactly_the_contract_types() -> None:
    registry = types_registry()
    assert set(registry["inbound"]) == INBOUND_TYPES
    assert set(registry["derived"]) == DERIVED_TYPES


@pytest.mark.parametrize("event_type", sorted(INBOUND_TYPES))
def test_every_inbound_type_has_schema_examples_and_asyncapi_message(event_type: str) -> None:
    entry = types_registry()["inbound"][event_type]
    assert entry["data_schema"] == f"data/{event_type}.schema.json"
    assert (SCHEMAS / entry["data_schema"]).is_file()
    for name in ("valid", "invalid"):
        assert (SCHEMAS / "examples" / event_type / f"{name}.json").is_file()

    document = asyncapi()
    message = document["components"]["messages"][event_type]
    assert f"./{entry['data_schema']}" in set(refs(message["payload"]))
    assert "./envelope.schema.json" in set(refs(message["payload"]))
    channel = document["channels"]["ledgerEvents"]["messages"]
    assert channel[event_type] == {"$ref": f"#/components/messages/{event_type}"}
    operation = document["operations"]["consumeEvents"]["messages"]
    assert {"$ref": f"#/channels/ledgerEvents/messages/{event_type}"} in operation


@pytest.mark.parametrize("derived_type", sorted(DERIVED_TYPES))
def test_every_derived_type_has_a_schema(derived_type: str) -> None:
    entry = types_registry()["derived"][derived_type]
    assert (SCHEMAS / entry["data_schema"]).is_file()


@pytest.mark.parametrize("event_type", sorted(INBOUND_TYPES))
def test_data_schema_describes_its_openness_and_requires_only_known_fields(
    event_type: str,
) -> None:
    schema = load_json(SCHEMAS / "data" / f"{event_type}.schema.json")
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    assert "Additional properties are allowed" in schema["description"]
    assert set(schema["required"]) <= set(schema["properties"])


def test_every_date_time_format_also_has_a_pattern() -> None:
    """The validator's date-time check judges only well-shaped values and leaves the
    shape to `pattern`; a date-time without one would let garbage through."""
    for path in json_schema_files():
        for node in walk(load_json(path)):
            if node.get("format") == "date-time":
                assert "pattern" in node, f"{path}: date-time without pattern"


def test_asyncapi_describes_the_topics() -> None:
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0"
    events = document["channels"]["ledgerEvents"]
    assert events["address"] == "ledger.events"
    assert events["bindings"]["kafka"]["partitions"] == 12
    dlq = document["channels"]["ledgerEventsDlq"]
    assert dlq["address"] == "ledger.events.dlq"
    headers = document["components"]["messages"]["deadLetter"]["headers"]
    assert set(headers["required"]) == {
        "ledger.dlq.reason",
        "ledger.dlq.source.topic",
        "ledger.dlq.source.partition",
        "ledger.dlq.source.offset",
    }
    assert set(headers["properties"]) == set(headers["required"])
    reason_items = headers["properties"]["ledger.dlq.reason"]["contentSchema"]["items"]
    assert reason_items == {"$ref": "./problem.schema.json"}


def test_asyncapi_internal_references_resolve() -> None:
    document = asyncapi()
    for ref in refs(document):
        if ref.startswith("#/"):
            node: Any = document
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        else:
            assert (SCHEMAS / ref).is_file(), ref


@pytest.mark.parametrize("event_type", sorted(INBOUND_TYPES))
def test_asyncapi_payload_schema_accepts_the_valid_example_and_not_the_invalid(
    event_type: str,
) -> None:
    """Resolves the AsyncAPI payload's file references as a schema consumer would."""
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema))
        for schema in (load_json(p) for p in json_schema_files())
    )
    envelope_id = load_json(SCHEMAS / "envelope.schema.json")["$id"]
    payload = asyncapi()["components"]["messages"][event_type]["payload"]
    assert payload["schemaFormat"].startswith("application/schema+json")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": envelope_id.replace("envelope.schema.json", "asyncapi.yaml"),
        **payload["schema"],
    }
    validator = Draft202012Validator(schema, registry=registry)
    valid = load_json(SCHEMAS / "examples" / event_type / "valid.json")
    invalid = load_json(SCHEMAS / "examples" / event_type / "invalid.json")["envelope"]
    assert list(validator.iter_errors(valid)) == []
    assert list(validator.iter_errors(invalid)) != []


def refs(node: Any) -> Iterator[str]:
    for item in walk(node):
        if isinstance(item.get("$ref"), str):
            yield item["$ref"]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)
