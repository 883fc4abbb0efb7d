"""The read API (docs/domain-rules.md, Queries): chains, violations, liabilities, unit
reports.

Routes translate HTTP into `projections.reads.ReadModels` calls (the unit report into
`projections.documents.unit_report`, the document `ledger export units` writes) and
nothing more; a unit report downloaded as a file is recorded in the tenant's audit trail,
as an export is. Every read is scoped to the tenant of the caller's bearer token and,
for a manager, to their unit's subtree (api/caller.py). Errors are RFC 9457 problem
documents (api/problems.py): 401/403 for the token, 422 for a malformed query parameter
or cursor, 404 for a case that is unknown or outside the caller's scope.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api import examples
from api.caller import ChainReader, LiabilityReader, ReportReader, ViolationReader
from api.downloads import FormatParam, Read, answer, answer_recorded, download_docs, filename
from api.problems import AUTHENTICATED, ProblemError, problems
from api.query_models import (
    Basis,
    ChainOut,
    Kind,
    LiabilityPage,
    UnitReport,
    ViolationPage,
    ViolationStatus,
)
from api.read_side import ReadSide, lifespan
from api.responses import OrjsonResponse
from ledger.adapters.csv_export import units_csv
from ledger.adapters.pdf_export import units_pdf
from ledger.adapters.xlsx_export import units_xlsx
from projections.documents import unit_report
from projections.reads import Bound, Cursor, Page, bound_from_text

__all__ = ["ReadSide", "lifespan", "router"]  # ReadSide: imported from here by ledger serve

From = Annotated[str | None, Query(alias="from", description="Inclusive; RFC 3339 time "
                                   "(an instant) or date (a business date).")]
To = Annotated[str | None, Query(description="Inclusive; RFC 3339 time or date.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
CursorParam = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


def parse_bound(name: str, value: str | None) -> Bound | None:
    if value is None or value == "":
        return None
    try:
        return bound_from_text(value)
    except ValueError as exc:
        raise ProblemError(422, "Invalid time", f"`{name}`: {exc}") from None


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
        raise ProblemError(422, "Invalid cursor", "pass `next_cursor` of a previous page as is")
    return (raw[0], raw[1])


def _page(page: Page) -> Response:
    return OrjsonResponse({"items": page.items, "next_cursor": encode_cursor(page.after)})


# --- routes -------------------------------------------------------------------------------

router = APIRouter(tags=["queries"], responses=problems(*AUTHENTICATED, 422))


@router.get(
    "/v1/cases/{case_id}/chain", response_model=ChainOut,
    summary="A case's responsibility chain",
    responses={200: examples.ok(examples.CHAIN),
               **problems(404, s404="No such case in the token's tenant, or none of it "
                          "concerns a manager's units.")},
)
def get_chain(
    case_id: Annotated[str, Path(description="The case's id (the events' `subject`).")],
    caller: ChainReader,
) -> Response:
    """The case's responsibility chain: links in business-time order, the responsibility
    source (the earliest failed link) and its liabilities, corrected ones marked."""
    document = caller.reads.chain(caller.tenant, case_id)
    if document is None or not caller.sees_chain(document):
        raise ProblemError(404, "Unknown case", f"no case {case_id!r} for this tenant")
    return OrjsonResponse(caller.chain_view(document))


@router.get("/v1/violations", response_model=ViolationPage, summary="Violations, filtered",
            responses={200: examples.ok(examples.VIOLATIONS)})
def get_violations(
    caller: ViolationReader,
    employee_id: Annotated[str | None, Query(description="The violator.")] = None,
    supervisor_id: Annotated[str | None, Query(
        description="The current holder of the review or the supervisor flagged first.")] = None,
    unit_id: Annotated[str | None, Query(description="The violator's unit.")] = None,
    status: ViolationStatus | None = None,
    from_: From = None, to: To = None, limit: Limit = 100, cursor: CursorParam = None,
) -> Response:
    """Violations in business-time order, with their review status (a manager: those of
    their units' employees)."""
    return _page(caller.reads.violations(
        caller.tenant, employee_id=employee_id, supervisor_id=supervisor_id, unit_id=unit_id,
        status=status, start=parse_bound("from", from_), end=parse_bound("to", to), limit=limit,
        after=decode_cursor(cursor), employees=caller.employees))


@router.get("/v1/liabilities", response_model=LiabilityPage, summary="Liabilities, filtered",
            responses={200: examples.ok(examples.LIABILITIES)})
def get_liabilities(
    caller: LiabilityReader,
    employee_id: Annotated[str | None, Query(description="The liable employee.")] = None,
    kind: Kind | None = None, basis: Basis | None = None,
    unit_id: Annotated[str | None, Query(description="The liable employee's unit.")] = None,
    from_: From = None, to: To = None, limit: Limit = 100, cursor: CursorParam = None,
) -> Response:
    """Liabilities in business-time order; corrected ones included and marked (a manager:
    those of their units' employees)."""
    return _page(caller.reads.liabilities(
        caller.tenant, employee_id=employee_id, kind=kind, basis=basis, unit_id=unit_id,
        start=parse_bound("from", from_), end=parse_bound("to", to), limit=limit,
        after=decode_cursor(cursor), employees=caller.employees))


UNIT_EXPORTERS = {"csv": units_csv, "xlsx": units_xlsx, "pdf": units_pdf}
UNITS_ROUTE = "/v1/reports/units"


@router.get(
    UNITS_ROUTE, response_model=UnitReport, summary="Per-unit report and ranking",
    responses={200: download_docs(examples.UNIT_REPORT, examples.UNIT_REPORT_CSV,
                                  "The unit report"), **problems(503)},
)
def get_unit_report(
    request: Request, caller: ReportReader, from_: From = None, to: To = None,
    format: FormatParam = "json",
) -> Response:
    """Per unit over the business days from..to: steps due, on time, overdue,
    violations, liabilities, completion rate and ranking (a manager: their subtree's
    units, ranked among themselves). `format` csv/xlsx/pdf downloads the same report,
    and the download is recorded in the tenant's evidence-read audit trail."""
    document = unit_report(caller.reads, caller.tenant, parse_bound("from", from_),
                           parse_bound("to", to), units=caller.units)
    name = filename("unit-report", caller.tenant, document["from"], document["to"], fmt=format)
    if format == "json":  # a query (the console asks it per chart bar), not a download
        return answer(document, format, UNIT_EXPORTERS, name)
    read = Read(caller.principal, UNITS_ROUTE, "", from_, to)
    return answer_recorded(request, read, document, format, UNIT_EXPORTERS, name)
