"""HR evidence: `GET /v1/employees/{employee_id}/evidence?from=&to=&format=`, and its audit.

Every liability and every positive record of the employee over the period, the ledger
events behind them and the proofs that those events are in the ledger as recorded: the
document `ledger export evidence` writes too (projections/documents.py), rendered as JSON,
CSV, XLSX or PDF (ledger/adapters/rendering.py).

Auditors get audited: every evidence answer, in any format, is recorded first (who: the
token's id and role; what: the employee, the format, the period asked for; when: the
service's clock) in the tenant's audit trail, and `GET /v1/audit/evidence-reads` lists
it. The record is written before the answer leaves: if it cannot be written, the
evidence is not served. An employee the tenant has no record of, or one outside a
manager's units, is a 404 and is not recorded (nothing was read).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import examples
from api.auth import require
from api.caller import Caller, EvidenceReader
from api.downloads import (
    Exporter,
    FormatParam,
    Read,
    answer_recorded,
    audit_trail,
    download_docs,
    filename,
)
from api.problems import AUTHENTICATED, ProblemError, problems
from api.queries import From, To, parse_bound
from api.reports import AcceptLanguage, LangParam
from api.responses import OrjsonResponse
from ledger.adapters.csv_export import evidence_csv
from ledger.adapters.labels import pick_lang
from ledger.adapters.pdf_export import evidence_pdf
from ledger.adapters.rendering import render_evidence
from ledger.adapters.xlsx_export import evidence_xlsx
from ledger.domain.access import Capability, EvidenceRead, Principal
from projections.documents import evidence_document

EVIDENCE_ROUTE = "/v1/employees/{employee_id}/evidence"
EVIDENCE_EXPORTERS = {"csv": evidence_csv, "xlsx": evidence_xlsx, "pdf": evidence_pdf}


def _check_employee(caller: Caller, employee_id: str) -> None:
    """404 alike for an employee outside the caller's scope and one unknown to the tenant."""
    if not (caller.sees_employee(employee_id)
            and caller.reads.knows_employee(caller.tenant, employee_id)):
        raise ProblemError(404, "Unknown employee",
                           f"no employee {employee_id!r} for this tenant")


EmployeeParam = Annotated[str, Path(description="The employee's id.")]

router = APIRouter(tags=["evidence"], responses=problems(*AUTHENTICATED, 422))


@router.get(
    EVIDENCE_ROUTE, summary="An employee's evidence, as JSON, CSV, XLSX or PDF",
    responses={200: download_docs(examples.EVIDENCE, examples.EVIDENCE_CSV, "The evidence"),
               **problems(404, 503, s404="No such employee in the token's tenant, or one "
                          "outside a manager's units.")},
)
def get_evidence(
    request: Request, employee_id: EmployeeParam, caller: EvidenceReader,
    from_: From = None, to: To = None, format: FormatParam = "json",
    lang: LangParam = None, accept_language: AcceptLanguage = None,
) -> Response:
    """Every liability and positive record of the employee over from..to, with the ledger
    events behind them and their inclusion proofs against the latest signed checkpoint.
    Each answer is recorded in the tenant's evidence-read audit trail."""
    _check_employee(caller, employee_id)
    ledger = request.app.state.ledger
    document = evidence_document(
        caller.reads, ledger.store, caller.tenant, employee_id, parse_bound("from", from_),
        parse_bound("to", to), ledger.clock(), pick_lang(lang, accept_language),
    )
    read = Read(caller.principal, EVIDENCE_ROUTE, employee_id, from_, to)
    exporters: dict[str, Exporter] = dict(EVIDENCE_EXPORTERS)
    if lang is not None:  # a language asked for by name: the CSV speaks it too
        exporters["csv"] = partial(render_evidence, fmt="csv", csv_lang=lang)
    return answer_recorded(request, read, document, format, exporters,
                           filename("evidence", employee_id, from_, to, fmt=format))


# --- the audit trail ----------------------------------------------------------------------

class EvidenceReadOut(BaseModel):
    sequence: int = Field(description="Place in the tenant's audit trail, from 1.")
    at: str = Field(description="When it was read (the reading service's clock), RFC 3339.")
    token_id: str = Field(description="Who: the id of the token used (`cli:<user>` for "
                          "`ledger export`).")
    role: str = Field(description="The token's role.")
    route: str = Field(description="What was read: the API route or the CLI command.")
    employee_id: str | None = Field(description="Whose evidence (null for a unit report).")
    format: str | None
    from_: str | None = Field(alias="from", description="The period asked for, as given.")
    to: str | None
    query: str = Field(description="The request's parameters as recorded.")


class EvidenceReadPage(BaseModel):
    items: list[EvidenceReadOut] = Field(description="Oldest first.")
    next_after: int | None = Field(description="Pass as `after` for the next page; null on "
                                   "the last page.")


def _read_out(read: EvidenceRead) -> dict[str, Any]:
    asked = {key: values[-1] for key, values in parse_qs(read.query).items()}
    return {"sequence": read.originator_version, "at": read.timestamp.isoformat(),
            "token_id": read.token_id, "role": read.role, "route": read.route,
            "employee_id": read.subject or None, "format": asked.get("format"),
            "from": asked.get("from"), "to": asked.get("to"), "query": read.query}


@router.get(
    "/v1/audit/evidence-reads", response_model=EvidenceReadPage, tags=["audit"],
    summary="Who read which evidence, and when",
    responses={200: examples.ok(examples.EVIDENCE_READS)},
)
def list_evidence_reads(
    request: Request,
    principal: Annotated[Principal, Depends(require(Capability.READ_AUDIT))],
    employee_id: Annotated[str | None, Query(description="Only reads of this employee.")] = None,
    token_id: Annotated[str | None, Query(description="Only reads with this token.")] = None,
    after: Annotated[int, Query(ge=0, description="Only reads after this sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
) -> Response:
    """The tenant's evidence-read audit trail, oldest first (auditors and admins)."""
    reads = [r for r in audit_trail(request).reads(principal.tenant)
             if r.originator_version > after
             and (employee_id is None or r.subject == employee_id)
             and (token_id is None or r.token_id == token_id)]
    page = reads[:limit]
    more = len(reads) > limit
    body = {"items": [_read_out(r) for r in page],
            "next_after": page[-1].originator_version if more and page else None}
    return OrjsonResponse(body)
