"""The read API (CONTRACT section 6): chains, violations, liabilities, unit reports.

Routes translate HTTP into `projections.reads.ReadModels` calls and nothing more. Every
read is scoped to the tenant named by the `X-Ledger-Tenant` header (required; access
control proper is its own issue). Errors are RFC 9457 problem documents: 400 for a
missing or malformed tenant, query parameter or cursor, 404 for an unknown case.

The views are built on first use. `ReadSide(run_projections=True)` also keeps them
current in a background thread started by the app's lifespan (optionally running the
responsibility engine first in each round); a query then waits briefly
(`freshness_s`) for the views to reflect the ledger as it was when the query arrived.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.models import Problem
from api.query_models import (
    Basis,
    ChainOut,
    Kind,
    LiabilityPage,
    UnitReport,
    ViolationPage,
    ViolationStatus,
)
from ledger.application import Ledger
from ledger.config import Settings
from projections.reads import Bound, Cursor, Page, ReadModels
from projections.runner import Projections, ProjectionWorker

TENANT = re.compile(r"^[a-z0-9-]{1,63}$")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Missing or malformed X-Ledger-Tenant, query "
          "parameter or cursor (application/problem+json)."},
}


class QueryProblem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _json(content: Any, status: int = 200, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=media_type)


def _problem(status: int, title: str, detail: str) -> Response:
    return _json({"type": "about:blank", "title": title, "status": status, "detail": detail},
                 status, "application/problem+json")


class ProblemRoute(APIRoute):
    """Answers bad input on these routes with problem documents (400), not FastAPI's 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except QueryProblem as problem:
                return _problem(problem.status, problem.title, problem.detail)
            except RequestValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                    for e in exc.errors())
                return _problem(400, "Invalid request", detail)

        return route


