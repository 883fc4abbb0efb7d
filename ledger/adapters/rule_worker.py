"""One rule worker process, and how its parent charges it: the sandbox's budget is the CPU
time the worker spends on an evaluation, read by the parent from the kernel's accounting
(/proc/<pid>/stat), so a worker that is merely descheduled on a busy machine is not
charged and a verdict does not depend on the machine's load. A wall-time cap, far above,
still ends a worker that is stopped or starved for ever.

A request carries several evaluations and is answered at once, in one message; while it
runs, the worker writes in shared memory which evaluation it is on and its CPU time when
that one started, so the parent charges each evaluation its own CPU and knows which one
to blame when it ends the worker (the others are sent again to its successor).
"""

from __future__ import annotations

import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, NamedTuple

from ledger.domain.responsibility.policy_check import FATAL
from ledger.domain.responsibility.rules import RuleLimits, RuleOutcome, Verdict

#: What a worker runs: `evaluate_rule`, or a stand-in that tests use to crash a worker.
Evaluation = Callable[[str, Mapping[str, Any], RuleLimits], RuleOutcome]
#: One evaluation asked of a worker: a rule and the payload it is evaluated over.
Item = tuple[str, dict[str, Any]]
#: What a worker answers per evaluation: verdict, detail, CPU seconds it took.
_Answer = tuple[str, str, float]

_READY = "ready"
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: The kernel counts CPU time in ticks (10 ms): checking more often learns nothing.
_MIN_SLICE_S = 1 / _TICKS_PER_S
#: A request larger than this may not fit the socket's buffer, so its send may wait for
#: the worker: it gets a watchdog that kills a worker stopped for longer than the wall cap.
_WATCHED_SEND_BYTES = 64 * 1024
_IDLE = -1.0  # the shared index before the worker starts a request's first evaluation


def serve(conn: Connection, evaluation: Evaluation, memory_bytes: int, limits: RuleLimits,
          progress: Any) -> None:
    """A worker's loop: a request, its answers in one message, until the parent goes away.
    `progress` (shared doubles): the evaluation under way, and the CPU time it began at."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send((_READY, time.process_time()))
    while True:
        try:
            request: list[Item] = conn.recv()
        except (EOFError, OSError):
            return
        answers: list[_Answer] = []
        for index, (rule, payload) in enumerate(request):
            started = time.process_time()
            progress[1] = started  # before the index: the parent reads them the other way
            progress[0] = index
            outcome = _outcome(evaluation, rule, payload, limits)
            answers.append((outcome.verdict.value, outcome.detail,
                            time.process_time() - started))
        conn.send((answers, time.process_time()))


def _outcome(
    evaluation: Evaluation, rule: str, payload: dict[str, Any], limits: RuleLimits
) -> RuleOutcome:
    try:
        return evaluation(rule, payload, limits)
    except BaseException as exc:
        if isinstance(exc, FATAL):
            raise
        return RuleOutcome(Verdict.CRASHED, f"{type(exc).__name__}: {exc}")


def over_budget(budget_s: float) -> RuleOutcome:
    return RuleOutcome(Verdict.OVER_BUDGET, f"{round(budget_s * 1000)} ms of CPU time")


class Ended(Enum):
    """Why a worker stopped answering a request (it is then ended)."""

    IDLE = "died before it took the request"
    CRASHED = "died on an evaluation"
    OVER_BUDGET = "spent its CPU budget on an evaluation"
    OVER_CAP = "took the wall-time cap on an evaluation"


class Stopped(NamedTuple):
    why: Ended
    at: int  # the evaluation it stopped on: its index in the request


class Worker:
    def __init__(self, context: Any, evaluation: Evaluation, memory_bytes: int,
                 limits: RuleLimits) -> None:
        self.conn, child = context.Pipe()
        self._progress = context.RawArray("d", [_IDLE, 0.0])
        self.process = context.Process(
            target=serve, args=(child, evaluation, memory_bytes, limits, self._progress),
            name="rule-evaluator", daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False
        #: The worker's CPU time when it last answered (charged to a request's first item).
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

    def run(self, items: Sequence[Item], budget_s: float,
            wall_cap_s: float) -> list[RuleOutcome] | Stopped:
        """The outcomes of `items`, in order; or where and why the worker stopped (the
        caller must then end it)."""
        self._progress[0] = _IDLE
        sent = time.monotonic()
        try:
            self._send(ForkingPickler.dumps(list(items)), wall_cap_s)
        except OSError as exc:  # pipe closed: the worker died (or the watchdog ended it)
            if time.monotonic() - sent >= wall_cap_s:
                return Stopped(Ended.OVER_CAP, 0)
            return Stopped(Ended.IDLE if isinstance(exc, BrokenPipeError) else Ended.CRASHED, 0)
        answer = self._answer(budget_s, wall_cap_s)
        if isinstance(answer, Stopped):
            return answer
        answers, self.cpu_at_rest = answer
        # Judged on the CPU the worker reports, so the verdict does not depend on how soon
        # this process looked: a rule over budget is over it even if it answered.
        return [RuleOutcome(Verdict(verdict), detail) if spent < budget_s
                else over_budget(budget_s) for verdict, detail, spent in answers]

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

    def _answer(self, budget_s: float,
                wall_cap_s: float) -> tuple[list[_Answer], float] | Stopped:
        """The request's answer, once it comes with no evaluation over the CPU budget or
        the wall-time cap (each counted from when the parent saw that evaluation begin)."""
        seen, since = _IDLE, time.monotonic()
        timeout = budget_s  # CPU time cannot pass faster than wall time
        while not self.conn.poll(timeout):
            now = time.monotonic()
            index, began = self._in_flight()
            if index != seen:
                seen, since = index, now
            cpu = self.cpu_s()
            used = now - since if cpu is None else cpu - (began if index >= 0 else self.cpu_at_rest)
            if used >= budget_s:
                return Stopped(Ended.OVER_BUDGET, max(0, index))
            if now - since >= wall_cap_s:
                return Stopped(Ended.OVER_CAP, max(0, index))
            timeout = min(max(budget_s - used, _MIN_SLICE_S), wall_cap_s - (now - since))
        try:
            answer: tuple[list[_Answer], float] = self.conn.recv()
        except (EOFError, OSError):
            return Stopped(Ended.CRASHED, max(0, self._in_flight()[0]))
        return answer

    def _in_flight(self) -> tuple[int, float]:
        """The evaluation under way and the worker's CPU time when it began (read twice:
        the worker may move on between the two reads)."""
        while True:
            index, began = self._progress[0], self._progress[1]
            if self._progress[0] == index:
                return int(index), began

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
