"""Customer policy rules: the limits a rule's text must keep before any CEL parser sees it,
and the port through which a rule is evaluated against a payload.

A rule is customer input run by a native library: a long or deeply nested text can crash
its parser, and nested comprehensions can run for minutes. So a rule is measured here, by
a small scanner that understands only brackets, string literals and tokens, and refused
at definition when it is beyond a limit; evaluation goes through `RuleEvaluator`, which a
composition root binds to something that contains a crash or a runaway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

#: The CEL macros that iterate over a list or map (their body runs once per element).
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True, slots=True)
class RuleLimits:
    """How big a rule may be. The defaults leave room for any business rule seen so far
    and stay far below what makes the CEL library crash (a few thousand levels)."""

    max_length: int = 4096  # characters
    max_depth: int = 32  # brackets, parentheses and braces open at once
    max_nodes: int = 512  # identifiers, literals and operators
    max_path_depth: int = 16  # selections in one field path: payload.a.b.c is 3
    max_comprehension_depth: int = 2  # all/exists/exists_one/map/filter inside each other
    max_literal_items: int = 256  # items of one list or map literal
    max_cost: int = 1_000_000  # nodes weighted by how often enclosing comprehensions run them
    #: Iterations assumed for a comprehension over a payload value (its size is unknown
    #: at definition; the evaluation budget bounds what it really costs).
    assumed_iterations: int = 100


DEFAULT_LIMITS = RuleLimits()


class Verdict(StrEnum):
    HOLDS = "holds"
    DOES_NOT_HOLD = "does_not_hold"
    NOT_BOOLEAN = "not_boolean"
    MISSING_FIELD = "missing_field"
    ERROR = "error"
    OVER_BUDGET = "over_budget"
    CRASHED = "crashed"


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What evaluating a rule gave; `detail` is the missing field, the error, the
    non-boolean value or how the evaluator ended, as text (it crosses process bounds)."""

    verdict: Verdict
    detail: str = ""


class RuleEvaluator(Protocol):
    """Evaluates a CEL rule over `payload`, bound to the name `payload`.

    An evaluator may also offer `prefetch(pairs)` (see `PrefetchingEvaluator`): evaluate
    many (rule, payload) pairs ahead, at once, so that the `evaluate` calls that follow are
    answered from its cache. It is optional: call it through `policy_check.prefetch`."""

    def evaluate(self, rule: str, payload: Mapping[str, Any]) -> RuleOutcome: ...


@runtime_checkable
class PrefetchingEvaluator(RuleEvaluator, Protocol):
    """A `RuleEvaluator` that can evaluate many pairs ahead of the `evaluate` calls."""

    def prefetch(self, pairs: Iterable[tuple[str, Mapping[str, Any]]]) -> None: ...


def reason(rule: str, payload: Mapping[str, Any], outcome: RuleOutcome) -> str | None:
    """None when the rule holds; else why not, in the words violations carry."""
    match outcome.verdict:
        case Verdict.HOLDS:
            return None
        case Verdict.DOES_NOT_HOLD:
            return f"rule `{rule}` does not hold for payload {dict(payload)}"
        case Verdict.NOT_BOOLEAN:
            return f"rule `{rule}` gave {outcome.detail}, not a boolean"
        case Verdict.MISSING_FIELD:
            return f"rule `{rule}` could not be evaluated: no field {outcome.detail} in payload"
        case Verdict.OVER_BUDGET:
            return f"rule `{rule}` could not be evaluated within budget ({outcome.detail})"
        case Verdict.CRASHED:
            return f"rule `{rule}` could not be evaluated: evaluator crashed ({outcome.detail})"
    return f"rule `{rule}` could not be evaluated: {outcome.detail}"


# --- measuring a rule's text -------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    closer: str
    weight: int  # how often a node in here runs, per evaluation
    literal: bool  # a list or map literal (not an index or an argument list)
    comprehension: bool
    commas: int = 0
    empty: bool = True


@dataclass(slots=True)
class _Scan:
    limits: RuleLimits
    stack: list[_Frame] = field(default_factory=list)
    nodes: int = 0
    cost: int = 0
    path: int = 0
    #: The last three tokens, as (kind, text); kinds: name, literal, close, op.
    recent: list[tuple[str, str]] = field(default_factory=list)
    #: Items of the literal the last `]` closed (the range of a comprehension, if one follows).
    closed_items: int | None = None

    def weight(self) -> int:
        return self.stack[-1].weight if self.stack else 1

    def comprehensions(self) -> int:
        return sum(1 for frame in self.stack if frame.comprehension)

    def push(self, token: tuple[str, str]) -> None:
        self.recent = [*self.recent[-2:], token]


_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_PAIRS.values())
_TWO_CHAR_OPS = frozenset({"==", "!=", "<=", ">=", "&&", "||"})
_STRING_PREFIXES = frozenset({"r", "R", "b", "B", "rb", "rB", "Rb", "RB", "br", "bR", "Br", "BR"})