class ReadSide:
    """The read models behind the routes (and, if asked, the worker keeping them current)."""

    def __init__(
        self, ledger: Ledger, *, projections: Projections | None = None,
        settings: Settings | None = None, run_projections: bool = False,
        upstream: Callable[[], int] | None = None, freshness_s: float = 2.0,
        idle_s: float = 0.5,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self._projections = projections
        self.run_projections = run_projections
        self.upstream = upstream
        self.freshness_s = freshness_s
        self.idle_s = idle_s
        self.worker: ProjectionWorker | None = None
        self._lock = threading.Lock()

    @property
    def projections(self) -> Projections:
        with self._lock:
            if self._projections is None:
                settings = self.settings or Settings()
                self._projections = Projections(
                    self.ledger.store, lateness=settings.allowed_lateness,
                    store_name=None if self.settings is None else settings.store_name)
            return self._projections

    def reads(self) -> ReadModels:
        if self.worker is not None:
            self.worker.wait_current(self.freshness_s)
        return ReadModels(self.projections)

    def start(self) -> None:
        if self.run_projections and self.worker is None:
            self.worker = ProjectionWorker(self.projections, idle_s=self.idle_s,
                                           upstream=self.upstream).start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts the projection worker (when the read side was asked to run one)."""
    read_side: ReadSide | None = getattr(app.state, "read_side", None)
    if read_side is not None:
        await run_in_threadpool(read_side.start)
    try:
        yield
    finally:
        if read_side is not None:
            await run_in_threadpool(read_side.stop)


# --- dependencies -----------------------------------------------------------------------

def tenant_of(
    x_ledger_tenant: Annotated[str | None, Header(
        description="The tenant whose data to read, `[a-z0-9-]{1,63}`.")] = None,
) -> str:
    if x_ledger_tenant is None:
        raise QueryProblem(400, "Tenant required", "send the X-Ledger-Tenant header")
    if not TENANT.match(x_ledger_tenant):
        raise QueryProblem(400, "Malformed tenant",
                           "X-Ledger-Tenant must match [a-z0-9-]{1,63}")
    return x_ledger_tenant


def reads_of(request: Request) -> ReadModels:
    read_side: ReadSide = request.app.state.read_side
    return read_side.reads()


Tenant = Annotated[str, Depends(tenant_of)]
Reads = Annotated[ReadModels, Depends(reads_of)]
From = Annotated[str | None, Query(alias="from", description="Inclusive; RFC 3339 time "
                                   "(an instant) or date (a business date).")]
To = Annotated[str | None, Query(description="Inclusive; RFC 3339 time or date.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
CursorParam = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


def _bound(name: str, value: str | None) -> Bound | None:
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryProblem(400, "Invalid time", f"`{name}`: not an RFC 3339 time or date: "
                           f"{value!r}") from None
    if moment.tzinfo is None:
        raise QueryProblem(400, "Invalid time", f"`{name}`: a time needs an offset: {value!r}")
    return moment


def _day(name: str, value: str | None) -> date | None:
    bound = _bound(name, value)
    return bound.date() if isinstance(bound, datetime) else bound


def encode_cursor(after: Cursor | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(orjson.dumps(list(after))).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raw = None
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(p, str) for p in raw)):
        raise QueryProblem(400, "Invalid cursor", "pass `next_cursor` of a previous page as is")
    return (raw[0], raw[1])


def _page(page: Page) -> Response:
    return _json({"items": page.items, "next_cursor": encode_cursor(page.after)})


# --- routes -------------------------------------------------------------------------------

router = APIRouter(route_class=ProblemRoute, tags=["queries"], responses=PROBLEMS)


@router.get("/v1/cases/{case_id}/chain", response_model=ChainOut,
            responses={404: {"model": Problem, "description": "No such case for this tenant."}})
def get_chain(case_id: str, tenant: Tenant, reads: Reads) -> Response:
    """The case's responsibility chain: links in business-time order, the responsibility
    source (the earliest failed link) and its liabilities, corrected ones marked."""
    document = reads.chain(tenant, case_id)
    if document is None:
        raise QueryProblem(404, "Unknown case", f"no case {case_id!r} for this tenant")
    return _json(document)


@router.get("/v1/violations", response_model=ViolationPage)
def get_violations(
    tenant: Tenant, reads: Reads,
    employee_id: str | None = None,
    supervisor_id: Annotated[str | None, Query(
        description="The current holder of the review or the supervisor flagged first.")] = None,
    unit_id: Annotated[str | None, Query(description="The violator's unit.")] = None,
    status: ViolationStatus | None = None,
    from_: From = None, to: To = None, limit: Limit = 100, cursor: CursorParam = None,
) -> Response:
    """Violations in business-time order, with their review status."""
    return _page(reads.violations(
        tenant, employee_id=employee_id, supervisor_id=supervisor_id, unit_id=unit_id,
        status=status, start=_bound("from", from_), end=_bound("to", to), limit=limit,
        after=decode_cursor(cursor)))


@router.get("/v1/liabilities", response_model=LiabilityPage)
def get_liabilities(
    tenant: Tenant, reads: Reads,
    employee_id: str | None = None, kind: Kind | None = None, basis: Basis | None = None,
    unit_id: Annotated[str | None, Query(description="The liable employee's unit.")] = None,
    from_: From = None, to: To = None, limit: Limit = 100, cursor: CursorParam = None,
) -> Response:
    """Liabilities in business-time order; corrected ones included and marked."""
    return _page(reads.liabilities(
        tenant, employee_id=employee_id, kind=kind, basis=basis, unit_id=unit_id,
        start=_bound("from", from_), end=_bound("to", to), limit=limit,
        after=decode_cursor(cursor)))


@router.get("/v1/reports/units", response_model=UnitReport)
def get_unit_report(tenant: Tenant, reads: Reads, from_: From = None, to: To = None) -> Response:
    """Per unit over the business days from..to: steps due, on time, overdue,
    violations, liabilities, completion rate and ranking."""
    start, end = _day("from", from_), _day("to", to)
    units = reads.unit_report(tenant, start, end)
    return _json({"from": start.isoformat() if start else None,
                  "to": end.isoformat() if end else None, "units": units})
