"""The read models kept current in a background thread of a live process (`ledger serve`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ledger.application.follower import FollowerThread
from projections.runner import Projections


class ProjectionWorker:
    """Keeps the projections current in a background thread of a live process.

    `upstream`, when given, runs first in every round: the responsibility engine's
    `run_once`, so that what a query reads includes what the ledger derived from the
    latest events. Readers that need the views as of now call `wait_current()`.
    """

    def __init__(
        self, projections: Projections, *, idle_s: float = 0.5,
        upstream: Callable[[], int] | None = None,
    ) -> None:
        self.projections = projections
        self.upstream = upstream
        self._changed = threading.Condition()
        self._follower = FollowerThread("projections", self._step, idle_s)
        self._started = False

    def start(self) -> ProjectionWorker:
        self._follower.start()
        self._started = True
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._started:
            self._follower.stop(timeout)
            self._started = False

    def catch_up(self) -> dict[str, int]:
        """One round in the caller's thread: upstream until idle, then every projection."""
        if self.upstream is not None:
            while self.upstream():
                pass
        done = self.projections.catch_up()
        with self._changed:
            self._changed.notify_all()
        return done

    def wait_current(self, timeout: float) -> bool:
        """Wait until the views reflect the ledger as it is now; False on timeout."""
        target = self.projections.store.max_notification_id()
        if not self._started:
            return self.projections.reached >= target
        with self._changed:
            return self._changed.wait_for(lambda: self.projections.reached >= target, timeout)

    def _step(self) -> int:
        read = self.upstream() if self.upstream is not None else 0
        done = self.projections.catch_up()
        with self._changed:
            self._changed.notify_all()
        return read + sum(done.values())
