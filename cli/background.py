"""The duties the partition-0 member of the workers' group runs beside its derivation.

It relays committed entries to the entries topic and keeps the read models current. Run
in the derivation loop, each waited for the others (a relay only after a poll's timeout
and a round, the views only after the tenants' derivation), which made every verdict's
latency their sum; each in its own thread (`FollowerThread`), a relay follows the store
as soon as an append commits and the views follow whatever any worker derived.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ledger.application.follower import FollowerThread
from ledger.application.quarantine import describe

log = logging.getLogger("cli.work")
FOLLOW_S = 0.02  # how soon a follower looks again after finding nothing
SLOW_S = 1.0  # a step or round longer than this is logged


class Duties:
    """Followers run together while a condition holds (holding partition 0)."""

    def __init__(self, *tasks: FollowerThread) -> None:
        self.tasks = tasks
        self._seen = 0

    def hold(self, leading: bool) -> None:
        for task in self.tasks:
            if leading:
                task.start()
            elif task.running:
                task.stop(60.0)

    def moved(self) -> bool:
        """Whether the tasks found work since last asked (for --until-idle)."""
        done = sum(task.done for task in self.tasks)
        moved, self._seen = done != self._seen, done
        return moved

    def stop(self) -> None:
        for task in self.tasks:
            task.stop(60.0)


def outage_pause(stop: threading.Event, exc: BaseException) -> None:
    """The store or the broker is away: say so and try again shortly (positions are in
    the store, so nothing is lost or done twice by retrying)."""
    log.warning("ledger work: %s; retrying", describe(exc))
    stop.wait(1.0)


def logged_if_slow(what: str, step: Callable[[], int]) -> Callable[[], int]:
    """`step`, saying so in the log when it takes over SLOW_S (what a late verdict or
    view waited for)."""

    def timed() -> int:
        started = time.monotonic()
        found = step()
        if (took := time.monotonic() - started) > SLOW_S:
            log.warning("slow %s step: %.1f s for %s entries", what, took, found)
        return found
    return timed
