"""Runs a follower (the engine, a projection) in a background thread of a live process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class FollowerThread:
    """Calls `step` (returns how many entries it read) until stopped; sleeps when idle.

    A failing step is logged and retried after a pause: a database restart must not stop
    derivation for good, and nothing is lost because every step commits with its position.
    """

    def __init__(self, name: str, step: Callable[[], int], idle_s: float) -> None:
        self.name = name
        self._step = step
        self._idle_s = idle_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> FollowerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                read = self._step()
            except Exception:
                log.exception("%s failed; retrying", self.name)
                self._stopping.wait(min(30.0, self._idle_s * 4))
                continue
            if read == 0:
                self._stopping.wait(self._idle_s)
