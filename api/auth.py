"""Bearer-token authentication and role checks for every route but health and readiness.

Routes declare what they need: `principal: Annotated[Principal, Depends(require(READ_CHAINS))]`.
The tenant of every read and write is the token's: nothing ever crosses tenants.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request, status

from ledger.domain.access import Capability, Principal
from ledger.tokens import TokenService


class AuthProblem(HTTPException):
    """401/403 as RFC 9457 problem details (the app's handler renders them)."""


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require(capability: Capability) -> Callable[[Request], Principal]:
    """A dependency: the caller's principal, if their token grants `capability`."""

    def dependency(request: Request) -> Principal:
        tokens: TokenService = request.app.state.tokens
        presented = bearer_token(request)
        if presented is None:
            raise AuthProblem(
                status.HTTP_401_UNAUTHORIZED, "an API token is required: Authorization: Bearer …",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = tokens.authenticate(presented)
        if principal is None:
            raise AuthProblem(
                status.HTTP_401_UNAUTHORIZED, "the API token is unknown, revoked or malformed",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if not principal.may(capability):
            raise AuthProblem(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value!r} may not {capability.value.replace('_', ' ')}",
            )
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{capability.value}"
    return dependency
