"""Validation of inbound event envelopes against the contract's machine form.

The JSON Schemas under ``schemas/`` are the contract; this module only adds what JSON
Schema cannot say (that a time is a real instant, that a policy rule compiles as CEL,
that a process's steps form a graph without cycles, that case events carry a subject)
and turns every failure into a :class:`Problem` that a caller can put in an HTTP 4xx
body or a dead-letter header without further translation.

It is pure: the schema files are read once, when an :class:`EventValidator` is built,
and ``validate`` never does I/O, so it can run inside request handlers and consumers
alike and give the same answer on replay.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cel
import jsonschema_rs
from jsonschema import (  # type: ignore[import-untyped]
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)
from jsonschema.validators import extend  # type: ignore[import-untyped]

from ledger.adapters.strict_json import Defect, Refused
from ledger.adapters.value_checks import envelope_defects
from ledger.domain.catalog import DERIVED_TYPES, INBOUND_TYPES
from ledger.domain.representable import OutOfRange, bounded_duration
from ledger.domain.responsibility.rules import DEFAULT_LIMITS, RuleLimits, rule_complexity
from ledger.resources import SCHEMAS_DIR

__all__ = [
    "DEFAULT_SCHEMAS_DIR",
    "DERIVED_TYPES",
    "INBOUND_TYPES",
    "EventValidator",
    "Problem",
    "default_validator",
    "parse_time",
]

DEFAULT_SCHEMAS_DIR: Final[Path] = SCHEMAS_DIR

_CASE_KIND: Final = "case"
_MAX_DETAIL: Final = 300  # schema messages quote the instance; keep DLQ headers bounded

# The same shape as the envelope schema's time pattern; the format checker below only
# judges values of this shape, so one malformed time yields one problem, not two.
_RFC3339_SHAPE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


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


def _problem(event_id: str | None, field: str, rule: str, detail: str) -> Problem:
    who = f"event {event_id!r}" if event_id is not None else "event (no readable id)"
    where = field or "envelope"
    return Problem(event_id, field, rule, f"{who}: {where}: {detail} [rule {rule}]")


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _dotted(parts: Iterable[object]) -> str:
    return ".".join(str(part) for part in parts)


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
class _TypeSpec:
    data_schema: str
    subject_required: bool
    key_kind: str
    key_field: str | None


def _read_json(path: Path) -> Any:
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


def _compile(schema: Any, origin: Path) -> _FastFirst:
    """Compile a schema once, failing loudly if the file itself is not a valid schema."""
    try:
        _LedgerValidator.check_schema(schema)
    except Exception as exc:
        raise ValueError(f"{origin} is not a valid draft 2020-12 schema: {exc}") from exc
    return _FastFirst(schema)


def _load_types(schemas_dir: Path) -> tuple[dict[str, _TypeSpec], dict[str, str]]:
    registry = _read_json(schemas_dir / "types.json")
    problems = list(
        _compile(
            _read_json(schemas_dir / "types.schema.json"), schemas_dir / "types.schema.json"
        ).iter_errors(registry)
    )
    if problems:
        raise ValueError(f"{schemas_dir / 'types.json'} is malformed: {problems[0].message}")
    inbound = {
        name: _TypeSpec(
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
        self._types, derived = _load_types(root)
        self._envelope = _compile(
            _read_json(root / "envelope.schema.json"), root / "envelope.schema.json"
        )
        self._data = {
            name: _compile(_read_json(root / spec.data_schema), root / spec.data_schema)
            for name, spec in self._types.items()
        }
        self._derived = {
            name: _compile(_read_json(root / path), root / path) for name, path in derived.items()
        }

    def validate(self, envelope: object) -> list[Problem]:
        """Every problem with ``envelope``, sorted by field; ``[]`` means it is valid.

        All problems are reported at once, not the first one, so an upstream team can
        fix a rejected batch in one round trip.
        """
        if type(envelope) is Refused:  # read with duplicate keys or inexact integers
            return _finish(_defect_problems(envelope.defects, _event_id(envelope)))
        if not isinstance(envelope, dict):
            return [
                _problem(
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
        event_id = _event_id(envelope)
        problems = set(_schema_problems(self._envelope, envelope, (), event_id))
        # jsonschema-rs takes second 60 for a real time: the engine's parser says it is not.
        time_reported = any(problem.field == "time" for problem in problems)
        problems.update(_defect_problems(
            envelope_defects(envelope, parsed_time=not time_reported), event_id))

        event_type = envelope.get("type")
        if isinstance(event_type, str):
            if event_type in DERIVED_TYPES:
                problems.add(
                    _problem(
                        event_id,
                        "type",
                        "derived_type",
                        f"{event_type!r} is derived by the ledger and never accepted from outside",
                    )
                )
            elif (spec := self._types.get(event_type)) is None:
                problems.add(
                    _problem(
                        event_id, "type", "unknown_type", f"{event_type!r} is not an event type"
                    )
                )
            else:
                if spec.subject_required and "subject" not in envelope:
                    problems.add(
                        _problem(
                            event_id,
                            "subject",
                            "subject_required",
                            f"{event_type} is a case event and needs the case id as subject",
                        )
                    )
                data = envelope.get("data")
                if isinstance(data, dict):
                    problems.update(
                        _schema_problems(self._data[event_type], data, ("data",), event_id)
                    )
                    problems.update(
                        _semantic_problems(event_type, data, event_id, self.rule_limits)
                    )
        return _finish(problems) if problems else []

    def _plainly_valid(self, envelope: dict[str, Any]) -> bool:
        """The common case in a few native calls: an inbound type whose envelope and data
        both pass jsonschema-rs, with no rule compiled (policies) or cross-checked
        (processes) beyond the schema. Anything else takes the full path, which finds
        every problem; the two agree on every valid example (test_validation.py)."""
        event_type = envelope.get("type")
        if not isinstance(event_type, str) or event_type in _SEMANTIC_TYPES:
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
                _problem(event_id, "type", "unknown_type", f"{event_type!r} is not a derived type")
            ]
        if not isinstance(data, dict):
            return [
                _problem(
                    event_id,
                    "data",
                    "type",
                    f"data must be a JSON object, not {type(data).__name__}",
                )
            ]
        return _finish(_schema_problems(validator, data, ("data",), event_id))

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

    def _spec(self, event_type: object) -> _TypeSpec:
        spec = self._types.get(event_type) if isinstance(event_type, str) else None
        if spec is None:
            raise ValueError(f"{event_type!r} is not an inbound event type")
        return spec


@cache
def default_validator() -> EventValidator:
    """The validator over the repository's own schemas, built on first use and shared."""
    return EventValidator()


