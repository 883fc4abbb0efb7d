"""Reading what was just written (docs/domain-rules.md, Reading what was just written).

`POST /v1/events` answers the tenant's ledger position after the append
(`ledger_position`); any GET may pass it back as `min_position`, and is answered only
once derivation of the tenant has reached it and the read models reflect that output,
waiting at most LEDGER_MIN_POSITION_WAIT_S; then 503 with Retry-After (a retryable
LedgerError, api/problems.py).
"""

from __future__ import annotations

import time

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.auth import _authenticate, bearer_scheme
from api.problems import ProblemError
from ledger.adapters.store import EventStore
from ledger.application.derivation import derivation_reached
from ledger.errors import LedgerError
from projections.runner import Projections

POLL_S = 0.05
DEFAULT_WAIT_S = 5.0

class NotYetDerived(LedgerError):
    """Derivation or the read models have not reached the requested position yet."""

    code = "not-yet-derived"
    retryable = True


def reached(store: EventStore, projections: Projections, tenant: str, position: int,
            target: list[int]) -> bool:
    """Derivation of the tenant reached `position`, then the read models reached the
    store's head as it was at that moment (kept in `target`)."""
    if not target:
        if not derivation_reached(store, tenant, position):
            return False
        target.append(store.max_notification_id())
    return min((s.position for s in projections.status()), default=target[0]) >= target[0]


def wait_for(store: EventStore, projections: Projections, tenant: str, position: int,
             timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    target: list[int] = []
    while not reached(store, projections, tenant, position, target):
        if time.monotonic() >= deadline:
            raise NotYetDerived(f"the tenant's ledger is not derived up to position "
                                f"{position} yet; ask again shortly")
        time.sleep(POLL_S)


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
    read_side = request.app.state.read_side
    timeout = getattr(request.app.state, "min_position_wait_s", DEFAULT_WAIT_S)
    await run_in_threadpool(wait_for, request.app.state.ledger.store, read_side.projections,
                            principal.tenant, int(raw), timeout)
