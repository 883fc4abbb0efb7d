"""Proof routes (tamper evidence): an event's inclusion proof, checkpoints, consistency.

Only translation here: the proofs are built by ledger/application/evidence.py from the store. The
answers are proof bundles that `ledger verify-evidence` (or any RFC 9162 verifier plus
Ed25519) checks offline with the ledger's public key.

The tenant is the bearer token's (capability `read_chains`). A manager gets the proof of
an event only if it concerns their units (api/caller.py); anything else is a 404, as for
an event that does not exist. Checkpoints carry no business data: every holder of
`read_chains` sees the tenant's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import examples
from api.auth import require
from api.caller import caller_for
from api.problems import AUTHENTICATED, ProblemError, problems
from api.responses import OrjsonResponse
from ledger.adapters.store import EventStore
from ledger.application.evidence import NotSealedError, Prover, StoreDamagedError, resolve_event
from ledger.domain.access import Capability, Principal
from ledger.domain.events import EntryRecorded

router = APIRouter(tags=["proofs"], responses=problems(*AUTHENTICATED, 422))

ProofReader = Annotated[Principal, Depends(require(Capability.READ_CHAINS))]

#: The stores keep sequence numbers as signed 64-bit integers; a larger one is a 422, not a
#: query the database refuses (a 500).
MAX_SEQUENCE = 2**63 - 1


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
    envelope: dict[str, Any] = Field(
        description="The event as received, as a JSON value (its RFC 8785 form is hashed).")
    digest: str
    prev_hash: str
    entry_hash: str
    leaf_hash: str
    inclusion_proof: list[str] = Field(description="RFC 9162 audit path, hex, leaf first.")
    received: str | None = Field(
        default=None, description="The event's JSON text exactly as it arrived (whitespace, "
        "key order, escapes), when the ledger has it: it reads as `envelope`. Absent for "
        "binary-mode Kafka events and entries recorded before texts were kept.")


class ProofBundleOut(BaseModel):
    format: str = Field(examples=["ledger-proofs/v1"])
    tenant: str
    algorithms: dict[str, str]
    checkpoint: CheckpointOut
    signed_note: str | None = Field(
        default=None, description="The same checkpoint as a C2SP signed note with witness "
        "cosignatures (null for checkpoints signed before notes were)."
    )
    entries: list[ProvenEntryOut]


class ConsistencyOut(BaseModel):
    format: str = Field(examples=["ledger-consistency/v1"])
    tenant: str
    from_: CheckpointOut = Field(alias="from")
    to: CheckpointOut
    consistency_proof: list[str] = Field(description="RFC 9162 consistency proof, hex.")


def _store(request: Request) -> EventStore:
    store: EventStore = request.app.state.ledger.store
    return store


_CONFLICTS = problems(409, 500, s409="The id names events of several sources (ask for "
                      "source#id), or the entry is not covered by a signed checkpoint yet.",
                      s500="The store's tree data is damaged: run `ledger verify`.")


def _visible(request: Request, principal: Principal, found: list[EntryRecorded]) -> list[
        EntryRecorded]:
    """The entries the principal may see: all for tenant-wide roles, a manager's own."""
    if not principal.scoped_to_unit:
        return found
    caller = caller_for(request, principal)
    return [entry for entry in found if caller.sees_event(entry.envelope)]


@router.get(
    "/v1/proofs/{event_id:path}", response_model=ProofBundleOut,
    summary="The proof that an event is in the ledger as recorded",
    responses={200: examples.ok(examples.PROOF), **_CONFLICTS,
               **problems(404, s404="No such event in the token's tenant, or one outside a "
                          "manager's units.")},
)
async def get_proof(
    event_id: Annotated[str, Path(description="The event's `id`, or `source#id` (the '#' "
                                  "URL-encoded as %23) where sources share ids.")],
    principal: ProofReader, request: Request,
) -> Response:
    """The proof that this event is in the tenant's ledger as recorded.

    `event_id` is the event's `id`, or `source#id` where two sources used the same id
    (URL-encode the '#' as %23). The answer is a proof bundle of one entry: the entry,
    its RFC 9162 inclusion proof and the latest signed checkpoint it leads to.
    """
    store = _store(request)
    tenant = principal.tenant
    found = await run_in_threadpool(resolve_event, store, tenant, event_id)
    found = await run_in_threadpool(_visible, request, principal, found)
    if not found:
        raise ProblemError(404, "Unknown event", f"no event {event_id!r} in the ledger")
    if len(found) > 1:
        refs = [f"{e.source}#{e.event_id}" for e in found]
        raise ProblemError(409, "Ambiguous event id",
                           f"{len(found)} sources used id {event_id!r}; ask for one of {refs}",
                           candidates=refs)
    try:
        bundle = await run_in_threadpool(Prover(store).bundle, tenant, found)
    except NotSealedError as exc:
        raise ProblemError(409, "Not yet checkpointed", str(exc),
                           position=found[0].position) from exc
    except StoreDamagedError as exc:
        raise ProblemError(500, "Store damaged", str(exc)) from exc
    return OrjsonResponse(bundle)


@router.get("/v1/checkpoints", response_model=list[CheckpointOut],
            summary="The tenant's signed checkpoints",
            responses={200: examples.ok([examples.CHECKPOINT])})
async def list_checkpoints(
    principal: ProofReader,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_SEQUENCE,
                                description="Only checkpoints after this sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
) -> Response:
    """The tenant's signed checkpoints, oldest first."""
    checkpoints = await run_in_threadpool(_store(request).checkpoints, principal.tenant, after)
    return OrjsonResponse([c.as_dict() for c in checkpoints[:limit]])


@router.get(
    "/v1/checkpoints/consistency", response_model=ConsistencyOut,
    summary="Proof that an older checkpoint is a prefix of a newer one",
    responses={200: examples.ok(examples.CONSISTENCY), **problems(500),
               **problems(404, s404="No signed checkpoint of that tree size.")},
)
async def get_consistency(
    principal: ProofReader,
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
    if second is not None and first > second:
        raise ProblemError(422, "Invalid request", f"`from` ({first}) is larger than `to` "
                           f"({second}): a consistency proof goes from an older, smaller "
                           "tree to a newer one")
    prover = Prover(_store(request))
    try:
        proof = await run_in_threadpool(prover.consistency, principal.tenant, first, second)
    except NotSealedError as exc:
        raise ProblemError(404, "No checkpoint", str(exc)) from exc
    except LookupError as exc:
        raise ProblemError(404, "No such checkpoint", str(exc)) from exc
    except StoreDamagedError as exc:
        raise ProblemError(500, "Store damaged", str(exc)) from exc
    return OrjsonResponse(proof)
