"""The contract's JSON Schemas: our dialect of draft 2020-12, and the type registry."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jsonschema_rs
from jsonschema import (  # type: ignore[import-untyped]
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)
from jsonschema.validators import extend  # type: ignore[import-untyped]

from ledger.domain.catalog import DERIVED_TYPES, INBOUND_TYPES
from ledger.resources import SCHEMAS_DIR

DEFAULT_SCHEMAS_DIR: Final[Path] = SCHEMAS_DIR


# The same shape as the envelope schema's time pattern; the format checker below only
# judges values of this shape, so one malformed time yields one problem, not two.
_RFC3339_SHAPE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)



# --- JSON Schema dialect ---------------------------------------------------------------


@lru_cache(maxsize=512)
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a schema pattern with ECMA-262 end-of-input semantics.

    JSON Schema patterns are ECMA-262 regexes, where ``$`` matches only at the end of
    the input. Python's ``$`` also matches before a trailing newline, which would let
    ``"acme\\n"`` pass as a tenant. Every unescaped ``$`` outside a character class is
    therefore rewritten to ``\\Z``.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            out.append(r"\Z")
            i += 1
            continue
        out.append(char)
        i += 1
    return re.compile("".join(out))


def _pattern_keyword(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(str(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_LedgerValidator: Any = extend(Draft202012Validator, validators={"pattern": _pattern_keyword})

# A private checker, not FormatChecker(): the default one silently skips formats whose
# optional packages are missing, so results would depend on what happens to be installed.
_FORMATS: Final[Any] = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
def _is_real_instant(value: object) -> bool:
    """Reject well-shaped times that name no instant (Feb 30th, hour 24, offset +24:00).

    Badly shaped values pass here because the schema's ``pattern`` reports them.
    """
    if not isinstance(value, str) or not _RFC3339_SHAPE.fullmatch(value):
        return True
    datetime.fromisoformat(value)
    return True


def parse_time(value: str) -> datetime:
    """Parse an envelope ``time`` that has passed validation into an aware datetime."""
    return datetime.fromisoformat(value)


# --- type registry ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeSpec:
    data_schema: str
    subject_required: bool
    key_kind: str
    key_field: str | None


def read_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle)


class _FastFirst:
    """A schema compiled twice: jsonschema-rs answers "valid?" (most events are, and it is
    ~50x faster), and only an invalid instance goes through jsonschema for its detailed,
    per-field problems. tests/unit/test_validation_fast_path.py holds the two to agreement
    on every example, valid and invalid."""

    def __init__(self, schema: Any) -> None:
        self.slow = _LedgerValidator(schema, format_checker=_FORMATS)
        self.fast = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)

    def iter_errors(self, instance: object) -> Iterator[Any]:
        if self.fast.is_valid(instance):
            return iter(())
        return iter(self.slow.iter_errors(instance))


def compile_schema(schema: Any, origin: Path) -> _FastFirst:
    """Compile a schema once, failing loudly if the file itself is not a valid schema."""
    try:
        _LedgerValidator.check_schema(schema)
    except Exception as exc:
        raise ValueError(f"{origin} is not a valid draft 2020-12 schema: {exc}") from exc
    return _FastFirst(schema)


def load_types(schemas_dir: Path) -> tuple[dict[str, TypeSpec], dict[str, str]]:
    registry = read_json(schemas_dir / "types.json")
    problems = list(
        compile_schema(
            read_json(schemas_dir / "types.schema.json"), schemas_dir / "types.schema.json"
        ).iter_errors(registry)
    )
    if problems:
        raise ValueError(f"{schemas_dir / 'types.json'} is malformed: {problems[0].message}")
    inbound = {
        name: TypeSpec(
            data_schema=entry["data_schema"],
            subject_required=entry["subject_required"],
            key_kind=entry["stream_key"]["kind"],
            key_field=entry["stream_key"]["field"],
        )
        for name, entry in registry["inbound"].items()
    }
    derived = {name: entry["data_schema"] for name, entry in registry["derived"].items()}
    if set(inbound) != INBOUND_TYPES or set(derived) != DERIVED_TYPES:
        raise ValueError(
            "types.json and ledger.domain.catalog disagree on the event types: "
            f"inbound {sorted(set(inbound) ^ INBOUND_TYPES)}, "
            f"derived {sorted(set(derived) ^ DERIVED_TYPES)}"
        )
    return inbound, derived


