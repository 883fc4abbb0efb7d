"""The sandbox's budget is the CPU time a worker spends on an evaluation: a worker that is
stopped or starved (a busy machine) is not charged and gives the rule's true outcome; one
that burns its budget is cut there, as before; one stopped past the wall-time cap ends.
`prefetch` evaluates many pairs in a few requests over the workers at once, and a runaway
in a request costs only its own outcome. `warm` starts the workers without waiting."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from ledger.adapters.rule_sandbox import SandboxConfig, SandboxedEvaluator
from ledger.domain.responsibility.policy_check import evaluate_rule
from ledger.domain.responsibility.rules import RuleLimits, RuleOutcome, Verdict
from tests.hostile.test_policy_rules import QUADRATIC, crash_on_boom

HOLDS = "payload.x <= 3"
RUNAWAY = (QUADRATIC, {"xs": list(range(3000))})


def pausing(rule: str, payload: Mapping[str, Any], limits: RuleLimits) -> RuleOutcome:
    """A worker's evaluation that is stopped (SIGSTOP) or sleeps on some rules: what a
    worker descheduled on a busy machine looks like, without using CPU."""
    if "stop" in rule:
        os.kill(os.getpid(), signal.SIGSTOP)
    if "sleep" in rule:
        time.sleep(float(payload["sleep"]))
    return evaluate_rule(rule, payload, limits)


class Counting(SandboxedEvaluator):
    """Counts the requests and evaluations that reached a worker."""

    def __init__(self, config: SandboxConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self.requests = 0
        self.ran = 0

    def _run_batch(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[RuleOutcome]:
        self.requests += 1
        self.ran += len(items)
        return super()._run_batch(items)


@pytest.fixture
def box() -> Iterator[Counting]:
    sandbox = Counting(SandboxConfig(workers=1, budget_s=0.2, wall_cap_s=10),
                       evaluation=pausing)
    yield sandbox
    sandbox.close()


def evaluators() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "rule-evaluator"]


def continue_all_after(seconds: float) -> threading.Timer:
    def resume() -> None:
        for process in evaluators():
            if process.pid is not None:
                os.kill(process.pid, signal.SIGCONT)

    timer = threading.Timer(seconds, resume)
    timer.start()
    return timer


def ready(box: SandboxedEvaluator) -> None:
    """Every worker started and past its imports (start-up is outside the budget anyway)."""
    box.prefetch([(HOLDS, {"x": n}) for n in range(2 * box.config.workers)])


# --- the budget is CPU time ---------------------------------------------------------------


def test_a_worker_stopped_longer_than_the_budget_gives_the_true_outcome(box: Counting) -> None:
    ready(box)
    (worker,) = evaluators()
    timer = continue_all_after(0.8)
    started = time.monotonic()

    outcome = box.evaluate("payload.stop <= 3", {"stop": 1})

    timer.join()
    assert time.monotonic() - started >= 0.7  # four budgets of wall time, no CPU
    assert outcome == RuleOutcome(Verdict.HOLDS)
    assert box.evaluate(HOLDS, {"x": 9}).verdict is Verdict.DOES_NOT_HOLD
    assert evaluators() == [worker]  # not killed, not replaced


def test_an_evaluation_waiting_longer_than_the_budget_is_not_charged(box: Counting) -> None:
    outcome = box.evaluate("payload.sleep <= 3", {"sleep": 0.6})
    assert outcome == RuleOutcome(Verdict.HOLDS)


def test_a_cpu_burning_evaluation_is_still_cut_at_its_budget(box: Counting) -> None:
    ready(box)
    (before,) = evaluators()
    started = time.monotonic()

    outcome = box.evaluate(*RUNAWAY)

    assert outcome == RuleOutcome(Verdict.OVER_BUDGET, "200 ms of CPU time")
    assert time.monotonic() - started < 5  # the rule alone would run for minutes
    assert before.exitcode == -signal.SIGKILL  # killed, and a successor started
    assert box.evaluate(HOLDS, {"x": 1}).verdict is Verdict.HOLDS


def test_a_worker_stopped_past_the_wall_cap_is_ended_and_replaced() -> None:
    box = SandboxedEvaluator(SandboxConfig(workers=1, budget_s=0.2, wall_cap_s=1.0),
                             evaluation=pausing)
    try:
        ready(box)
        started = time.monotonic()

        outcome = box.evaluate("payload.stop <= 3", {"stop": 1})

        assert outcome == RuleOutcome(Verdict.OVER_BUDGET, "wall-time cap of 1000 ms")
        assert 0.9 <= time.monotonic() - started < 5
        assert box.evaluate(HOLDS, {"x": 1}).verdict is Verdict.HOLDS
    finally:
        box.close()


# --- prefetch -----------------------------------------------------------------------------


def test_prefetch_fills_the_cache_in_one_request_per_worker(box: Counting) -> None:
    pairs: list[tuple[str, Mapping[str, Any]]] = [(HOLDS, {"x": n % 50}) for n in range(200)]
    pairs += [("payload.missing > 1", {"x": 1}), ("(" * 40 + "1" + ")" * 40 + " == 1", {})]

    box.prefetch(pairs)

    assert (box.requests, box.ran) == (1, 51)  # duplicates once, too complex never
    for rule, payload in pairs:
        assert box.evaluate(rule, payload) == evaluate_rule(rule, payload, RuleLimits())
    assert box.ran == 51  # every evaluate was answered from the cache
    box.prefetch(pairs)
    assert box.requests == 1


def test_a_runaway_rule_in_a_prefetch_costs_only_its_own_outcome(box: Counting) -> None:
    before = [(HOLDS, {"x": n}) for n in range(10)]
    after = [(HOLDS, {"x": n}) for n in range(10, 20)]

    box.prefetch([*before, RUNAWAY, *after])

    assert box.requests == 1
    assert box.evaluate(*RUNAWAY) == RuleOutcome(Verdict.OVER_BUDGET, "200 ms of CPU time")
    for rule, payload in [*before, *after]:
        assert box.evaluate(rule, payload) == evaluate_rule(rule, payload, RuleLimits())
    assert box.ran == 21


def test_a_segfault_in_a_prefetch_costs_only_its_own_outcome() -> None:
    box = Counting(SandboxConfig(workers=1), evaluation=crash_on_boom)
    try:
        pairs = [(HOLDS, {"x": n}) for n in range(5)]
        boom = ("payload.boom == 1", {"boom": 1})

        box.prefetch([*pairs[:2], boom, *pairs[2:]])

        assert box.evaluate(*boom) == RuleOutcome(Verdict.CRASHED, "worker ended by SIGSEGV")
        assert [box.evaluate(*pair).verdict for pair in pairs] == [Verdict.HOLDS] * 4 + [
            Verdict.DOES_NOT_HOLD]
        assert (box.requests, box.ran) == (1, 6)
    finally:
        box.close()


def test_prefetch_spreads_the_pairs_over_the_workers_at_once() -> None:
    box = Counting(SandboxConfig(workers=2), evaluation=pausing)
    try:
        ready(box)
        requests = box.requests
        pairs = [("payload.sleep < 1", {"sleep": 0.1, "n": n}) for n in range(10)]
        started = time.monotonic()

        box.prefetch(pairs)

        took = time.monotonic() - started
        assert box.requests - requests == 2  # one per worker
        assert took < 0.9, f"{took:.2f} s: 1 s of sleeping was not shared by 2 workers"
        assert all(box.evaluate(*pair).verdict is Verdict.HOLDS for pair in pairs)
    finally:
        box.close()


# --- warm start ---------------------------------------------------------------------------


def test_warm_starts_every_worker_without_waiting_for_it() -> None:
    box = Counting(SandboxConfig(workers=2))
    try:
        running = {p.pid for p in evaluators()}
        started = time.monotonic()

        box.warm()

        assert time.monotonic() - started < 0.5  # a worker's start-up takes ~0.5-1 s
        started_now = {p.pid for p in evaluators()} - running
        assert len(started_now) == 2
        assert box.evaluate(HOLDS, {"x": 1}).verdict is Verdict.HOLDS
        assert {p.pid for p in evaluators()} - running == started_now  # the same workers
    finally:
        box.close()
