"""Policy rules evaluated in worker processes, under a CPU-time budget and a memory cap.

The CEL library is native code run on customer input: a rule can crash it (a segfault
takes the whole process) or run for minutes holding the GIL. Here each evaluation runs in
one of a few worker processes (spawned: no copy of the server's threads or locks). The
budget is the CPU time the worker spends on an evaluation, read by the parent from the
kernel's accounting (/proc/<pid>/stat): a worker that is merely descheduled on a busy
machine is not charged, so a verdict does not depend on the machine's load. A worker past
its budget is killed, one past the wall-time cap (stopped or starved for ever) too, one
that dies is replaced, and either way the rule's outcome says so. Outcomes are cached per
(rule, payload digest), so a case's later events do not pay for a rule again; `prefetch`
fills the cache for many pairs in a few round trips, spread over the workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import queue
import resource
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from ledger.config import Settings
from ledger.domain.responsibility.policy_check import FATAL, evaluate_rule
from ledger.domain.responsibility.rules import RuleLimits, RuleOutcome, Verdict, rule_complexity

log = logging.getLogger(__name__)

#: What a worker runs: `evaluate_rule`, or a stand-in that tests use to crash a worker.
Evaluation = Callable[[str, Mapping[str, Any], RuleLimits], RuleOutcome]
#: One evaluation asked of a worker: a rule and the payload it is evaluated over.
Item = tuple[str, dict[str, Any]]
#: A worker's answer: the outcome, the CPU time it took, the worker's CPU time so far.
_Answer = tuple[RuleOutcome, float, float]

_READY = "ready"
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: The kernel counts CPU time in ticks (10 ms): checking more often learns nothing.
_MIN_SLICE_S = 1 / _TICKS_PER_S
#: A request larger than this may not fit the socket's buffer, so its send may wait for
#: the worker: it gets a watchdog that kills a worker stopped for longer than the wall cap.
_WATCHED_SEND_BYTES = 64 * 1024
#: Most evaluations in one request of `prefetch`: a runaway rule's successors are sent
#: again to a new worker, so a request is kept a size that is cheap to send twice.
_MAX_REQUEST_ITEMS = 256


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    workers: int = 2
    budget_s: float = 0.2  # CPU time of the worker per evaluation
    wall_cap_s: float = 10.0  # wall time per evaluation, however little CPU it got
    memory_bytes: int = 512 * 1024 * 1024  # address space of a worker; 0: no cap
    cache_size: int = 10_000  # outcomes kept (least recently used go first)
    start_timeout_s: float = 60.0  # a new worker's start-up (imports), outside the budget
    limits: RuleLimits = field(default_factory=RuleLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxConfig:
        return cls(
            workers=settings.rule_workers,
            budget_s=settings.rule_budget_ms / 1000,
            wall_cap_s=settings.rule_wall_cap_ms / 1000,
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
    """A worker's loop: a request of several evaluations, one answer per evaluation as it
    is done (so the parent knows which one is running), until the parent goes away. An
    answer carries the CPU time the evaluation took and the worker's total so far."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send((_READY, time.process_time()))
    while True:
        try:
            request: list[Item] = conn.recv()
        except (EOFError, OSError):
            return
        for rule, payload in request:
            started = time.process_time()
            outcome = _outcome(evaluation, rule, payload, limits)
            ended = time.process_time()
            conn.send((outcome, ended - started, ended))


def _outcome(
    evaluation: Evaluation, rule: str, payload: dict[str, Any], limits: RuleLimits
) -> RuleOutcome:
    try:
        return evaluation(rule, payload, limits)
    except BaseException as exc:
        if isinstance(exc, FATAL):
            raise
        return RuleOutcome(Verdict.CRASHED, f"{type(exc).__name__}: {exc}")


