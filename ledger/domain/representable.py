"""What the responsibility engine can compute with, judged by the engine's own parsers.

Ingest validation calls these, so that an accepted event is one the engine can derive
from: the time is parsed by `datetime.fromisoformat` (what `Fact.from_envelope` and
`Envelope.time` use) and a duration by `org.duration` (what deadlines are computed with).

The documented bounds:

- a duration (`review_within`, a step's `due`) is at most ten years (P10Y; P3653D), so
  an escalation chain or a step deadline never runs past what a `datetime` holds;
- an event time lies between 0001-01-02 and 9989-12-31T23:59:59.999999 in its own
  offset: ten years (the longest duration) short of the last date Python represents, and a
  day clear of the first, so that every time can also be moved to UTC;
- an integer lies within I-JSON's exact range, +-(2^53 - 1) (RFC 7493 section 2.2): the
  canonical form that is hashed (RFC 8785) has no other integers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import isodate

from ledger.domain.responsibility.org import duration
from ledger.errors import LedgerError

__all__ = [
    "EARLIEST_TIME",
    "LATEST_TIME",
    "MAX_DURATION_YEARS",
    "MAX_SAFE_INTEGER",
    "OutOfRange",
    "bounded_duration",
    "event_time",
]

MAX_DURATION_YEARS: Final = 10
MAX_SAFE_INTEGER: Final = 2**53 - 1
# Compared with a time's wall clock in its own offset (the offset put aside, as UTC).
EARLIEST_TIME: Final = datetime(1, 1, 2, tzinfo=UTC)
LATEST_TIME: Final = datetime(9999 - MAX_DURATION_YEARS, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# Calendar durations (P1M, P1Y) have no fixed length: they are measured from one
# reference date, so the bound reads the same for every event.
_REFERENCE: Final = datetime(2000, 1, 1, tzinfo=UTC)
_REFERENCE_END: Final = _REFERENCE.replace(year=_REFERENCE.year + MAX_DURATION_YEARS)
# Longer texts are out of range whatever they say (and never reach isodate's Decimal).
_MAX_DURATION_TEXT: Final = 48


class OutOfRange(LedgerError, ValueError):
    """A value the engine cannot compute with; `rule` names the bound (as a problem rule)."""

    code = "out-of-range"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


def event_time(text: str) -> datetime:
    """The engine's parse of an envelope `time`, within the documented bounds.

    Raises OutOfRange: rule `invalid_time` when the engine cannot parse it at all (second
    60, hour 24, offset beyond +-24h), `time_unrepresentable` when it parses but lies
    outside the bounds.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise OutOfRange("invalid_time", f"{text!r} is not a real date and time ({exc})") from None
    if moment.tzinfo is None:
        raise OutOfRange("invalid_time", f"{text!r} has no offset")
    if 1 < moment.year < LATEST_TIME.year:  # the common case, decided in one comparison
        return moment
    if not EARLIEST_TIME <= moment.replace(tzinfo=UTC) <= LATEST_TIME:
        raise OutOfRange(
            "time_unrepresentable",
            f"{text!r} is outside {EARLIEST_TIME.date()}..{LATEST_TIME.date()}, the times "
            f"deadlines up to {MAX_DURATION_YEARS} years later can be computed from",
        )
    return moment


def bounded_duration(text: str) -> timedelta | isodate.Duration:
    """The engine's parse of an ISO 8601 duration, at most MAX_DURATION_YEARS long.

    Raises OutOfRange (rule `duration_out_of_range`) beyond the bound or when the engine
    cannot parse it.
    """
    if len(text) > _MAX_DURATION_TEXT:
        raise OutOfRange("duration_out_of_range", f"a duration of {len(text)} characters")
    try:
        parsed = duration(text)
        end = _REFERENCE + parsed
    except (ValueError, OverflowError, ArithmeticError, isodate.ISO8601Error) as exc:
        raise OutOfRange("duration_out_of_range", f"{text!r} cannot be computed with ({exc})"
                         ) from None
    if not _REFERENCE <= end <= _REFERENCE_END:
        raise OutOfRange(
            "duration_out_of_range",
            f"{text!r} is longer than {MAX_DURATION_YEARS} years (P{MAX_DURATION_YEARS}Y)",
        )
    return parsed
