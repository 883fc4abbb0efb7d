"""Policy rules evaluated in worker processes, under a wall-time budget and a memory cap.

The CEL library is native code run on customer input: a rule can crash it (a segfault
takes the whole process) or run for minutes holding the GIL. Here each evaluation runs in
one of a few worker processes (spawned: no copy of the server's threads or locks); a
worker that does not answer within the budget is killed, one that dies is replaced, and
either way the rule's outcome says so. Outcomes are cached per (rule, payload digest), so
a case's later events do not pay for a rule again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import queue
import resource
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from multiprocessing.connection import Connection
from typing import Any

from ledger.config import Settings
from ledger.domain.responsibility.policy_check import FATAL, evaluate_rule
from ledger.domain.responsibility.rules import RuleLimits, RuleOutcome, Verdict, rule_complexity

log = logging.getLogger(__name__)

#: What a worker runs: `evaluate_rule`, or a stand-in that tests use to crash a worker.
Evaluation = Callable[[str, Mapping[str, Any], RuleLimits], RuleOutcome]

_READY = "ready"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    workers: int = 2
    budget_s: float = 0.2  # wall time per evaluation, once the worker has the request
    memory_bytes: int = 512 * 1024 * 1024  # address space of a worker; 0: no cap
    cache_size: int = 10_000  # outcomes kept (least recently used go first)
    start_timeout_s: float = 60.0  # a new worker's start-up (imports), outside the budget
    limits: RuleLimits = field(default_factory=RuleLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxConfig:
        return cls(
            workers=settings.rule_workers,
            budget_s=settings.rule_budget_ms / 1000,
            memory_bytes=settings.rule_memory_mb * 1024 * 1024,
            cache_size=settings.rule_cache_size,
            limits=rule_limits(settings),
        )


def rule_limits(settings: Settings) -> RuleLimits:
    """The limits a rule must keep, at definition and at evaluation."""
    return RuleLimits(
        max_length=settings.rule_max_length,
        max_depth=settings.rule_max_depth,
        max_nodes=settings.rule_max_nodes,
        max_path_depth=settings.rule_max_path_depth,
        max_comprehension_depth=settings.rule_max_comprehension_depth,
        max_literal_items=settings.rule_max_literal_items,
        max_cost=settings.rule_max_cost,
        assumed_iterations=settings.rule_assumed_iterations,
    )


def _serve(conn: Connection, evaluation: Evaluation, memory_bytes: int, limits: RuleLimits) -> None:
    """A worker's loop: one request, one answer, until the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send(_READY)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        rule, payload = request
        try:
            outcome = evaluation(rule, payload, limits)
        except BaseException as exc:
            if isinstance(exc, FATAL):
                raise
            outcome = RuleOutcome(Verdict.CRASHED, f"{type(exc).__name__}: {exc}")
        conn.send(outcome)


class _Worker:
    def __init__(self, context: Any, evaluation: Evaluation, config: SandboxConfig) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, evaluation, config.memory_bytes, config.limits),
            name="rule-evaluator", daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        try:
            if not self.ready and self.conn.poll(timeout):
                self.ready = self.conn.recv() == _READY
        except (EOFError, OSError):  # died while starting
            return False
        return self.ready

    def ask(self, rule: str, payload: dict[str, Any], budget_s: float) -> RuleOutcome | None:
        """The worker's answer; None when it did not answer within the budget."""
        self.conn.send((rule, payload))
        if not self.conn.poll(budget_s):
            return None
        answer: RuleOutcome = self.conn.recv()
        return answer

    def end(self) -> str:
        """Kill the worker; how it ended, for the outcome."""
        self.process.kill()
        self.process.join(5)
        self.conn.close()
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"worker ended by {signal.Signals(-code).name}"
        return f"worker ended with exit code {code}"


class SandboxedEvaluator:
    """A `RuleEvaluator` whose evaluations cannot crash or freeze the calling process."""

    def __init__(self, config: SandboxConfig = SandboxConfig(), *,
                 evaluation: Evaluation = evaluate_rule) -> None:
        self.config = config
        self._evaluation = evaluation
        self._context = multiprocessing.get_context("spawn")
        # Free slots: a started worker, or None for one not started yet (started on use).
        self._free: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(max(1, config.workers)):
            self._free.put(None)
        self._cache: OrderedDict[str, RuleOutcome] = OrderedDict()
        self._lock = threading.Lock()

    def evaluate(self, rule: str, payload: Mapping[str, Any]) -> RuleOutcome:
        too_complex = rule_complexity(rule, self.config.limits)
        if too_complex is not None:  # the same outcome evaluate_rule gives, without a worker
            return RuleOutcome(Verdict.ERROR, f"rule too complex: {too_complex}")
        key = _digest(rule, payload)
        with self._lock:
            if (cached := self._cache.get(key)) is not None:
                self._cache.move_to_end(key)
                return cached
        outcome = self._run(rule, dict(payload))
        with self._lock:
            self._cache[key] = outcome
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return outcome

    def close(self) -> None:
        """End the idle workers (daemon workers also end with the process)."""
        while True:
            try:
                worker = self._free.get_nowait()
            except queue.Empty:
                return
            if worker is not None:
                worker.end()

    def _run(self, rule: str, payload: dict[str, Any]) -> RuleOutcome:
        worker = self._free.get()
        try:
            for attempt in range(2):
                worker = worker or _Worker(self._context, self._evaluation, self.config)
                if not worker.wait_ready(self.config.start_timeout_s):
                    how, worker = worker.end(), None
                    return RuleOutcome(Verdict.CRASHED, f"evaluator did not start: {how}")
                try:
                    answer = worker.ask(rule, payload, self.config.budget_s)
                except OSError as exc:  # pipe closed: the worker died
                    how, worker = worker.end(), None
                    if isinstance(exc, BrokenPipeError) and attempt == 0:
                        # Before it took the request: not this rule's doing; once more.
                        log.warning("rule evaluator died while idle (%s)", how)
                        continue
                    return self._crashed(how)
                except EOFError:
                    how, worker = worker.end(), None
                    return self._crashed(how)
                if answer is None:
                    worker.end()
                    worker = None
                    budget_ms = round(self.config.budget_s * 1000)
                    return RuleOutcome(Verdict.OVER_BUDGET, f"{budget_ms} ms of wall time")
                return answer
            return self._crashed("evaluator keeps dying")
        finally:
            self._replace(worker)

    @staticmethod
    def _crashed(how: str) -> RuleOutcome:
        log.warning("rule evaluator crashed on a rule (%s)", how)
        return RuleOutcome(Verdict.CRASHED, how)

    def _replace(self, worker: _Worker | None) -> None:
        """Give the slot back; a killed worker's successor starts now, outside any budget."""
        if worker is None:
            try:
                worker = _Worker(self._context, self._evaluation, self.config)
            except Exception:  # cannot start one now: the next evaluation tries again
                log.exception("could not start a rule evaluator")
        self._free.put(worker)


def _digest(rule: str, payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(f"{rule}\0{text}".encode()).hexdigest()


@cache
def shared_sandbox(config: SandboxConfig) -> SandboxedEvaluator:
    """One sandbox per configuration and process: the engine and the read models share
    its workers and its cache."""
    return SandboxedEvaluator(config)
