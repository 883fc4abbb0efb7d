"""Inbound envelopes as value objects, and the identity that makes redelivery harmless."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
import rfc8785

#: Namespace of every deterministic id the ledger derives. Fixed forever: changing it
#: would orphan every stored stream.
LEDGER_NAMESPACE = UUID("6f1b2f8e-3c1a-5d7e-9a40-1c2b3d4e5f60")
_NAMESPACE_BYTES = LEDGER_NAMESPACE.bytes


@lru_cache(maxsize=65536)
def derived_uuid(*parts: str) -> UUID:
    """A stable id from parts, unambiguous whatever characters the parts contain.

    The parts are JSON-encoded as an array, so ("a#b", "c") and ("a", "b#c") never collide.
    """
    # uuid5(LEDGER_NAMESPACE, json_text) by hand: the same bytes hashed, the same id,
    # without uuid5's str round trip (it ran for every ingested event's receipt).
    name = orjson.dumps(parts)
    return UUID(bytes=hashlib.sha1(_NAMESPACE_BYTES + name).digest()[:16], version=5)


_MAX_EXACT_INT = 2**53 - 1


def _orjson_is_canonical(value: Any) -> bool:
    """Whether orjson with sorted keys writes exactly RFC 8785's bytes for `value`.

    It does for strings, booleans, null and integers within IEEE-754's exact range, when
    no key holds a character at or above U+D800 (RFC 8785 sorts keys by UTF-16 code
    units, orjson by code points; the two orders differ only there). Floats are left to
    the reference implementation (number formatting is where serializers disagree).

    The check runs on every ingested envelope: it walks with a stack instead of
    recursing, and compares exact types (`type(x) is str`) first, so the common JSON
    types cost one comparison each and no call. Subclasses still get the answer
    `isinstance` gives.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is dict:
            try:
                keys = "".join(item)  # one scan of all keys; TypeError: a key is not a string
            except TypeError:
                return False
            if keys and max(keys) >= "\ud800":
                return False
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
        elif kind is int:
            if not -_MAX_EXACT_INT <= item <= _MAX_EXACT_INT:
                return False
        elif not _orjson_is_canonical_subclass(item):
            return False
    return True


def _orjson_is_canonical_subclass(value: Any) -> bool:
    """`_orjson_is_canonical` for subclasses of the JSON types (rare: built in code)."""
    if isinstance(value, dict):
        return all(
            isinstance(key, str)
            and not (key and max(key) >= "\ud800")
            and _orjson_is_canonical(inner)
            for key, inner in value.items()
        )
    if isinstance(value, list):
        return all(_orjson_is_canonical(inner) for inner in value)
    if isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return bool(-_MAX_EXACT_INT <= value <= _MAX_EXACT_INT)
    return False


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 canonical JSON: the form that is hashed, so equal content hashes equal.

    The reference implementation (rfc8785) is pure Python and was a third of the ingest
    cost; orjson gives identical bytes for the common case (tests/unit/test_canonical.py
    holds the two to agreement) and the reference handles everything else.
    """
    if _orjson_is_canonical(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return bytes(rfc8785.dumps(value))


def content_digest(value: Any) -> str:
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """(tenant, source, id) names an event once and for all (docs/domain-rules.md,
    Idempotency)."""

    tenant: str
    source: str
    event_id: str
    #: The id of the one-event stream that takes this key (derived, so any writer finds
    #: it); computed once, where the envelope is wrapped, not on the append path.
    receipt_id: UUID = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "receipt_id", derived_uuid.__wrapped__(
            "receipt", self.tenant, self.source, self.event_id))

    def __str__(self) -> str:
        return f"{self.tenant}/{self.source}#{self.event_id}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A validated inbound CloudEvent, kept exactly as received so it can serve as evidence.

    `key` and `digest` are computed once, in `from_validated`: the append path reads
    them several times per event (receipt look-up, duplicate check, chain, receipt).
    """

    tenant: str
    source: str
    event_id: str
    type: str
    subject: str | None
    stream: str
    received: Mapping[str, Any]
    digest: str
    key: IdempotencyKey
    #: `received` as its UTF-8 text, when the ingest path had one (stored beside it).
    received_text: str | None = None

    @property
    def time(self) -> datetime:
        """The business time; parsed on demand (validation already parsed it once, and
        recording never needs it)."""
        return datetime.fromisoformat(self.received["time"])

    @property
    def data(self) -> Mapping[str, Any]:
        data: Mapping[str, Any] = self.received["data"]
        return data

    @classmethod
    def from_validated(
        cls, received: Mapping[str, Any], stream: str, received_text: str | None = None
    ) -> Envelope:
        """Wrap an envelope that already passed validation; the stream key comes from it too.

        `received_text` is the text `received` was read from, if known: kept, not trusted
        (its value is `received`, which is what is hashed)."""
        tenant, source, event_id = received["tenant"], received["source"], received["id"]
        return cls(
            tenant=tenant,
            source=source,
            event_id=event_id,
            type=received["type"],
            subject=received.get("subject"),
            stream=stream,
            received=received,
            digest=content_digest(received),
            key=IdempotencyKey(tenant, source, event_id),
            received_text=received_text,
        )
