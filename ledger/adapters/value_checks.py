"""Checks on an envelope's values that its JSON Schema cannot make, as `Defect`s.

Times and integers are judged by what the ledger later does with them (the engine's own
parsers, in ledger.domain.representable; RFC 8785 hashing); identifiers must be free of
control characters (U+0000-U+001F, U+007F), which would otherwise reach stream names,
Kafka keys, log lines and exported cells. Free text (titles, comments) may hold them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

import orjson

from ledger.adapters.strict_json import Defect, has_long_digit_run
from ledger.domain.representable import MAX_SAFE_INTEGER, OutOfRange, event_time

__all__ = ["MAX_DEPTH", "envelope_defects", "is_identifier"]

#: How deeply an envelope's objects and arrays may nest (the envelope itself is depth 0,
#: `data` 1): far beyond any business payload, and well within what the canonical writer
#: (orjson writes 254 levels) and the interpreter's recursion limit can hash and store.
MAX_DEPTH: Final = 64

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
#: Fields that name something (besides every `*_id` and `*_ids`), at any depth.
_IDENTIFIERS: Final = frozenset(
    {"id", "source", "subject", "opened_by", "role", "step", "after", "operation",
     "applies_to", "required_outputs"}
)


def is_identifier(key: str) -> bool:
    return key in _IDENTIFIERS or key.endswith(("_id", "_ids"))


def envelope_defects(envelope: Mapping[str, Any], *, parsed_time: bool) -> list[Defect]:
    """Every defect of `envelope`'s values; `parsed_time` False leaves a `time` the engine
    cannot parse to the schema's own checks (which have reported it already)."""
    defects = [] if _plainly_sound(envelope) else list(_value_defects(envelope))
    time = envelope.get("time")
    if type(time) is str:
        try:
            event_time(time)
        except OutOfRange as exc:
            if parsed_time or exc.rule != "invalid_time":
                defects.append(Defect(exc.rule, "time", exc.detail))
    return defects


def _plainly_sound(envelope: Mapping[str, Any]) -> bool:
    """Whether `_value_defects` would find nothing, judged on orjson's writing of the
    envelope in a few native calls (the walk costs ten times as much).

    orjson escapes every control character but U+007F with a backslash; an integer beyond
    I-JSON's range has 16 digits or more; a NaN is written as null; and nesting needs a
    bracket per level. Whatever shows one of these signs is walked.
    """
    try:
        written = orjson.dumps(envelope)
    except TypeError:  # orjson.JSONEncodeError: too deep, or not JSON at all
        return False
    return (
        b"\\" not in written
        and b"\x7f" not in written
        and b"null" not in written
        and written.count(b"{") + written.count(b"[") < MAX_DEPTH
        and not has_long_digit_run(written)
    )


def _value_defects(envelope: Mapping[str, Any]) -> Iterator[Defect]:
    """Control characters in identifiers, integers beyond I-JSON's range, numbers that are
    not finite, nesting beyond MAX_DEPTH: one walk, without recursion (the depth is the
    sender's choice)."""
    stack: list[tuple[Any, tuple[str, ...], bool]] = [(envelope, (), False)]
    too_deep = False
    while stack:
        value, path, naming = stack.pop()
        kind = type(value)
        if len(path) >= MAX_DEPTH and isinstance(value, (Mapping, list)):
            if not too_deep:
                too_deep = True
                yield Defect("nesting_too_deep", ".".join(path[:MAX_DEPTH]),
                             f"objects and arrays nest deeper than {MAX_DEPTH} levels")
        elif kind is str:
            if naming and _CONTROL.search(value):
                yield _control(path, value)
        elif kind is dict or isinstance(value, Mapping):
            for key, inner in value.items():
                names = is_identifier(str(key))
                if names or type(inner) is not str:  # other strings need no look
                    stack.append((inner, (*path, str(key)), names))
        elif kind is list or isinstance(value, list):
            stack.extend((inner, (*path, str(i)), naming) for i, inner in enumerate(value))
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                yield Defect("integer_out_of_range", ".".join(path), _integer(value))
        elif kind is float and not math.isfinite(value):
            yield Defect("number_out_of_range", ".".join(path),
                         f"{value} is not a finite number (JSON has none)")


def _control(path: tuple[str, ...], value: str) -> Defect:
    found = _CONTROL.search(value)
    assert found is not None
    return Defect(
        "control_character",
        ".".join(path),
        f"an identifier holds the control character U+{ord(found.group()):04X} "
        f"at offset {found.start()}",
    )


def _integer(value: int) -> str:
    # Its size in bits: str() of a very long integer is slow, and refused past 4300 digits.
    return (f"an integer of {value.bit_length()} bits is beyond +-(2^53 - 1), the "
            "integers I-JSON carries exactly")