class _Ended(Enum):
    """Why a worker stopped answering a request (it is then ended)."""

    IDLE = "died before it took the request"
    CRASHED = "died on an evaluation"
    OVER_BUDGET = "spent its CPU budget on an evaluation"
    OVER_CAP = "took the wall-time cap on an evaluation"


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
        #: The worker's CPU time when it last answered: an evaluation is charged from here.
        self.cpu_at_rest = 0.0
        self._stat: int | None = None  # /proc/<pid>/stat, kept open: one pread per look

    def wait_ready(self, timeout: float) -> bool:
        try:
            if not self.ready and self.conn.poll(timeout):
                message, self.cpu_at_rest = self.conn.recv()
                self.ready = message == _READY
        except (EOFError, OSError):  # died while starting
            return False
        return self.ready

    def run(self, items: Sequence[Item], config: SandboxConfig,
            outcomes: list[RuleOutcome]) -> _Ended | None:
        """Appends the outcome of each item, in order, as the worker gives it; None once
        all are answered, else why the worker stopped at item `len(outcomes)` (the
        caller must end it)."""
        sent = time.monotonic()
        try:
            self._send(ForkingPickler.dumps(list(items)), config.wall_cap_s)
        except OSError as exc:  # pipe closed: the worker died (or the watchdog ended it)
            if time.monotonic() - sent >= config.wall_cap_s:
                return _Ended.OVER_CAP
            return _Ended.IDLE if isinstance(exc, BrokenPipeError) else _Ended.CRASHED
        for _ in items:
            answer = self._answer(config.budget_s, max(config.wall_cap_s, config.budget_s))
            if isinstance(answer, _Ended):
                return answer
            outcome, spent, self.cpu_at_rest = answer
            # Judged on the CPU the worker reports, so the verdict does not depend on how
            # soon this process looked: a rule over budget is over it even if it answered.
            outcomes.append(outcome if spent < config.budget_s else _over_budget(config))
        return None

    def _send(self, data: bytes | memoryview, wall_cap_s: float) -> None:
        if len(data) <= _WATCHED_SEND_BYTES:
            self.conn.send_bytes(data)
            return
        watchdog = threading.Timer(wall_cap_s, self.process.kill)
        watchdog.start()
        try:
            self.conn.send_bytes(data)
        finally:
            watchdog.cancel()

    def _answer(self, budget_s: float, wall_cap_s: float) -> _Answer | _Ended:
        """The next answer, once it comes within the CPU budget and the wall-time cap."""
        started = time.monotonic()
        timeout = budget_s  # CPU time cannot pass faster than wall time
        while not self.conn.poll(timeout):
            waited = time.monotonic() - started
            cpu = self.cpu_s()
            used = waited if cpu is None else cpu - self.cpu_at_rest
            if used >= budget_s:
                return _Ended.OVER_BUDGET
            if waited >= wall_cap_s:
                return _Ended.OVER_CAP
            timeout = min(max(budget_s - used, _MIN_SLICE_S), wall_cap_s - waited)
        try:
            answer: _Answer = self.conn.recv()
        except (EOFError, OSError):
            return _Ended.CRASHED
        return answer

    def cpu_s(self) -> float | None:
        """CPU time (user + system) the worker has used, as the kernel counts it; None
        where there is no /proc (then wall time stands in for it)."""
        try:
            if self._stat is None:
                self._stat = os.open(f"/proc/{self.process.pid}/stat", os.O_RDONLY)
            stat = os.pread(self._stat, 1024, 0)
        except OSError:
            return None
        fields = stat[stat.rindex(b")") + 2:].split()  # the name may hold spaces
        return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime, stime

    def end(self) -> str:
        """Kill the worker; how it ended, for the outcome."""
        self.process.kill()
        self.process.join(5)
        self.conn.close()
        if self._stat is not None:
            os.close(self._stat)
            self._stat = None
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"worker ended by {signal.Signals(-code).name}"
        return f"worker ended with exit code {code}"


