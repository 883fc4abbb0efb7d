"""Policy rules are CEL, evaluated by a real CEL implementation, never Python eval."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import cel


@lru_cache(maxsize=1024)
def _program(rule: str) -> Any:
    return cel.compile(rule)


def check(rule: str, payload: Mapping[str, Any]) -> str | None:
    """None when the rule holds; else why not. An evaluation error (a missing field, a
    type mismatch) counts as not holding, and says so (docs/domain-rules.md, Rules)."""
    try:
        result = _program(rule).execute({"payload": dict(payload)})
    except KeyError as exc:
        return f"rule `{rule}` could not be evaluated: no field {exc} in payload"
    except Exception as exc:  # the CEL runtime raises several kinds for bad input
        return f"rule `{rule}` could not be evaluated: {exc}"
    if result is True:
        return None
    if result is False:
        return f"rule `{rule}` does not hold for payload {dict(payload)}"
    return f"rule `{rule}` gave {result!r}, not a boolean"
