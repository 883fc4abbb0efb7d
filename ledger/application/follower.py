"""Runs a follower (the engine, a projection, a relay) in a background thread of a live
process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class FollowerThread:
    """Calls `step` (returns how much work it found) until stopped: again at once while it
    finds work, after `idle_s` when it finds none.

    A failing step is logged and retried after a pause: a database restart must not stop
    derivation for good, and nothing is lost because every step commits with its position.
    It can be stopped and started again (a duty held only while a partition is).
    """

    def __init__(self, name: str, step: Callable[[], int], idle_s: float) -> None:
        self.name = name
        self._step = step
        self._idle_s = idle_s
        #: Work found by every step so far (what `--until-idle` watches).
        self.done = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FollowerThread:
        if not self.running:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop, waiting for the step under way (so that a successor does not overlap)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                found = self._step()
            except Exception:
                log.exception("%s failed; retrying", self.name)
                self._stopping.wait(min(30.0, max(1.0, self._idle_s * 4)))
                continue
            self.done += found
            if found == 0:
                self._stopping.wait(self._idle_s)
