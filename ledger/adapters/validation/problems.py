"""Why an event is refused: `Problem`, and schema errors turned into problems."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ledger.adapters.strict_json import Defect

_MAX_DETAIL: Final = 300  # schema messages quote the instance; keep DLQ headers bounded




@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an event is rejected, precise enough for a machine and a person.

    ``field`` and ``rule`` are what callers branch on; ``message`` repeats them in a
    sentence so that a log line or DLQ header is understandable on its own.
    """

    event_id: str | None
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str | None]:
        """The wire form (schemas/problem.schema.json), for HTTP bodies and DLQ headers."""
        return {
            "event_id": self.event_id,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
        }


def problem(event_id: str | None, field: str, rule: str, detail: str) -> Problem:
    who = f"event {event_id!r}" if event_id is not None else "event (no readable id)"
    where = field or "envelope"
    return Problem(event_id, field, rule, f"{who}: {where}: {detail} [rule {rule}]")


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _dotted(parts: Iterable[object]) -> str:
    return ".".join(str(part) for part in parts)


# --- turning schema errors into problems --------------------------------------------------


def schema_problems(
    validator: Any, instance: Mapping[str, Any], prefix: tuple[str, ...], event_id: str | None
) -> Iterator[Problem]:
    for error in validator.iter_errors(instance):
        yield from _error_problems(error, prefix, event_id)


def _error_problems(error: Any, prefix: tuple[str, ...], event_id: str | None) -> Iterator[Problem]:
    path = (*prefix, *(str(part) for part in error.absolute_path))
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, Mapping):
        # jsonschema's error names the object; callers want the missing field itself.
        for name in error.validator_value:
            if name not in error.instance:
                yield problem(event_id, _dotted((*path, name)), "required", "is required")
    elif keyword == "dependentRequired" and isinstance(error.instance, Mapping):
        for present, needed in error.validator_value.items():
            if present not in error.instance:
                continue
            for name in needed:
                if name not in error.instance:
                    yield problem(
                        event_id,
                        _dotted((*path, name)),
                        "dependentRequired",
                        f"is required when {present!r} is given",
                    )
    elif error.relative_schema_path and error.relative_schema_path[0] == "propertyNames":
        yield problem(
            event_id,
            _dotted((*path, error.instance)),
            "propertyNames",
            "CloudEvents attribute names are lower-case ASCII letters and digits only",
        )
    elif keyword == "oneOf":
        # jsonschema's message dumps every alternative. A failed oneOf matched either
        # none (then every alternative left an error in the context) or several.
        failed = {ctx.relative_schema_path[0] for ctx in error.context if ctx.relative_schema_path}
        total = len(error.validator_value)
        matched = "none" if len(failed) >= total else "more than one"
        hint = error.schema.get("description") if isinstance(error.schema, Mapping) else None
        detail = f"must match exactly one of {total} alternatives, matches {matched}"
        yield problem(event_id, _dotted(path), "oneOf", f"{detail} ({hint})" if hint else detail)
    elif keyword == "format" and error.validator_value == "date-time":
        yield problem(
            event_id,
            _dotted(path),
            "invalid_time",
            f"{error.instance!r} is not a real date and time ({error.cause})",
        )
    else:
        yield problem(event_id, _dotted(path), keyword, _shorten(error.message))


def event_id_of(envelope: Mapping[str, Any]) -> str | None:
    raw_id = envelope.get("id")
    return raw_id if isinstance(raw_id, str) else None


def defect_problems(defects: Iterable[Defect], event_id: str | None) -> Iterator[Problem]:
    for defect in defects:
        yield problem(event_id, defect.field, defect.rule, defect.detail)


def finish(problems: Iterable[Problem]) -> list[Problem]:
    """Deduplicate and order; a value of the wrong type gets only its type problem.

    Once a value is the wrong kind of thing, whatever else its schema says about it
    (alternatives, patterns) is noise that hides the one fix needed.
    """
    unique = set(problems)
    mistyped = {problem.field for problem in unique if problem.rule == "type"}
    kept = (p for p in unique if p.rule == "type" or p.field not in mistyped)
    return sorted(kept, key=_sort_key)


def _sort_key(problem: Problem) -> tuple[tuple[tuple[int, int, str], ...], str, str]:
    """Natural order on the dotted field, so that steps.2 sorts before steps.10 (ASCII
    digits only: a key such as "²" is a digit to `isdigit` but not to `int`)."""
    parts = tuple(
        (0, int(part), "") if part.isascii() and part.isdigit() else (1, 0, part)
        for part in problem.field.split(".")
    )
    return parts, problem.rule, problem.message