# --- turning schema errors into problems --------------------------------------------------


def _schema_problems(
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
                yield _problem(event_id, _dotted((*path, name)), "required", "is required")
    elif keyword == "dependentRequired" and isinstance(error.instance, Mapping):
        for present, needed in error.validator_value.items():
            if present not in error.instance:
                continue
            for name in needed:
                if name not in error.instance:
                    yield _problem(
                        event_id,
                        _dotted((*path, name)),
                        "dependentRequired",
                        f"is required when {present!r} is given",
                    )
    elif error.relative_schema_path and error.relative_schema_path[0] == "propertyNames":
        yield _problem(
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
        yield _problem(event_id, _dotted(path), "oneOf", f"{detail} ({hint})" if hint else detail)
    elif keyword == "format" and error.validator_value == "date-time":
        yield _problem(
            event_id,
            _dotted(path),
            "invalid_time",
            f"{error.instance!r} is not a real date and time ({error.cause})",
        )
    else:
        yield _problem(event_id, _dotted(path), keyword, _shorten(error.message))


def _event_id(envelope: Mapping[str, Any]) -> str | None:
    raw_id = envelope.get("id")
    return raw_id if isinstance(raw_id, str) else None


def _defect_problems(defects: Iterable[Defect], event_id: str | None) -> Iterator[Problem]:
    for defect in defects:
        yield _problem(event_id, defect.field, defect.rule, defect.detail)


def _finish(problems: Iterable[Problem]) -> list[Problem]:
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


# --- what JSON Schema cannot say -----------------------------------------------------------


#: Types checked beyond their schema by `_semantic_problems`.
_SEMANTIC_TYPES = frozenset(
    {"ledger.policy.defined", "ledger.process.defined", "ledger.calendar.defined"}
)


def _semantic_problems(
    event_type: str, data: Mapping[str, Any], event_id: str | None, rule_limits: RuleLimits
) -> Iterator[Problem]:
    if event_type == "ledger.policy.defined":
        yield from _policy_problems(data, event_id, rule_limits)
        yield from _duration_problems(data, "review_within", "data", event_id)
        yield from _business_problems(data, "review_within", "review_counting", "data", event_id)
    elif event_type == "ledger.process.defined":
        yield from _process_problems(data, event_id)
        steps = data.get("steps")
        for i, step in enumerate(steps if isinstance(steps, list) else ()):
            if isinstance(step, Mapping):
                yield from _step_duration_problems(step, f"data.steps.{i}", event_id)
    elif event_type == "ledger.calendar.defined":
        yield from _calendar_problems(data, event_id)


def _step_duration_problems(
    step: Mapping[str, Any], at: str, event_id: str | None
) -> Iterator[Problem]:
    for name in ("due", "escalate_after"):
        yield from _duration_problems(step, name, at, event_id)
        yield from _business_problems(step, name, "counting", at, event_id)
    cooperating = step.get("cooperating")
    for j, party in enumerate(cooperating if isinstance(cooperating, list) else ()):
        if isinstance(party, Mapping):
            yield from _duration_problems(party, "due", f"{at}.cooperating.{j}", event_id)
            yield from _business_problems(
                party, "due", "counting", f"{at}.cooperating.{j}", event_id
            )


def _business_problems(
    holder: Mapping[str, Any], name: str, counting: str, at: str, event_id: str | None
) -> Iterator[Problem]:
    """Business counting runs in working days and hours: years and months are neither."""
    value = holder.get(name)
    if holder.get(counting) != "business" or not isinstance(value, str):
        return
    if not _DURATION_SHAPE.fullmatch(value):
        return
    date_part = value.partition("T")[0]
    if "Y" in date_part or "M" in date_part:
        yield _problem(
            event_id,
            f"{at}.{name}",
            "business_duration",
            f"{value} counted in business time: use days, weeks or hours, not years or months",
        )


def _calendar_problems(data: Mapping[str, Any], event_id: str | None) -> Iterator[Problem]:
    """A calendar the engine could not count on: an unknown time zone, an impossible
    date, working hours that end before they start."""
    zone = data.get("timezone")
    if isinstance(zone, str) and zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            yield _problem(event_id, "data.timezone", "calendar", f"unknown time zone {zone!r}")
    for name in ("holidays", "workdays"):
        days = data.get(name)
        for i, day in enumerate(days if isinstance(days, list) else ()):
            if isinstance(day, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day):
                try:
                    date.fromisoformat(day)
                except ValueError:
                    yield _problem(event_id, f"data.{name}.{i}", "calendar", f"no such date {day}")
    hours = data.get("hours")
    if isinstance(hours, Mapping):
        start, end = hours.get("start"), hours.get("end")
        if isinstance(start, str) and isinstance(end, str) and _CLOCK.fullmatch(start) and (
            _CLOCK.fullmatch(end) and start >= end
        ):
            yield _problem(event_id, "data.hours", "calendar", "hours end before they start")


_CLOCK: Final = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


# The schemas' ISO 8601 duration pattern: a value of another shape is reported there.
_DURATION_SHAPE: Final = re.compile(
    r"P(?:[0-9]+W|(?=[0-9]|T[0-9])(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?"
    r"(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:\.[0-9]+)?S)?)?)"
)


def _duration_problems(
    holder: Mapping[str, Any], name: str, at: str, event_id: str | None
) -> Iterator[Problem]:
    """A duration the engine would compute a deadline from, within the documented bound
    (ledger.domain.representable), parsed by the engine's own parser."""
    value = holder.get(name)
    if not isinstance(value, str) or not _DURATION_SHAPE.fullmatch(value):
        return
    try:
        bounded_duration(value)
    except OutOfRange as exc:
        yield _problem(event_id, f"{at}.{name}", exc.rule, exc.detail)


def _policy_problems(
    data: Mapping[str, Any], event_id: str | None, limits: RuleLimits
) -> Iterator[Problem]:
    """A rule that cannot compile would flag (or pass) every operation for a wrong reason.

    Its size is measured first: a long or deeply nested text can crash the CEL parser
    (native code), so one beyond the limits never reaches it. The parser's panics are
    BaseExceptions; they refuse the rule, not the batch."""
    rule = data.get("rule")
    if not isinstance(rule, str) or not rule:
        return  # the schema already reports a missing or non-string rule
    too_complex = rule_complexity(rule, limits)
    if too_complex is not None:
        yield _problem(event_id, "data.rule", "rule_too_complex", f"too complex: {too_complex}")
        return
    try:
        cel.compile(rule)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # ValueError and kin, or a pyo3 PanicException
        yield _problem(event_id, "data.rule", "cel_compile", f"does not compile as CEL: {exc}")


def _process_problems(data: Mapping[str, Any], event_id: str | None) -> Iterator[Problem]:
    """Deadlines count from the completion of ``after`` steps; a dangling or circular
    ``after`` would leave a step that can never start and so can never be late."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        name = step.get("step") if isinstance(step, dict) else None
        if not isinstance(name, str):
            continue
        if name in index:
            yield _problem(
                event_id,
                f"data.steps.{i}.step",
                "duplicate_step",
                f"step {name!r} is already defined at data.steps.{index[name]}",
            )
        else:
            index[name] = i

    edges: dict[str, list[tuple[str, int]]] = {name: [] for name in index}
    for name, i in index.items():
        after = steps[i].get("after")
        if not isinstance(after, list):
            continue
        for j, before in enumerate(after):
            if not isinstance(before, str):
                continue
            if before not in index:
                yield _problem(
                    event_id,
                    f"data.steps.{i}.after.{j}",
                    "unknown_step",
                    f"{before!r} is not a step of this process",
                )
            else:
                edges[name].append((before, j))
    for name, j in _back_edges(index, edges):
        yield _problem(
            event_id,
            f"data.steps.{index[name]}.after.{j}",
            "step_cycle",
            f"step {name!r} waits, directly or not, for itself",
        )


def _back_edges(
    index: Mapping[str, int], edges: Mapping[str, list[tuple[str, int]]]
) -> Iterator[tuple[str, int]]:
    """Edges that close a cycle, found by an iterative depth-first search.

    Iterative because the step list comes from outside and may be long enough to
    exhaust Python's recursion limit.
    """
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in index:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, Iterator[tuple[str, int]]]] = [(root, iter(edges[root]))]
        while stack:
            node, successors = stack[-1]
            for successor, position in successors:
                seen = state.get(successor)
                if seen == 1:
                    yield node, position
                elif seen is None:
                    state[successor] = 1
                    stack.append((successor, iter(edges[successor])))
                    break
            else:
                state[node] = 2
                stack.pop()
