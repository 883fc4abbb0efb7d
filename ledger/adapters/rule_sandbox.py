"""Policy rules evaluated in worker processes, under a CPU-time budget and a memory cap.

The CEL library is native code run on customer input: a rule can crash it (a segfault
takes the whole process) or run for minutes holding the GIL. Here each evaluation runs in
one of a few worker processes (spawned: no copy of the server's threads or locks;
rule_worker.py). The budget is the CPU time the worker spends on an evaluation, so a
worker merely descheduled on a busy machine is not charged; a worker past its budget is
killed, one past the wall-time cap (stopped or starved for ever) too, one that dies is
replaced, and either way the rule's outcome says so. Outcomes are cached per (rule,
payload digest), so a case's later events do not pay for a rule again; `prefetch` fills
the cache for many pairs in a few requests, spread over the workers at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from ledger.adapters.rule_worker import Ended, Evaluation, Item, Stopped, Worker, over_budget
from ledger.config import Settings
from ledger.domain.responsibility.policy_check import evaluate_rule
from ledger.domain.responsibility.rules import RuleLimits, RuleOutcome, Verdict, rule_complexity

log = logging.getLogger(__name__)

#: Most evaluations in one request of `prefetch`: a runaway rule's neighbours are sent
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


class SandboxedEvaluator:
    """A `RuleEvaluator` whose evaluations cannot crash or freeze the calling process."""

    def __init__(self, config: SandboxConfig = SandboxConfig(), *,
                 evaluation: Evaluation = evaluate_rule) -> None:
        self.config = config
        self._evaluation = evaluation
        self._context = multiprocessing.get_context("spawn")
        # Free slots: a started worker, or None for one not started yet (started on use).
        # First in, first out: evaluated one by one, the workers take turns, so all are
        # started and warm when a prefetch needs them at once (LIFO: ~10% faster one by
        # one, but a prefetch would then wait for the idle worker's start-up, ~0.5-1 s).
        self._free: queue.SimpleQueue[Worker | None] = queue.SimpleQueue()
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
        slots: list[Worker | None] = []
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
        """The outcomes of `items`, in order, from one worker slot (a worker that ends on
        an item is replaced, and the items it did not answer go to its successor)."""
        outcomes: list[RuleOutcome | None] = [None] * len(items)
        worker = self._free.get()
        retried = False
        try:
            while pending := [i for i, outcome in enumerate(outcomes) if outcome is None]:
                worker = worker or self._new_worker()
                if not worker.wait_ready(self.config.start_timeout_s):
                    how, worker = worker.end(), None
                    failed = RuleOutcome(Verdict.CRASHED, f"evaluator did not start: {how}")
                    return [outcome or failed for outcome in outcomes]
                result = worker.run([items[i] for i in pending], self.config.budget_s,
                                    self._wall_cap_s)
                if not isinstance(result, Stopped):
                    for i, outcome in zip(pending, result, strict=True):
                        outcomes[i] = outcome
                    break
                how, worker = worker.end(), None
                if result.why is Ended.IDLE and not retried:
                    # Before it took the request: not these rules' doing; once more.
                    log.warning("rule evaluator died while idle (%s)", how)
                    retried = True
                    continue
                outcomes[pending[result.at]] = self._ended(result.why, how)
            return [outcome for outcome in outcomes if outcome is not None]
        finally:
            self._replace(worker)

    @property
    def _wall_cap_s(self) -> float:
        return max(self.config.wall_cap_s, self.config.budget_s)

    def _new_worker(self) -> Worker:
        config = self.config
        return Worker(self._context, self._evaluation, config.memory_bytes, config.limits)

    def _ended(self, why: Ended, how: str) -> RuleOutcome:
        """The outcome of the evaluation a worker ended on."""
        if why is Ended.OVER_BUDGET:
            return over_budget(self.config.budget_s)
        if why is Ended.OVER_CAP:
            cap_ms = round(self._wall_cap_s * 1000)
            log.warning("rule evaluator took the wall-time cap (%d ms)", cap_ms)
            return RuleOutcome(Verdict.OVER_BUDGET, f"wall-time cap of {cap_ms} ms")
        how = "evaluator keeps dying" if why is Ended.IDLE else how
        log.warning("rule evaluator crashed on a rule (%s)", how)
        return RuleOutcome(Verdict.CRASHED, how)

    def _replace(self, worker: Worker | None) -> None:
        """Give the slot back; a killed worker's successor starts now, outside any budget."""
        if worker is None:
            try:
                worker = self._new_worker()
            except Exception:  # cannot start one now: the next evaluation tries again
                log.exception("could not start a rule evaluator")
        self._free.put(worker)


def _digest(rule: str, payload: Mapping[str, Any]) -> str:
    """The cache key: the rule and the payload's canonical JSON. orjson is ~15x faster than
    json here; its text is ambiguous only where it writes null for NaN or infinity, and
    it cannot write integers beyond 64 bits: then json's text (NaN, 1e999...) is the key."""
    try:
        text = orjson.dumps(payload, default=repr, option=_ORJSON_KEY)
    except (orjson.JSONEncodeError, TypeError):
        text = b"null"
    if b"null" in text:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr).encode()
    return hashlib.sha256(rule.encode() + b"\0" + text).hexdigest()


#: Sorted keys, and what json would write with default=repr written so by orjson too.
_ORJSON_KEY = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
               | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)


@cache
def shared_sandbox(config: SandboxConfig) -> SandboxedEvaluator:
    """One sandbox per configuration and process: the engine and the read models share
    its workers and its cache."""
    return SandboxedEvaluator(config)
