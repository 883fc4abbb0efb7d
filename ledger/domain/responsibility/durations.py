"""ISO 8601 durations as the rules write them, parsed once each.

A tenant's processes and policies name a handful of durations (PT4H, P2D, P1M) that every
assessment of every case reads again: parsing them was an eighth of assessing a case.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import isodate


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> timedelta | isodate.Duration:
    """`isodate.parse_duration`, remembered (both results are immutable values; a text
    that does not parse raises every time, as it does uncached)."""
    parsed: timedelta | isodate.Duration = isodate.parse_duration(text)
    return parsed
