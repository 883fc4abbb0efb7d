"""Reading JSON as I-JSON (RFC 7493): duplicate keys and inexact numbers are found, not lost.

orjson keeps the last of two equal keys without a word, reads an integer beyond 64 bits
as a float and a number with more digits than a double holds as the nearest double, so
`"tenant":"beta","tenant":"acme"` or a changed 30th digit would go unnoticed (and a
changed digit would make a different event read as a duplicate). `loads` reads with
orjson and, only when the bytes could hide one of these, reads them again with the
standard parser and hooks that see every key and every number's text. An event (the body,
or each element of a top-level array) with such a defect comes back as a `Refused`: the
event as read, with its defects, which the validator turns into problems (rules
`duplicate_key`, `integer_out_of_range`, `number_inexact`) for that event alone.

So what is accepted is exactly what was received, as a JSON value: every key, every
digit. Its canonical form (RFC 8785, what is stored and hashed) writes that same value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import orjson

from ledger.domain.representable import MAX_SAFE_INTEGER
from ledger.errors import LedgerError

__all__ = ["Defect", "InvalidJson", "Refused", "loads"]

# Any integer beyond 2^53 - 1 has at least 16 digits, and a decimal of 15 significant
# digits or fewer is always what its nearest double writes back (DBL_DIG), so bytes
# without a run of 16 digits and points hold no inexact number. Found by writing every
# digit and point as 0 and looking for 16 zeros: ten times a regex's speed.
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789.", b"0000000000")
_SIXTEEN_DIGITS: Final = b"0" * 16
# A colon written as an escape (\u003a) is the one way a string's colons can differ
# between the bytes and what was read (see `_plainly_strict`).
_ESCAPED_COLON: Final = b"\\u003"


class InvalidJson(LedgerError, ValueError):
    """The bytes are not JSON at all."""

    code = "invalid-json"


@dataclass(frozen=True, slots=True)
class Defect:
    """Something I-JSON forbids, at a dotted `field` of the event."""

    rule: str
    field: str
    detail: str


class Refused(dict[str, Any]):
    """An event object read with defects: its content (the last of equal keys) and why."""

    __slots__ = ("defects",)

    def __init__(self, content: dict[str, Any], defects: tuple[Defect, ...]) -> None:
        super().__init__(content)
        self.defects = defects


class _DuplicateKeys(dict[str, Any]):
    __slots__ = ("duplicates",)

    def __init__(self, content: dict[str, Any], duplicates: list[str]) -> None:
        super().__init__(content)
        self.duplicates = duplicates


class _BigInteger(str):
    """An integer literal beyond I-JSON's range, kept as its text (never as a float)."""

    __slots__ = ()


class _InexactNumber(str):
    """A number literal no double holds exactly as written, kept as its text."""

    __slots__ = ()


def has_long_digit_run(written: bytes) -> bool:
    """Whether `written` holds 16 digits and points in a row (so perhaps an integer beyond
    I-JSON's range, or a number more precise than a double)."""
    return _SIXTEEN_DIGITS in written.translate(_DIGITS_AS_ZERO)


def loads(raw: bytes) -> object:
    """The JSON value of `raw`; objects with defects are `Refused` (see the module doc).

    Raises InvalidJson for bytes that are not JSON.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(str(exc)) from None
    if _plainly_strict(raw, value):
        return value
    return _strict(raw)


def _plainly_strict(raw: bytes, value: object) -> bool:
    """Whether orjson's reading can hide nothing, decided in a few native calls.

    Numbers: none has 16 digits (and points) in a row. Keys: colons outside strings are exactly the
    key separators, and orjson writes no other colons than those and the strings' own; the
    strings read are a subset of those written, with the same colons when none is escaped.
    So the bytes hold as many colons as orjson's writing of the value iff no key was
    dropped (and no string dropped with it).
    """
    if _ESCAPED_COLON in raw or has_long_digit_run(raw):
        return False
    try:
        written = orjson.dumps(value)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: read it slowly
        return False
    return raw.count(b":") == written.count(b":")


def _strict(raw: bytes) -> object:
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_number,
            parse_constant=_constant,
        )
    except (ValueError, RecursionError) as exc:
        # orjson read these bytes; the standard parser is stricter only in how deep it
        # nests (the interpreter's recursion limit), so this is a nesting problem.
        raise InvalidJson(f"cannot be read strictly: {exc}") from None
    if isinstance(value, list):
        return [_judged(item) for item in value]
    return _judged(value)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    content = dict(pairs)
    if len(content) == len(pairs):
        return content
    seen: set[str] = set()
    duplicates = []
    for key, _ in pairs:
        if key in seen:
            duplicates.append(key)
        seen.add(key)
    return _DuplicateKeys(content, duplicates)


def _integer(text: str) -> int | str:
    # Checked on the text first: int() of thousands of digits is slow, and refused.
    if len(text) <= 15:
        return int(text)
    if len(text) <= 17 and abs(number := int(text)) <= MAX_SAFE_INTEGER:
        return number
    return _BigInteger(text)


def _number(text: str) -> float | str:
    value = float(text)
    # Decimal equality is numeric: 1.50 and 1.5 are the same number, 0.1 is what the
    # double 0.1 writes back; 0.30000000000000000001 is not.
    if math.isfinite(value) and Decimal(text) == Decimal(repr(value)):
        return value
    return _InexactNumber(text)


def _constant(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


def _judged(item: object) -> object:
    if not isinstance(item, dict):
        return item
    defects = tuple(_defects(item))
    if not defects:
        return item
    return Refused(item, defects)


def _defects(item: dict[str, Any]) -> Iterator[Defect]:
    stack: list[tuple[object, tuple[str, ...]]] = [(item, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _DuplicateKeys):
            for key in dict.fromkeys(value.duplicates):
                yield Defect("duplicate_key", _dotted((*path, key)),
                             f"the key {key!r} appears more than once in one object")
        if isinstance(value, dict):
            stack.extend((inner, (*path, str(key))) for key, inner in value.items())
        elif isinstance(value, list):
            stack.extend((inner, (*path, str(i))) for i, inner in enumerate(value))
        elif isinstance(value, _BigInteger):
            shown = value if len(value) <= 40 else f"{value[:37]}..."
            yield Defect("integer_out_of_range", _dotted(path),
                         f"{shown} is beyond +-(2^53 - 1), the integers I-JSON carries exactly")
        elif isinstance(value, _InexactNumber):
            shown = value if len(value) <= 40 else f"{value[:37]}..."
            yield Defect("number_inexact", _dotted(path),
                         f"{shown} has more precision than a double carries (RFC 7493 2.2): "
                         "send fewer digits, or the number as a string")


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)
