"""Bearer-token authentication and role checks for every route but health and readiness.

Routes declare what they need: `principal: Annotated[Principal, Depends(require(READ_CHAINS))]`.
The tenant of every read and write is the token's: nothing ever crosses tenants, and no
request names a tenant of its own.

Order of the checks, and so of the answers: no token, or one that is unknown, revoked or
malformed -> 401 (with `WWW-Authenticate: Bearer`); a valid token whose role lacks the
capability -> 403; only then are parameters validated (422) and the resource looked up
(404). So a caller without the right learns nothing from the status codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.application.tokens import TokenService
from ledger.domain.access import Capability, Principal


class AuthProblem(HTTPException):
    """401/403 as RFC 9457 problem details (api/problems.py renders them)."""


#: Shows in the OpenAPI document as the `bearer` security scheme of every guarded route.
bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="lt_<token id>_<secret>",
    description="An API token from `ledger token create` or `POST /v1/tokens`: "
    "`Authorization: Bearer lt_…`. Its tenant and role decide what the caller sees.",
    auto_error=False,
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise AuthProblem(
            status.HTTP_401_UNAUTHORIZED, "an API token is required: Authorization: Bearer …",
            headers={"WWW-Authenticate": "Bearer"},
        )
    tokens: TokenService = request.app.state.tokens
    principal = tokens.authenticate(credentials.credentials.strip())
    if principal is None:
        raise AuthProblem(
            status.HTTP_401_UNAUTHORIZED, "the API token is unknown, revoked or malformed",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.principal = principal
    return principal


def authenticated(request: Request, credentials: Credentials) -> Principal:
    """A dependency: the caller's principal, whatever their role."""
    return _authenticate(request, credentials)


def _requirement(capability: Capability) -> Callable[[Request, Credentials], Principal]:
    def dependency(request: Request, credentials: Credentials) -> Principal:
        principal = _authenticate(request, credentials)
        if not principal.may(capability):
            raise AuthProblem(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value!r} may not {capability.value.replace('_', ' ')}",
            )
        return principal

    dependency.__name__ = f"require_{capability.value}"
    return dependency


#: One dependency per capability, so FastAPI runs (and caches) each once per request.
_REQUIREMENTS = {capability: _requirement(capability) for capability in Capability}


def require(capability: Capability) -> Callable[[Request, Credentials], Principal]:
    """A dependency: the caller's principal, if their token grants `capability`."""
    return _REQUIREMENTS[capability]
