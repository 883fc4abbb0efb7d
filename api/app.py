"""The HTTP entry point: translates requests into ledger calls, nothing more.

Every route but `/healthz`, `/readyz`, the console's static files (`/console/`) and the
API's own documentation (`/docs`, `/redoc`, `/openapi.json`) needs a bearer token
(api/auth.py); the token's tenant is the only one a request ever reads or writes. Every
error is an RFC 9457 problem document (api/problems.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from api import examples
from api import queries as read_api
from api.console import mount_console
from api.evidence import router as evidence_router
from api.freshness import DEFAULT_WAIT_S, read_your_writes
from api.ingest import router as ingest_router
from api.limits import ApiLimits, BodyLimit
from api.problems import DEFAULT_RETRY_AFTER_S, as_problem_media_type, install, problems
from api.proofs import router as proofs_router
from api.quarantine import router as quarantine_router
from api.read_side import ReadSide, lifespan
from api.reports import router as reports_router
from api.responses import OrjsonResponse
from api.tokens import router as tokens_router
from api.transparency import router as transparency_router
from api.work_queries import router as work_router
from ledger.application.recording import Ledger
from ledger.application.tokens import AuditTrail, TokenService
from ledger.application.transparency import Transparency

DESCRIPTION = """Event-sourced accountability ledger (rules: docs/domain-rules.md).

Send `Authorization: Bearer <token>` (from `ledger token create` or `POST /v1/tokens`)
with every request but the health probes. The token's tenant is the only one you read or
write; its role decides which routes you may call (403 otherwise), and a manager reads only
what concerns the employees of their unit's subtree (404 for anything else). Errors are
RFC 9457 `application/problem+json` documents."""


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _install_openapi(app: FastAPI) -> None:
    """The generated document, with error answers filed under application/problem+json."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return as_problem_media_type(generate())  # in place, once per cached document

    app.openapi = openapi  # type: ignore[method-assign]


def _ops_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers",
             responses={200: examples.ok({"status": "ok"})})
    def healthz() -> dict[str, str]:
        """Answers as long as the process serves HTTP; needs no token."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: the store answers",
             responses={200: examples.ok({"status": "ready"}), **problems(500)})
    def readyz(ledger_: Annotated[Ledger, Depends(get_ledger)]) -> dict[str, str]:
        """Answers once the ledger's store can be read; needs no token."""
        ledger_.store.head("readiness-probe")
        return {"status": "ready"}


def create_app(
    ledger: Ledger, *, read_side: ReadSide | None = None, run_projections: bool = False,
    transparency: Transparency | None = None, limits: ApiLimits | None = None,
    retry_after_s: int = DEFAULT_RETRY_AFTER_S, min_position_wait_s: float = DEFAULT_WAIT_S,
) -> FastAPI:
    """`run_projections`: keep the read models current in a background thread (a live
    server); without it they are built on first query and tests catch them up directly.
    `limits`: body size, events per request, token cache (default: the settings').
    `retry_after_s`: the `Retry-After` of a 503 when the store could not take a request."""
    limits = limits or ApiLimits()
    app = FastAPI(
        title="Accountability ledger",
        version="0.1.0",
        default_response_class=OrjsonResponse,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(read_your_writes)],
    )
    app.state.ledger = ledger
    app.state.read_side = read_side or ReadSide(ledger, run_projections=run_projections)
    app.state.limits = limits
    app.state.min_position_wait_s = min_position_wait_s
    app.state.tokens = TokenService(ledger.store, ledger.clock,
                                    cache_size=limits.token_cache_size)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.state.audit = AuditTrail(ledger.store, ledger.clock)
    app.state.transparency = transparency or Transparency(ledger.store, ledger.clock)
    install(app, retry_after_s)
    _ops_routes(app)
    app.include_router(ingest_router)
    app.include_router(read_api.router)
    app.include_router(evidence_router)
    app.include_router(work_router)
    app.include_router(reports_router)
    app.include_router(transparency_router)
    app.include_router(proofs_router)
    app.include_router(tokens_router)
    app.include_router(quarantine_router)
    mount_console(app)
    _install_openapi(app)
    return app
