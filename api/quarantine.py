"""`GET /v1/quarantine`: the caller's tenant's cases a stage set aside (admin, auditor)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from api import examples
from api.auth import require
from api.problems import AUTHENTICATED, problems
from ledger.application.quarantine import open_quarantines
from ledger.domain.access import Capability, Principal

router = APIRouter(tags=["quarantine"])


_EXAMPLE = {"items": [{
    "tenant": "acme", "stage": "derivation", "case_id": "SO-1001", "position": 42,
    "event_id": "evt-42", "error": "RuntimeError: evaluator crashed", "recorded_at": 57}]}


@router.get("/v1/quarantine", summary="Quarantined cases",
            responses={200: examples.ok(_EXAMPLE), **problems(*AUTHENTICATED)})
async def get_quarantine(
    request: Request,
    principal: Annotated[Principal, Depends(require(Capability.READ_AUDIT))],
) -> dict[str, Any]:
    """The quarantines in force: for each, the stage (`derivation`, `projection:<name>`),
    the case, the position of the entry it failed on and the error. `ledger quarantine
    retry` hands them back after a fix."""
    store = request.app.state.ledger.store
    found = await run_in_threadpool(open_quarantines, store, principal.tenant)
    return {"items": [q.as_dict() for q in found]}