@lru_cache(maxsize=1024)  # a rule is checked at every evaluation, in and out of workers
def rule_complexity(rule: str, limits: RuleLimits = DEFAULT_LIMITS) -> str | None:
    """None when `rule` is within `limits`; else the first limit it passes, named with the
    rule's measure, e.g. "nesting depth 40 exceeds 32". Linear in the text, no recursion."""
    if len(rule) > limits.max_length:
        return f"length {len(rule)} characters exceeds {limits.max_length}"
    scan = _Scan(limits)
    i, end = 0, len(rule)
    while i < end:
        char, problem = rule[i], None
        if char.isspace():
            i += 1
        elif rule.startswith("//", i):
            newline = rule.find("\n", i)
            i = end if newline < 0 else newline + 1
        elif char in "'\"":
            i = _skip_string(rule, i, raw=False)
            problem = _operand(scan, ("literal", "string"))
        elif char.isalpha() or char == "_":
            start = i
            while i < end and (rule[i].isalnum() or rule[i] == "_"):
                i += 1
            word = rule[start:i]
            if word in _STRING_PREFIXES and i < end and rule[i] in "'\"":
                i = _skip_string(rule, i, raw="r" in word.lower())
                problem = _operand(scan, ("literal", "string"))
            elif word == "in":  # the one operator spelled as a word
                problem = _operator(scan, word)
            else:
                problem = _name(scan, word)
        elif char.isdigit() or (char == "." and rule[i + 1 : i + 2].isdigit()):
            i = _skip_number(rule, i)
            problem = _operand(scan, ("literal", "number"))
        elif char in _PAIRS:
            i += 1
            problem = _open(scan, char)
        elif char in _CLOSERS:
            i += 1
            problem = _close(scan, char)
        else:
            op = rule[i : i + 2] if rule[i : i + 2] in _TWO_CHAR_OPS else char
            i += len(op)
            problem = _operator(scan, op)
        if problem is not None:
            return problem
    return None


def _skip_string(rule: str, i: int, *, raw: bool) -> int:
    """Index past the string literal starting at `i` (its end, if it is unterminated:
    the CEL parser then reports it)."""
    quote = rule[i] * 3 if rule.startswith(rule[i] * 3, i) else rule[i]
    j = i + len(quote)
    while j < len(rule):
        if rule.startswith(quote, j):
            return j + len(quote)
        j += 2 if rule[j] == "\\" and not raw else 1
    return len(rule)


def _skip_number(rule: str, i: int) -> int:
    j = i
    while j < len(rule) and (rule[j].isalnum() or rule[j] == "_" or rule[j] == "."):
        if rule[j] == "." and not rule[j + 1 : j + 2].isdigit():
            break  # 1.size() is a call on 1, not part of the number
        if rule[j] in "eE" and rule[j + 1 : j + 2] in ("+", "-"):
            j += 1
        j += 1
    return j


def _count(scan: _Scan) -> str | None:
    scan.nodes += 1
    scan.cost += scan.weight()
    if scan.stack:
        scan.stack[-1].empty = False
    limits = scan.limits
    if scan.nodes > limits.max_nodes:
        return f"node count {scan.nodes} exceeds {limits.max_nodes}"
    if scan.cost > limits.max_cost:
        return f"estimated cost {scan.cost} exceeds {limits.max_cost}"
    return None


def _operand(scan: _Scan, token: tuple[str, str]) -> str | None:
    scan.path = 1
    scan.closed_items = None
    scan.push(token)
    return _count(scan)


def _name(scan: _Scan, word: str) -> str | None:
    if scan.recent and scan.recent[-1] == ("op", "."):
        scan.path += 1  # a selection continues the path (and a comprehension its range)
        if scan.path - 1 > scan.limits.max_path_depth:
            return f"field path depth {scan.path - 1} exceeds {scan.limits.max_path_depth}"
    else:
        scan.path, scan.closed_items = 1, None
    scan.push(("name", word))
    return _count(scan)


def _open(scan: _Scan, char: str) -> str | None:
    limits = scan.limits
    recent = scan.recent
    after_operand = bool(recent) and recent[-1][0] in ("name", "literal", "close")
    comprehension = (
        char == "("
        and len(recent) >= 2
        and recent[-1][0] == "name"
        and recent[-1][1] in COMPREHENSIONS
        and recent[-2] == ("op", ".")
    )
    weight = scan.weight()
    if comprehension:
        iterations = scan.closed_items
        weight *= max(1, limits.assumed_iterations if iterations is None else iterations)
    if scan.stack:
        scan.stack[-1].empty = False
    scan.stack.append(
        _Frame(_PAIRS[char], weight, literal=char != "(" and not after_operand,
               comprehension=comprehension)
    )
    scan.path, scan.closed_items = 0, None
    scan.push(("op", char))
    if len(scan.stack) > limits.max_depth:
        return f"nesting depth {len(scan.stack)} exceeds {limits.max_depth}"
    if comprehension and (depth := scan.comprehensions()) > limits.max_comprehension_depth:
        return f"comprehension nesting depth {depth} exceeds {limits.max_comprehension_depth}"
    return None


def _close(scan: _Scan, char: str) -> str | None:
    frame = scan.stack.pop() if scan.stack and scan.stack[-1].closer == char else None
    scan.path = 1
    scan.closed_items = None
    if frame is not None and frame.literal:
        items = 0 if frame.empty else frame.commas + 1
        if items > scan.limits.max_literal_items:
            return f"literal of {items} items exceeds {scan.limits.max_literal_items}"
        if char == "]":
            scan.closed_items = items
    scan.push(("close", char))
    return None  # an unbalanced closer is the CEL parser's to report


def _operator(scan: _Scan, op: str) -> str | None:
    if op == ",":
        if scan.stack:
            scan.stack[-1].commas += 1
        scan.path, scan.closed_items = 0, None
        scan.push(("op", op))
        return None
    if op != ".":
        scan.path, scan.closed_items = 0, None
    scan.push(("op", op))
    return _count(scan)
