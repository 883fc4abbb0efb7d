"""Token administration over HTTP (role `admin`), and `GET /v1/whoami` for any token.

An admin manages the tokens of their own tenant only: creating one answers its secret
once (only its hash is stored), listing never shows secrets, and a token of another
tenant is a 404 as if it did not exist. A revocation takes effect at once in this
process (ledger/application/tokens.py says how the cache behaves across processes).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api import examples
from api.auth import authenticated, require
from api.problems import AUTHENTICATED, ProblemError, problems
from api.responses import OrjsonResponse
from ledger.application.tokens import Scope, TokenInfo, TokenService
from ledger.domain.access import GRANTS, Capability, Principal, Role, parse_token

Admin = Annotated[Principal, Depends(require(Capability.MANAGE_TOKENS))]

router = APIRouter(tags=["access"], responses=problems(*AUTHENTICATED))


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"role": "manager", "unit_id": "sales"}, {"role": "auditor"}]})

    role: Role = Field(description="publisher, auditor, hr, manager or admin.")
    unit_id: str | None = Field(default=None, min_length=1, max_length=200,
                                description="Managers only (and required for them): the "
                                "unit whose subtree they read; it must be defined in the "
                                "tenant's ledger.")
    sources: list[str] = Field(default=[], max_length=100, description="Publishers only: "
                               "the sources the token may publish for (empty: any). Give "
                               "each upstream system a token scoped to its sources, so no "
                               "other publisher can take its idempotency keys first.")
    type_prefixes: list[str] = Field(default=[], max_length=100, description="Publishers "
                                     "only: event-type prefixes the token may publish, e.g. "
                                     "`ledger.operation.` (empty: any).")


class TokenOut(BaseModel):
    token_id: str
    tenant: str
    role: Role
    unit_id: str | None
    issued_at: str
    issued_by: str = Field(description="`cli:<user>` or `token:<id of the admin's token>`.")
    sources: list[str] = Field(default=[], description="A publisher's sources (empty: any).")
    type_prefixes: list[str] = Field(default=[], description="A publisher's event-type "
                                     "prefixes (empty: any).")
    active: bool
    revoked_at: str | None
    revoked_by: str | None


class TokenIssuedOut(BaseModel):
    token: str = Field(description="The token itself: shown this once, never again.")
    token_id: str
    tenant: str
    role: Role
    unit_id: str | None
    issued_at: str
    issued_by: str
    sources: list[str] = []
    type_prefixes: list[str] = []


class TokenList(BaseModel):
    items: list[TokenOut] = Field(description="Oldest first, revoked ones included.")


class WhoAmI(BaseModel):
    token_id: str
    tenant: str = Field(description="The only tenant this token reads or writes.")
    role: Role
    unit_id: str | None = Field(description="A manager's unit (they read its subtree).")
    capabilities: list[Capability]


def _tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


def token_out(info: TokenInfo) -> dict[str, Any]:
    issued, revoked = info.issued, info.revoked
    return {"token_id": issued.token_id, "tenant": issued.tenant, "role": issued.role,
            "unit_id": issued.unit_id, "issued_at": issued.timestamp.isoformat(),
            "issued_by": issued.issued_by, "sources": list(issued.sources),
            "type_prefixes": list(issued.type_prefixes), "active": revoked is None,
            "revoked_at": revoked.timestamp.isoformat() if revoked else None,
            "revoked_by": revoked.revoked_by if revoked else None}


def _own_token(tokens: TokenService, admin: Principal, token_id: str) -> TokenInfo:
    info = tokens.get(token_id) if token_id.isalnum() else None
    if info is None or info.issued.tenant != admin.tenant:
        raise ProblemError(404, "Unknown token", f"no token {token_id!r} in this tenant")
    return info


@router.post(
    "/v1/tokens", status_code=201, response_model=TokenIssuedOut, summary="Issue a token",
    responses={201: examples.ok(examples.TOKEN_ISSUED, "The token, shown this once."),
               **problems(400, 422, s422="Unknown role, a manager without a unit or "
                          "with a unit the tenant has not defined, a unit for another role, "
                          "or a scope for another role than publisher.")},
)
def create_token(body: TokenRequest, admin: Admin, request: Request) -> Response:
    """Issue a token of the admin's tenant. Its secret is in this answer only."""
    tokens = _tokens(request)
    try:
        token = tokens.create(admin.tenant, body.role, body.unit_id, f"token:{admin.token_id}",
                              scope=Scope(tuple(body.sources), tuple(body.type_prefixes)),
                              defined_unit_only=True)
    except ValueError as exc:
        raise ProblemError(422, "Invalid token request", str(exc)) from exc
    parsed = parse_token(token)
    assert parsed is not None
    info = tokens.get(parsed[0])
    assert info is not None
    out = token_out(info)
    issued = {key: out[key] for key in ("token_id", "tenant", "role", "unit_id", "issued_at",
                                        "issued_by", "sources", "type_prefixes")}
    return OrjsonResponse({"token": token, **issued}, status_code=201)


@router.get("/v1/tokens", response_model=TokenList, summary="The tenant's tokens",
            responses={200: examples.ok(examples.TOKENS)})
def list_tokens(admin: Admin, request: Request) -> Response:
    """Every token of the admin's tenant, with who issued and who revoked it; never
    their secrets."""
    return OrjsonResponse({"items": [token_out(i) for i in _tokens(request).list(admin.tenant)]})


@router.delete(
    "/v1/tokens/{token_id}", status_code=204, summary="Revoke a token",
    responses={204: {"description": "Revoked: refused from now on."},
               **problems(404, 409, 422, s404="No such token in this tenant.",
                          s409="The token was already revoked.")},
)
def revoke_token(
    token_id: Annotated[str, Path(description="The token's id (`GET /v1/tokens`).")],
    admin: Admin, request: Request,
) -> Response:
    """Revoke a token of the admin's tenant; it is refused from the next request on."""
    tokens = _tokens(request)
    info = _own_token(tokens, admin, token_id)
    if info.revoked is not None or not tokens.revoke(token_id, f"token:{admin.token_id}"):
        raise ProblemError(409, "Already revoked", f"token {token_id} is already revoked")
    return Response(status_code=204)


@router.get(
    "/v1/whoami", response_model=WhoAmI, summary="The caller's token: tenant, role, unit",
    responses={200: examples.ok(examples.WHOAMI)},
)
def whoami(principal: Annotated[Principal, Depends(authenticated)]) -> Response:
    """What the presented token is: its tenant, role, a manager's unit and what it may
    do. Any valid token may ask (the console signs in with it)."""
    return OrjsonResponse({"token_id": principal.token_id, "tenant": principal.tenant,
                  "role": principal.role.value, "unit_id": principal.unit_id,
                  "capabilities": sorted(c.value for c in GRANTS[principal.role])})
