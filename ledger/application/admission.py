"""Limits every inbound event meets on every ingest path (HTTP, file, Kafka), as `Problem`s.

Two checks the contract's schemas cannot make: no string anywhere in an event is longer
than a configured length (`string_too_long`, checked before the schemas so that their
patterns never run over megabytes), and an event's time is not further ahead of the
service's clock than a configured tolerance (`time_in_future`, checked after them, on a
time they have found valid). The clock is the ledger's injected one, read once per batch:
an event from a source whose clock runs years ahead would otherwise move the tenant's
watermark and make people liable before their deadlines have passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from ledger.adapters.validation import Problem, parse_time

STRING_TOO_LONG: Final = "string_too_long"
TIME_IN_FUTURE: Final = "time_in_future"

#: The defaults of LEDGER_MAX_STRING_LENGTH and LEDGER_FUTURE_TIME_TOLERANCE (ledger.config).
DEFAULT_MAX_STRING_LENGTH: Final = 65_536
DEFAULT_FUTURE_TOLERANCE: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Admission:
    """The limits of one ledger. `future_tolerance` None: event times are not compared with
    the clock (a ledger replaying history on a test clock); the composition root always
    sets it from the settings."""

    max_string_length: int = DEFAULT_MAX_STRING_LENGTH
    future_tolerance: timedelta | None = None

    def before_validation(self, item: object) -> list[Problem]:
        """The item's strings longer than the limit (one problem per string, at most a few)."""
        return _long_strings(item, self.max_string_length)

    def after_validation(self, item: Mapping[str, object], now: datetime) -> list[Problem]:
        """A valid envelope's time too far ahead of `now`."""
        if self.future_tolerance is None:
            return []
        raw = item.get("time")
        if not isinstance(raw, str):
            return []
        latest = now + self.future_tolerance
        if parse_time(raw) <= latest:
            return []
        event_id = _event_id(item)
        return [Problem(event_id, "time", TIME_IN_FUTURE,
                        f"{_who(event_id)}: time: {raw} is more than "
                        f"{_duration(self.future_tolerance)} ahead of the ledger's clock "
                        f"({now.isoformat()}); an event cannot have happened yet "
                        f"[rule {TIME_IN_FUTURE}]")]


#: Reported per event: enough to find each offender without a message of megabytes.
_MOST_REPORTED: Final = 3


def _long_strings(item: object, limit: int) -> list[Problem]:
    """Walks the item iteratively (a deeply nested event must not exhaust the stack)."""
    found: list[tuple[str, int]] = []
    stack: list[tuple[object, str]] = [(item, "")]
    while stack and len(found) < _MOST_REPORTED:
        value, path = stack.pop()
        if isinstance(value, str):
            if len(value) > limit:
                found.append((path, len(value)))
        elif isinstance(value, Mapping):
            for key, child in value.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and len(key) > limit:
                    found.append((path, len(key)))
                    continue
                stack.append((child, where))
        elif isinstance(value, list):
            stack.extend((child, f"{path}.{i}" if path else str(i))
                         for i, child in enumerate(value))
    if not found:
        return []
    event_id = _event_id(item) if isinstance(item, Mapping) else None
    if event_id is not None and len(event_id) > limit:
        event_id = None  # never echo the oversized id itself into replies and DLQ headers
    return [Problem(event_id, path[:200], STRING_TOO_LONG,
                    f"{_who(event_id)}: {path[:200] or 'envelope'}: a string of {length} "
                    f"characters; at most {limit} are accepted [rule {STRING_TOO_LONG}]")
            for path, length in found]


def _event_id(item: Mapping[str, object]) -> str | None:
    raw = item.get("id")
    return raw if isinstance(raw, str) else None


def _who(event_id: str | None) -> str:
    return f"event {event_id!r}" if event_id is not None else "event (no readable id)"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60:
        return f"{seconds} s"
    return f"{seconds // 60} min"