def _over_budget(config: SandboxConfig) -> RuleOutcome:
    return RuleOutcome(Verdict.OVER_BUDGET, f"{round(config.budget_s * 1000)} ms of CPU time")


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
        (outcome,) = self._run_batch([(rule, dict(payload))])
        self._remember([key], [outcome])
        return outcome

    def prefetch(self, pairs: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Evaluate the pairs not in the cache yet, in a few requests spread over the
        workers at once, and cache their outcomes for the `evaluate` calls that follow.
        Each evaluation keeps its own budget (a runaway costs only its own outcome)."""
        todo: dict[str, Item] = {}
        for rule, payload in pairs:
            if rule_complexity(rule, self.config.limits) is None:
                todo.setdefault(_digest(rule, payload), (rule, dict(payload)))
        with self._lock:
            keys = [key for key in todo if key not in self._cache]
        if not keys:
            return
        requests: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        size = min(_MAX_REQUEST_ITEMS, -(-len(keys) // max(1, self.config.workers)))
        for start in range(0, len(keys), size):
            requests.put(keys[start:start + size])
        helpers = [threading.Thread(target=self._drain, args=(requests, todo),
                                    name="rule-prefetch", daemon=True)
                   for _ in range(min(self.config.workers, -(-len(keys) // size)) - 1)]
        for helper in helpers:
            helper.start()
        self._drain(requests, todo)
        for helper in helpers:
            helper.join()

    def warm(self) -> None:
        """Start the workers not started yet, without waiting for them: their imports run
        meanwhile, so the first evaluation does not wait for them (a few ms here)."""
        slots: list[_Worker | None] = []
        while True:
            try:
                slots.append(self._free.get_nowait())
            except queue.Empty:
                break
        for slot in slots:
            self._replace(slot)

    def close(self) -> None:
        """End the idle workers (daemon workers also end with the process)."""
        while True:
            try:
                worker = self._free.get_nowait()
            except queue.Empty:
                return
            if worker is not None:
                worker.end()

    def _drain(self, requests: queue.SimpleQueue[list[str]], todo: Mapping[str, Item]) -> None:
        while True:
            try:
                keys = requests.get_nowait()
            except queue.Empty:
                return
            try:
                self._remember(keys, self._run_batch([todo[key] for key in keys]))
            except Exception:  # a prefetch only saves time: `evaluate` will try again
                log.exception("rule prefetch failed")

    def _remember(self, keys: Sequence[str], outcomes: Sequence[RuleOutcome]) -> None:
        with self._lock:
            for key, outcome in zip(keys, outcomes, strict=True):
                self._cache[key] = outcome
                self._cache.move_to_end(key)
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)

    def _run_batch(self, items: Sequence[Item]) -> list[RuleOutcome]:
        """The outcomes of `items`, in order, from one worker slot (a worker that ends
        on an item is replaced, and the items after it go to its successor)."""
        outcomes: list[RuleOutcome] = []
        worker = self._free.get()
        retried = False
        try:
            while len(outcomes) < len(items):
                worker = worker or _Worker(self._context, self._evaluation, self.config)
                if not worker.wait_ready(self.config.start_timeout_s):
                    how, worker = worker.end(), None
                    failed = RuleOutcome(Verdict.CRASHED, f"evaluator did not start: {how}")
                    return outcomes + [failed] * (len(items) - len(outcomes))
                ended = worker.run(items[len(outcomes):], self.config, outcomes)
                if ended is None:
                    break
                how, worker = worker.end(), None
                if ended is _Ended.IDLE and not retried:
                    # Before it took the request: not these rules' doing; once more.
                    log.warning("rule evaluator died while idle (%s)", how)
                    retried = True
                    continue
                outcomes.append(self._ended(ended, how))
            return outcomes
        finally:
            self._replace(worker)

    def _ended(self, ended: _Ended, how: str) -> RuleOutcome:
        """The outcome of the evaluation a worker ended on."""
        if ended is _Ended.OVER_BUDGET:
            return _over_budget(self.config)
        if ended is _Ended.OVER_CAP:
            cap_ms = round(max(self.config.wall_cap_s, self.config.budget_s) * 1000)
            log.warning("rule evaluator took the wall-time cap (%d ms)", cap_ms)
            return RuleOutcome(Verdict.OVER_BUDGET, f"wall-time cap of {cap_ms} ms")
        how = "evaluator keeps dying" if ended is _Ended.IDLE else how
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
