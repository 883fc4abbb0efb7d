"""Reading what was just written (docs/domain-rules.md, Reading what was just written).

`POST /v1/events` answers the tenant's ledger position after the append
(`ledger_position`); any GET may pass it back as `min_position`, and is answered only
once derivation of the tenant has reached it and the read models reflect that output,
waiting at most LEDGER_MIN_POSITION_WAIT_S; then 503 with Retry-After (a retryable
LedgerError, api/problems.py).

Waiting requests do not poll the database each: one `PositionWatch` per app reads, while
anyone waits, the read models' position and the derivation position of each tenant
waited on, every POLL_S, and wakes the waiters; each then checks its own position
against that snapshot. The database sees the same few queries whatever the number of
waiting requests.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.auth import _authenticate, bearer_scheme
from api.problems import ProblemError
from ledger.adapters.store import EventStore
from ledger.application.derivation import derivation_reached, derived_position
from ledger.domain.events import ENTRY_KIND_DERIVED
from ledger.errors import LedgerError
from projections.runner import Projections

POLL_S = 0.05
DEFAULT_WAIT_S = 5.0
#: A watcher with nobody waiting stops after this long (started again on demand).
IDLE_STOP_S = 5.0


class NotYetDerived(LedgerError):
    """Derivation or the read models have not reached the requested position yet."""

    code = "not-yet-derived"
    retryable = True


def views_position(projections: Projections) -> int:
    """How far every read model reflects the ledger (the slowest one's position)."""
    return min((p.view.position() for p in projections.projections.values()), default=0)


def reached(store: EventStore, projections: Projections, tenant: str, position: int,
            target: list[int]) -> bool:
    """Derivation of the tenant reached `position`, then the read models reached the
    tenant's ledger as it was at that moment (kept in `target`): other tenants' newer
    entries are not waited for."""
    if not target:
        if not derivation_reached(store, tenant, position):
            return False
        target.append(store.last_notification_id(tenant))
    return views_position(projections) >= target[0]


class PositionWatch:
    """The positions `min_position` waits on, read by one thread for every waiter."""

    def __init__(self, store: EventStore, projections: Callable[[], Projections],
                 poll_s: float = POLL_S) -> None:
        self.store = store
        self._projections = projections
        self.poll_s = poll_s
        self._changed = threading.Condition()
        self._waiting: Counter[str] = Counter()
        self._derived: dict[str, int] = {}
        self._views = -1
        self._round = 0
        self._thread: threading.Thread | None = None

    def wait(self, tenant: str, position: int, timeout_s: float) -> None:
        """Return once `reached` holds; NotYetDerived after `timeout_s`."""
        target: list[int] = []
        if reached(self.store, self._projections(), tenant, position, target):
            return
        deadline = time.monotonic() + timeout_s
        checked = -1  # the derivation position this waiter last looked between
        with self._changed:
            self._waiting[tenant] += 1
            self._start()
            seen = self._round
        try:
            while True:
                with self._changed:
                    left = deadline - time.monotonic()
                    if left > 0:
                        self._changed.wait_for(self._moved(seen), left)
                    seen, tracked, views = self._round, self._derived.get(tenant, -1), \
                        self._views
                # The database is read outside the lock, once per new derivation position.
                if not target and tracked > checked:
                    checked = tracked
                    if self._derivation_reached(tenant, tracked, position):
                        target.append(self.store.last_notification_id(tenant))
                if target and views >= target[0]:
                    return
                if time.monotonic() >= deadline:
                    raise NotYetDerived(f"the tenant's ledger is not derived up to "
                                        f"position {position} yet; ask again shortly")
        finally:
            with self._changed:
                self._waiting[tenant] -= 1
                if not self._waiting[tenant]:
                    del self._waiting[tenant]

    def _moved(self, since: int) -> Callable[[], bool]:
        return lambda: self._round != since

    def _derivation_reached(self, tenant: str, tracked: int, position: int) -> bool:
        if tracked >= position:
            return True
        between = self.store.entries(tenant, tracked, position - tracked)
        return all(e.kind == ENTRY_KIND_DERIVED for e in between)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="min-position-watch",
                                            daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        quiet_since = time.monotonic()
        while True:
            with self._changed:
                tenants = list(self._waiting)
                if not tenants and time.monotonic() - quiet_since > IDLE_STOP_S:
                    self._thread = None
                    return
            if tenants:
                quiet_since = time.monotonic()
                try:
                    self._read(tenants)
                except Exception:  # the store is away: waiters time out, or see it back
                    time.sleep(self.poll_s)
            time.sleep(self.poll_s)

    def _read(self, tenants: list[str]) -> None:
        derived = {t: derived_position(self.store, t) for t in tenants}
        views = views_position(self._projections())
        with self._changed:
            self._derived.update(derived)
            self._views = views
            self._round += 1
            self._changed.notify_all()


def position_watch(request: Request) -> PositionWatch:
    """The app's watcher, made on first use."""
    state = request.app.state
    watch: PositionWatch | None = getattr(state, "position_watch", None)
    if watch is None:
        with _MAKING:
            watch = getattr(state, "position_watch", None)
            if watch is None:
                read_side = state.read_side
                watch = PositionWatch(state.ledger.store, lambda: read_side.projections)
                state.position_watch = watch
    return watch


_MAKING = threading.Lock()


def wait_for(store: EventStore, projections: Projections, tenant: str, position: int,
             timeout_s: float) -> None:
    """One wait with a watcher of its own (callers outside an app)."""
    PositionWatch(store, lambda: projections).wait(tenant, position, timeout_s)


async def read_your_writes(request: Request) -> None:
    """An app-wide dependency: for a GET with `min_position`, wait as the module says.
    Read from the query string by hand, so that routes without it keep their documented
    answers (a declared parameter would add a 422 to every route)."""
    raw = request.query_params.get("min_position")
    if raw is None or request.method != "GET":
        return
    if not raw.isdigit():
        raise ProblemError(422, "Invalid min_position",
                           "`min_position`: a ledger position (a whole number, 0 or more)")
    principal = _authenticate(request, await bearer_scheme(request))
    timeout = getattr(request.app.state, "min_position_wait_s", DEFAULT_WAIT_S)
    await run_in_threadpool(position_watch(request).wait, principal.tenant, int(raw),
                            timeout)
