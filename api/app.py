"""The HTTP entry point: translates requests into ledger calls, nothing more."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import queries as read_api
from api.console import mount_console
from api.evidence import router as evidence_router
from api.models import IngestResponse
from api.proofs import router as proofs_router
from ledger.application import Ledger, summarize

_ENVELOPE_EXAMPLE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "so-1001-submitted",
    "source": "erp/orders",
    "type": "ledger.operation.submitted",
    "time": "2026-03-02T10:00:00+08:00",
    "tenant": "acme",
    "subject": "SO-1001",
    "data": {"actor_id": "e-li", "operation": "sales_order", "payload": {"return_days": 7}},
}


class OrjsonResponse(Response):
    """JSON rendered by orjson: ledger payloads are large and orjson is several times faster."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _problem(status: int, title: str, detail: str) -> OrjsonResponse:
    return OrjsonResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def create_app(
    ledger: Ledger, *, read_side: read_api.ReadSide | None = None, run_projections: bool = False
) -> FastAPI:
    """`run_projections`: keep the read models current in a background thread (a live
    server); without it they are built on first query and tests catch them up directly."""
    app = FastAPI(
        title="Accountability ledger",
        version="0.1.0",
        default_response_class=OrjsonResponse,
        description="Event-sourced accountability ledger. See CONTRACT.md.",
        lifespan=read_api.lifespan,
    )
    app.state.ledger = ledger
    app.state.read_side = read_side or read_api.ReadSide(ledger, run_projections=run_projections)
    app.include_router(read_api.router)
    app.include_router(evidence_router)
    app.include_router(proofs_router)
    mount_console(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz(ledger_: Annotated[Ledger, Depends(get_ledger)]) -> dict[str, str]:
        ledger_.store.head("readiness-probe")
        return {"status": "ready"}

    @app.post(
        "/v1/events",
        tags=["ingest"],
        response_model=IngestResponse,
        responses={
            422: {"model": IngestResponse, "description": "At least one event was rejected; "
                  "the others were recorded as their results say."},
            400: {"description": "The body is not JSON (application/problem+json)."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [{"type": "object"}, {"type": "array",
                                   "items": {"type": "object"}}]},
                        "example": _ENVELOPE_EXAMPLE,
                    },
                    "application/cloudevents+json": {"schema": {"type": "object"}},
                    "application/cloudevents-batch+json": {
                        "schema": {"type": "array", "items": {"type": "object"}}
                    },
                },
            }
        },
    )
    async def post_events(request: Request) -> OrjsonResponse:
        """One CloudEvents envelope or an array of them; a result per event.

        200 when every event was recorded or was a duplicate; 422 when any was rejected
        (the rest are recorded all the same: one bad event never blocks the others).
        """
        body = await request.body()
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _problem(400, "Body is not JSON", f"invalid JSON: {exc}")
        items = parsed if isinstance(parsed, list) else [parsed]
        ledger_: Ledger = request.app.state.ledger
        outcomes = await run_in_threadpool(ledger_.record, items)
        counts = summarize(outcomes)
        status = 422 if counts["rejected"] else 200
        return OrjsonResponse(
            {"results": [o.as_dict() for o in outcomes], "counts": counts}, status_code=status
        )

    return app
