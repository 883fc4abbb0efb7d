"""Proof routes (tamper evidence): an event's inclusion proof, checkpoints, consistency.

Only translation here: the proofs are built by ledger/evidence.py from the store. The
answers are proof bundles that `ledger verify-evidence` (or any RFC 9162 verifier plus
Ed25519) checks offline with the ledger's public key.

The tenant comes from the `X-Ledger-Tenant` header until access control (another issue)
derives it from the caller.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ledger.adapters.eventstore import EventStore
from ledger.evidence import NotSealedError, Prover, StoreDamagedError, resolve_event

router = APIRouter(tags=["proofs"])

TenantHeader = Annotated[
    str,
    Header(
        alias="X-Ledger-Tenant",
        pattern=r"^[a-z0-9-]{1,63}$",
        description="The caller's tenant (until access control derives it).",
    ),
]


class CheckpointOut(BaseModel):
    format: str = Field(examples=["ledger-checkpoint/v1"])
    tenant: str
    tree_size: int = Field(description="Entries 1..tree_size are covered.")
    root_hash: str = Field(description="RFC 9162 tree head, hex.")
    timestamp: str
    key_id: str
    sequence: int = Field(description="Place in the tenant's checkpoint stream (not signed).")
    signature: str = Field(description="Ed25519 over the RFC 8785 body, base64.")


class ProvenEntryOut(BaseModel):
    position: int
    recorded_at: str
    kind: str
    stream: str
    envelope: dict[str, Any] = Field(description="The event exactly as received.")
    digest: str
    prev_hash: str
    entry_hash: str
    leaf_hash: str
    inclusion_proof: list[str] = Field(description="RFC 9162 audit path, hex, leaf first.")


class ProofBundleOut(BaseModel):
    format: str = Field(examples=["ledger-proofs/v1"])
    tenant: str
    algorithms: dict[str, str]
    checkpoint: CheckpointOut
    entries: list[ProvenEntryOut]


class ConsistencyOut(BaseModel):
    format: str = Field(examples=["ledger-consistency/v1"])
    tenant: str
    from_: CheckpointOut = Field(alias="from")
    to: CheckpointOut
    consistency_proof: list[str] = Field(description="RFC 9162 consistency proof, hex.")


class ProblemOut(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


def _store(request: Request) -> EventStore:
    store: EventStore = request.app.state.ledger.store
    return store


def _problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


def _json(content: Any) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemOut, "description": "No such event or checkpoint in the ledger."},
    409: {"model": ProblemOut, "description": "The id names events of several sources "
          "(ask for source#id), or the entry is not covered by a signed checkpoint yet."},
    500: {"model": ProblemOut, "description": "The store's tree data is damaged: run "
          "`ledger verify`."},
}


@router.get("/v1/proofs/{event_id:path}", response_model=ProofBundleOut, responses=_PROBLEMS)
async def get_proof(event_id: str, tenant: TenantHeader, request: Request) -> Response:
    """The proof that this event is in the tenant's ledger as recorded.

    `event_id` is the event's `id`, or `source#id` where two sources used the same id
    (URL-encode the '#' as %23). The answer is a proof bundle of one entry: the entry,
    its RFC 9162 inclusion proof and the latest signed checkpoint it leads to.
    """
    store = _store(request)
    found = await run_in_threadpool(resolve_event, store, tenant, event_id)
    if not found:
        return _problem(404, "Unknown event", f"no event {event_id!r} in the ledger")
    if len(found) > 1:
        refs = [f"{e.source}#{e.event_id}" for e in found]
        return _problem(409, "Ambiguous event id",
                        f"{len(found)} sources used id {event_id!r}; ask for one of {refs}",
                        candidates=refs)
    try:
        bundle = await run_in_threadpool(Prover(store).bundle, tenant, found)
    except NotSealedError as exc:
        return _problem(409, "Not yet checkpointed", str(exc), position=found[0].position)
    except StoreDamagedError as exc:
        return _problem(500, "Store damaged", str(exc))
    return _json(bundle)


@router.get("/v1/checkpoints", response_model=list[CheckpointOut], tags=["proofs"])
async def list_checkpoints(
    tenant: TenantHeader,
    request: Request,
    after: Annotated[int, Query(ge=0, description="Only checkpoints after this sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The tenant's signed checkpoints, oldest first."""
    checkpoints = await run_in_threadpool(_store(request).checkpoints, tenant, after)
    return _json([c.as_dict() for c in checkpoints[:limit]])


@router.get("/v1/checkpoints/consistency", response_model=ConsistencyOut, responses=_PROBLEMS)
async def get_consistency(
    tenant: TenantHeader,
    request: Request,
    first: Annotated[int, Query(alias="from", ge=1, description="Tree size of the older one.")],
    second: Annotated[
        int | None, Query(alias="to", ge=1, description="Tree size of the newer (default: latest).")
    ] = None,
) -> Response:
    """Proof that the checkpoint of size `from` is a prefix of that of size `to`.

    Both sizes must be sizes of signed checkpoints (see GET /v1/checkpoints): whoever
    kept an older checkpoint can check that nothing it covered was changed since.
    """
    try:
        proof = await run_in_threadpool(Prover(_store(request)).consistency, tenant, first, second)
    except NotSealedError as exc:
        return _problem(404, "No checkpoint", str(exc))
    except LookupError as exc:
        return _problem(404, "No such checkpoint", str(exc))
    except StoreDamagedError as exc:
        return _problem(500, "Store damaged", str(exc))
    return _json(proof)
