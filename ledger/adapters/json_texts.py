"""The exact text of each event in a JSON body, so it can be kept as received.

A body is one event or an array of them. The array's elements are cut out of the text
where the standard parser's scanner ends each one, so the text kept for an event is the
very characters that were sent for it (whitespace inside, key order, escapes), without
the separators between events.
"""

from __future__ import annotations

import json
import re
from typing import Final

from ledger.adapters import strict_json
from ledger.domain.envelope import content_digest

_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")


def received_texts(raw: bytes, parsed: object) -> list[str | None]:
    """The text of each event of a body that was read as `parsed` (one event, or a list).

    For an array whose elements cannot be cut apart (nested deeper than the standard
    parser goes), each event's text is None: its value is kept all the same.
    """
    text = raw.decode()  # it was read as JSON, so it is UTF-8
    if not isinstance(parsed, list):
        return [text]
    elements = element_texts(text)
    if elements is None or len(elements) != len(parsed):
        return [None] * len(parsed)
    return list(elements)


def element_texts(text: str) -> list[str] | None:
    """The text of each element of the JSON array `text`, or None when it is not one."""
    try:
        return _elements(text)
    except (ValueError, RecursionError, IndexError):
        return None


def _elements(text: str) -> list[str] | None:
    at = _skip(text, 0)
    if text[at] != "[":
        return None
    at = _skip(text, at + 1)
    elements: list[str] = []
    if text[at] == "]":
        return elements
    while True:
        _, end = _DECODER.raw_decode(text, at)
        elements.append(text[at:end])
        at = _skip(text, end)
        if text[at] == "]":
            return elements if not text[_skip(text, at + 1):] else None
        if text[at] != ",":
            return None
        at = _skip(text, at + 1)


def _skip(text: str, at: int) -> int:
    """Where the JSON whitespace starting at `at` ends."""
    match = _WHITESPACE.match(text, at)
    assert match is not None  # zero or more: always matches
    return match.end()


def reads_as(text: object, digest: str) -> bool:
    """Whether `text` (an event's text as received) reads, strictly as on arrival, as the
    envelope whose canonical digest is `digest`: what it takes to be that envelope's text."""
    if not isinstance(text, str):
        return False
    try:
        value = strict_json.loads(text.encode())
    except strict_json.InvalidJson:
        return False
    return type(value) is dict and content_digest(value) == digest
