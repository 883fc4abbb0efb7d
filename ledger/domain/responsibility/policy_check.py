"""Policy rules are CEL, evaluated by a real CEL implementation, never Python eval.

`evaluate_rule` is the one evaluation: the in-process evaluator here (for pure tests and
trusted rules) and the sandbox's worker processes (ledger/adapters/rule_sandbox.py) both
run it, so a rule gives the same verdict wherever it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import cel

from ledger.domain.responsibility.rules import (
    DEFAULT_LIMITS,
    PrefetchingEvaluator,
    RuleEvaluator,
    RuleLimits,
    RuleOutcome,
    Verdict,
    reason,
    rule_complexity,
)

#: Exceptions that ask the process to stop: never turned into a rule's outcome.
FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit)


@lru_cache(maxsize=1024)
def _program(rule: str) -> Any:
    return cel.compile(rule)


def evaluate_rule(
    rule: str, payload: Mapping[str, Any], limits: RuleLimits = DEFAULT_LIMITS
) -> RuleOutcome:
    """The outcome of `rule` over `payload`. A rule beyond `limits` (one recorded before
    they were checked at definition) never reaches the CEL parser. The library's panics
    are BaseExceptions: they are the rule's outcome too, not the caller's problem."""
    too_complex = rule_complexity(rule, limits)
    if too_complex is not None:
        return RuleOutcome(Verdict.ERROR, f"rule too complex: {too_complex}")
    try:
        result = _program(rule).execute({"payload": dict(payload)})
    except KeyError as exc:
        return RuleOutcome(Verdict.MISSING_FIELD, str(exc))
    except Exception as exc:  # the CEL runtime raises several kinds for bad input
        return RuleOutcome(Verdict.ERROR, str(exc))
    except BaseException as exc:
        if isinstance(exc, FATAL):
            raise
        return RuleOutcome(Verdict.CRASHED, f"{type(exc).__name__}: {exc}")
    if result is True:
        return RuleOutcome(Verdict.HOLDS)
    if result is False:
        return RuleOutcome(Verdict.DOES_NOT_HOLD)
    return RuleOutcome(Verdict.NOT_BOOLEAN, repr(result))


class InProcessEvaluator:
    """Evaluates in the calling process: no isolation, so for tests and trusted rules."""

    def __init__(self, limits: RuleLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def evaluate(self, rule: str, payload: Mapping[str, Any]) -> RuleOutcome:
        return evaluate_rule(rule, payload, self.limits)

    def prefetch(self, pairs: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Nothing to gain: an evaluation here costs no round trip."""


IN_PROCESS: RuleEvaluator = InProcessEvaluator()


def check(
    rule: str, payload: Mapping[str, Any], evaluator: RuleEvaluator = IN_PROCESS
) -> str | None:
    """None when the rule holds; else why not. An evaluation error (a missing field, a
    type mismatch, a budget exceeded) counts as not holding, and says so
    (docs/domain-rules.md, Rules)."""
    return reason(rule, payload, evaluator.evaluate(rule, payload))


def prefetch(evaluator: RuleEvaluator, pairs: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """Let `evaluator` evaluate `pairs` ahead of the `check`s that follow, if it can (an
    evaluator without `prefetch` evaluates each when asked, as before)."""
    if isinstance(evaluator, PrefetchingEvaluator):
        evaluator.prefetch(pairs)
