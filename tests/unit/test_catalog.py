"""The Python event-type catalog and schemas/types.json name the same types, both ways."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ledger.adapters import validation
from ledger.domain import catalog
from ledger.resources import SCHEMAS_DIR


@pytest.fixture(scope="module")
def registry() -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((SCHEMAS_DIR / "types.json").read_bytes())
    return loaded


def test_every_inbound_type_of_the_catalog_is_in_types_json(registry: dict[str, Any]) -> None:
    assert sorted(catalog.INBOUND_TYPES - set(registry["inbound"])) == []


def test_every_inbound_type_of_types_json_is_in_the_catalog(registry: dict[str, Any]) -> None:
    assert sorted(set(registry["inbound"]) - catalog.INBOUND_TYPES) == []


def test_every_derived_type_of_the_catalog_is_in_types_json(registry: dict[str, Any]) -> None:
    assert sorted(catalog.DERIVED_TYPES - set(registry["derived"])) == []


def test_every_derived_type_of_types_json_is_in_the_catalog(registry: dict[str, Any]) -> None:
    assert sorted(set(registry["derived"]) - catalog.DERIVED_TYPES) == []


def test_no_type_is_both_inbound_and_derived() -> None:
    assert catalog.INBOUND_TYPES.isdisjoint(catalog.DERIVED_TYPES)


def test_each_named_constant_is_in_its_set_and_each_member_has_a_constant() -> None:
    named = {v for k, v in vars(catalog).items() if k.isupper() and isinstance(v, str)}
    assert named == catalog.INBOUND_TYPES | catalog.DERIVED_TYPES


def test_the_validator_checks_against_the_catalog_itself() -> None:
    assert validation.INBOUND_TYPES is catalog.INBOUND_TYPES
    assert validation.DERIVED_TYPES is catalog.DERIVED_TYPES
