"""The validator: envelope and data schemas, then what JSON Schema cannot say."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ledger.adapters.strict_json import Refused
from ledger.adapters.validation.problems import (
    Problem,
    defect_problems,
    event_id_of,
    finish,
    problem,
    schema_problems,
)
from ledger.adapters.validation.schemas import (
    DEFAULT_SCHEMAS_DIR,
    TypeSpec,
    compile_schema,
    load_types,
    read_json,
)
from ledger.adapters.validation.semantic import SEMANTIC_TYPES, semantic_problems
from ledger.adapters.value_checks import envelope_defects
from ledger.domain.catalog import DERIVED_TYPES
from ledger.domain.responsibility.rules import DEFAULT_LIMITS, RuleLimits

# --- the validator -----------------------------------------------------------------------


class EventValidator:
    """Validates inbound envelopes and names their stream.

    Build one per process and share it: construction reads and compiles every schema,
    validation is then pure and thread-safe (nothing is mutated after ``__init__``).
    """

    def __init__(
        self, schemas_dir: Path | None = None, *, rule_limits: RuleLimits = DEFAULT_LIMITS
    ) -> None:
        """`rule_limits`: what a policy's CEL rule must keep (else rule_too_complex)."""
        self.rule_limits = rule_limits
        root = (schemas_dir or DEFAULT_SCHEMAS_DIR).resolve()
        self._types, derived = load_types(root)
        self._envelope = compile_schema(
            read_json(root / "envelope.schema.json"), root / "envelope.schema.json"
        )
        self._data = {
            name: compile_schema(read_json(root / spec.data_schema), root / spec.data_schema)
            for name, spec in self._types.items()
        }
        self._derived = {
            name: compile_schema(read_json(root / path), root / path)
            for name, path in derived.items()
        }

    def validate(self, envelope: object) -> list[Problem]:
        """Every problem with ``envelope``, sorted by field; ``[]`` means it is valid.

        All problems are reported at once, not the first one, so an upstream team can
        fix a rejected batch in one round trip.
        """
        if type(envelope) is Refused:  # read with duplicate keys or inexact integers
            return finish(defect_problems(envelope.defects, event_id_of(envelope)))
        if not isinstance(envelope, dict):
            return [
                problem(
                    None,
                    "",
                    "not_an_object",
                    f"an event must be a JSON object, not {type(envelope).__name__}",
                )
            ]
        if self._plainly_valid(envelope) and not envelope_defects(envelope, parsed_time=True):
            return []
        return self._full_problems(envelope)

    def _full_problems(self, envelope: dict[str, Any]) -> list[Problem]:
        event_id = event_id_of(envelope)
        problems = set(schema_problems(self._envelope, envelope, (), event_id))
        # jsonschema-rs takes second 60 for a real time: the engine's parser says it is not.
        time_reported = any(problem.field == "time" for problem in problems)
        problems.update(defect_problems(
            envelope_defects(envelope, parsed_time=not time_reported), event_id))

        event_type = envelope.get("type")
        if isinstance(event_type, str):
            if event_type in DERIVED_TYPES:
                problems.add(
                    problem(
                        event_id,
                        "type",
                        "derived_type",
                        f"{event_type!r} is derived by the ledger and never accepted from outside",
                    )
                )
            elif (spec := self._types.get(event_type)) is None:
                problems.add(
                    problem(
                        event_id, "type", "unknown_type", f"{event_type!r} is not an event type"
                    )
                )
            else:
                if spec.subject_required and "subject" not in envelope:
                    problems.add(
                        problem(
                            event_id,
                            "subject",
                            "subject_required",
                            f"{event_type} is a case event and needs the case id as subject",
                        )
                    )
                data = envelope.get("data")
                if isinstance(data, dict):
                    problems.update(
                        schema_problems(self._data[event_type], data, ("data",), event_id)
                    )
                    problems.update(
                        semantic_problems(event_type, data, event_id, self.rule_limits)
                    )
        return finish(problems) if problems else []

    def _plainly_valid(self, envelope: dict[str, Any]) -> bool:
        """The common case in a few native calls: an inbound type whose envelope and data
        both pass jsonschema-rs, with no rule compiled (policies) or cross-checked
        (processes) beyond the schema. Anything else takes the full path, which finds
        every problem; the two agree on every valid example (test_validation.py)."""
        event_type = envelope.get("type")
        if not isinstance(event_type, str) or event_type in SEMANTIC_TYPES:
            return False
        spec = self._types.get(event_type)
        if spec is None:
            return False
        data = envelope.get("data")
        return (
            type(data) is dict
            and (not spec.subject_required or "subject" in envelope)
            and self._envelope.fast.is_valid(envelope)
            and self._data[event_type].fast.is_valid(data)
        )

    def validate_derived_data(
        self, event_type: str, data: object, event_id: str | None = None
    ) -> list[Problem]:
        """Check the data of an event the ledger itself derives, before it is written.

        Derived events never come through :meth:`validate` (they are rejected there), but
        what the ledger writes must still match its documented shape, or projections
        rebuilt from the ledger would disagree with the contract.
        """
        validator = self._derived.get(event_type)
        if validator is None:
            return [
                problem(event_id, "type", "unknown_type", f"{event_type!r} is not a derived type")
            ]
        if not isinstance(data, dict):
            return [
                problem(
                    event_id,
                    "data",
                    "type",
                    f"data must be a JSON object, not {type(data).__name__}",
                )
            ]
        return finish(schema_problems(validator, data, ("data",), event_id))

    def subject_required(self, event_type: str) -> bool:
        """Whether envelopes of this inbound type must carry a subject (the case id)."""
        return self._spec(event_type).subject_required

    def stream_key(self, envelope: Mapping[str, Any]) -> str:
        """The storage stream (and Kafka key) of a VALID envelope.

        Case events live in their case's stream (the subject); every other event in the
        stream of the thing it defines (data key field), whatever subject a client set, so
        that one employee's history is never split across two streams. Prefixed by kind so
        that a case id and an employee id spelled alike never share a stream:
        ``case:SO-1001``, ``employee:e-li``, ``role:buyer``.
        """
        spec = self._spec(envelope.get("type"))
        if spec.key_field is None:
            subject = envelope.get("subject")
            if not isinstance(subject, str) or not subject:
                raise ValueError(f"{envelope.get('type')} needs a subject to name its stream")
            return f"{spec.key_kind}:{subject}"
        data = envelope.get("data")
        value = data.get(spec.key_field) if isinstance(data, Mapping) else None
        if not isinstance(value, str) or not value:
            raise ValueError(
                f"{envelope.get('type')} needs data.{spec.key_field} to name its stream"
            )
        return f"{spec.key_kind}:{value}"

    def _spec(self, event_type: object) -> TypeSpec:
        spec = self._types.get(event_type) if isinstance(event_type, str) else None
        if spec is None:
            raise ValueError(f"{event_type!r} is not an inbound event type")
        return spec


@cache
def default_validator() -> EventValidator:
    """The validator over the repository's own schemas, built on first use and shared."""
    return EventValidator()


