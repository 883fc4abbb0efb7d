"""What JSON Schema cannot say: rules that compile, step graphs, durations, calendars."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cel

from ledger.adapters.validation.problems import Problem, problem
from ledger.domain.representable import OutOfRange, bounded_duration
from ledger.domain.responsibility.rules import RuleLimits, rule_complexity

# --- what JSON Schema cannot say -----------------------------------------------------------


#: Types checked beyond their schema by `semantic_problems`.
SEMANTIC_TYPES = frozenset(
    {"ledger.policy.defined", "ledger.process.defined", "ledger.calendar.defined"}
)


def semantic_problems(
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
        yield problem(
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
            yield problem(event_id, "data.timezone", "calendar", f"unknown time zone {zone!r}")
    for name in ("holidays", "workdays"):
        days = data.get(name)
        for i, day in enumerate(days if isinstance(days, list) else ()):
            if isinstance(day, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day):
                try:
                    date.fromisoformat(day)
                except ValueError:
                    yield problem(event_id, f"data.{name}.{i}", "calendar", f"no such date {day}")
    hours = data.get("hours")
    if isinstance(hours, Mapping):
        start, end = hours.get("start"), hours.get("end")
        if isinstance(start, str) and isinstance(end, str) and _CLOCK.fullmatch(start) and (
            _CLOCK.fullmatch(end) and start >= end
        ):
            yield problem(event_id, "data.hours", "calendar", "hours end before they start")


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
        yield problem(event_id, f"{at}.{name}", exc.rule, exc.detail)


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
        yield problem(event_id, "data.rule", "rule_too_complex", f"too complex: {too_complex}")
        return
    try:
        cel.compile(rule)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # ValueError and kin, or a pyo3 PanicException
        yield problem(event_id, "data.rule", "cel_compile", f"does not compile as CEL: {exc}")


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
            yield problem(
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
                yield problem(
                    event_id,
                    f"data.steps.{i}.after.{j}",
                    "unknown_step",
                    f"{before!r} is not a step of this process",
                )
            else:
                edges[name].append((before, j))
    for name, j in _back_edges(index, edges):
        yield problem(
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
