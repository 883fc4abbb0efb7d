"""Routes for outsiders who hold the ledger to its word: signed notes, cosignatures, keys.

`GET /v1/checkpoints/latest` answers the tenant's latest checkpoint as a C2SP signed note
(text/plain) with the cosignatures of trusted witnesses; a witness posts its cosignature
back to `POST /v1/checkpoints/cosignatures`; `GET /v1/keys` lists every key that signed
checkpoints with its validity. The tenant is the bearer token's (capability `read_chains`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import examples
from api.auth import require
from api.problems import AUTHENTICATED, ProblemError, problems
from api.responses import OrjsonResponse
from ledger.application.transparency import CosignatureRefused, Transparency
from ledger.domain.access import Capability, Principal

router = APIRouter(tags=["proofs"], responses=problems(*AUTHENTICATED))

ProofReader = Annotated[Principal, Depends(require(Capability.READ_CHAINS))]
NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
NOTE_EXAMPLE = (
    "ledger.example.com/acme\n1000\nX2s3n5yq1Jw0Qm7yS0oS1b9D3o2mQm0Yx4k4gqkS1Hs=\n\n"
    "\u2014 ledger.example.com/acme 2o1xkS0u...\n"
    "\u2014 witness.example/w1 jWbPPwAAAABkGFDL...\n"
)
KEY_EXAMPLE = {
    "key_id": "ed25519-3c0f9a7d21b4e655", "algorithm": "Ed25519",
    "public_key": "GpzZBxQ8OExB6DDFvOEqqIF+xWSaqr8sMTiLNbLXRNY=",
    "valid_from": "2026-03-02T02:00:00.000000Z", "valid_until": None, "current": True,
    "note_verifier_key": "ledger.example.com/acme+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmq"
                         "q/LDE4izWy10TW",
}
#: A note with a few dozen cosignatures is a few KB; anything far larger is not one.
MAX_NOTE_BODY = 64 * 1024


class KeyOut(BaseModel):
    key_id: str = Field(description="The id checkpoints name their key by.")
    algorithm: str = Field(examples=["Ed25519"])
    public_key: str = Field(description="Base64 of the 32-byte Ed25519 public key.")
    valid_from: str = Field(description="When the ledger started signing with it (RFC 3339).")
    valid_until: str | None = Field(description="When the next key replaced it; null: current.")
    current: bool
    note_verifier_key: str | None = Field(
        description="The C2SP verifier key of this tenant's log with this key "
        "(`<origin>+<key id>+<key>`), for Go's sumdb/note and other note verifiers."
    )


class CosignaturesAccepted(BaseModel):
    accepted: list[str] = Field(description="Witnesses whose cosignatures were kept.")


def _transparency(request: Request) -> Transparency:
    service: Transparency = request.app.state.transparency
    return service


@router.get(
    "/v1/checkpoints/latest", response_class=PlainTextResponse,
    summary="The latest checkpoint as a C2SP signed note, with its cosignatures",
    responses={200: examples.ok(NOTE_EXAMPLE, "The signed note.", "text/plain"),
               **problems(404, s404="No checkpoint signed as a note yet.")},
)
async def get_latest_note(principal: ProofReader, request: Request) -> Response:
    """`<origin>\\n<size>\\n<base64 root>\\n\\n— <origin> <signature>\\n` and one line per
    witness cosignature (c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature)."""
    note = await run_in_threadpool(_transparency(request).latest_note, principal.tenant)
    if note is None:
        raise ProblemError(404, "No checkpoint", f"tenant {principal.tenant!r} has no "
                           "checkpoint signed as a note yet (configure a signing key)")
    return PlainTextResponse(note, media_type=NOTE_MEDIA_TYPE)


@router.post(
    "/v1/checkpoints/cosignatures", response_model=CosignaturesAccepted, status_code=201,
    summary="A witness hands back the checkpoint it cosigned",
    responses={201: examples.ok({"accepted": ["witness.example/w1"]}, "Cosignatures kept."),
               **problems(413, 422, s422="Not a checkpoint this ledger signed, or no valid "
                          "cosignature by a witness it trusts (LEDGER_WITNESS_KEYS).")},
)
async def post_cosignatures(principal: ProofReader, request: Request) -> Response:
    """The body is the signed note (text/plain) with the witness's cosignature lines."""
    body = await request.body()
    if len(body) > MAX_NOTE_BODY:
        raise ProblemError(413, "Note too large", f"a signed note is at most {MAX_NOTE_BODY} "
                           "bytes")
    try:
        text = body.decode("utf-8")
        kept = await run_in_threadpool(_transparency(request).add_cosignatures,
                                       principal.tenant, text)
    except UnicodeDecodeError as exc:
        raise ProblemError(422, "Not a signed note", "the body is not UTF-8") from exc
    except CosignatureRefused as exc:
        raise ProblemError(422, "Cosignature refused", str(exc)) from exc
    return OrjsonResponse({"accepted": kept}, status_code=201)


@router.get("/v1/keys", response_model=list[KeyOut],
            summary="The public keys that sign checkpoints, with their validity",
            responses={200: examples.ok([KEY_EXAMPLE])})
async def get_keys(principal: ProofReader, request: Request) -> Response:
    """Oldest first. A checkpoint verifies with the key it names; a key is valid from its
    first use until the next key's (rotation leaves old checkpoints verifiable)."""
    service = _transparency(request)

    def document() -> list[dict[str, object]]:
        latest = service.store.latest_checkpoint(principal.tenant)
        origin = latest.origin if latest else None
        return [dict(k) for k in service.keys_document(origin)]

    return OrjsonResponse(await run_in_threadpool(document))
