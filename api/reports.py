"""A case's trace report (责任追溯报告) and its events with proofs.

`GET /v1/cases/{case_id}/report?format=json|pdf|xlsx&lang=zh|en`: the chain, the source,
each liability with the rule and values behind it, the review and escalation path, and one
proof bundle over every entry shown (projections/trace_report.py). Readers of evidence
may ask for it: auditors any case, managers the cases that concern their units (with their
people's liabilities), HR any case in which an employee holds a liability (HR writes the
report into a penalty decision). Every answer, JSON or file, is in the audit trail.

`GET /v1/cases/{case_id}/events`: the case's ledger entries as recorded, with their
inclusion proofs (readers of chains).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from api.caller import Caller, ChainReader, EvidenceReader
from api.downloads import MEDIA, Read, answer_recorded, filename
from api.problems import AUTHENTICATED, ProblemError, problems
from api.responses import OrjsonResponse
from ledger.adapters.labels import Lang, pick_lang
from ledger.adapters.report_rendering import report_pdf, report_xlsx
from ledger.domain.access import Capability
from projections.trace_report import case_events, trace_report

REPORT_ROUTE = "/v1/cases/{case_id}/report"
REPORT_EXPORTERS = {"xlsx": report_xlsx, "pdf": report_pdf}

CaseParam = Annotated[str, Path(description="The case's id (the events' `subject`).")]
LangParam = Annotated[Literal["zh", "en"] | None, Query(
    description="Language of labels and sentences: zh (default) or en; without it, "
                "Accept-Language decides.")]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]

router = APIRouter(tags=["reports"], responses=problems(*AUTHENTICATED, 422))


def document_lang(lang: str | None, accept_language: str | None) -> Lang:
    return pick_lang(lang, accept_language)


def _unknown(case_id: str) -> ProblemError:
    return ProblemError(404, "Unknown case", f"no case {case_id!r} for this tenant")


def _visible_chain(caller: Caller, case_id: str) -> dict[str, Any]:
    chain = caller.reads.chain(caller.tenant, case_id)
    if chain is None:
        raise _unknown(case_id)
    if not caller.principal.may(Capability.READ_CHAINS):
        if not chain.get("liabilities"):  # HR: cases in which someone holds a liability
            raise _unknown(case_id)
        return chain
    if not caller.sees_chain(chain):
        raise _unknown(case_id)
    return caller.chain_view(chain)


@router.get(
    REPORT_ROUTE, summary="A case's trace report (责任追溯报告), as JSON, XLSX or PDF",
    responses={200: {"description": "The trace report; other than JSON as an attachment.",
                     "content": {MEDIA["json"]: {"example": {"case_id": "SO-1001",
                                                             "liabilities": [], "proofs": None}},
                                 MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"},
                                                 "example": "(an XLSX workbook)"},
                                 MEDIA["pdf"]: {"schema": {"type": "string", "format": "binary"},
                                                "example": "(a PDF document)"}}},
               **problems(404, 503, s404="No such case in the token's tenant, or one the "
                          "caller may not read.")},
)
def get_report(
    request: Request, case_id: CaseParam, caller: EvidenceReader,
    format: Annotated[Literal["json", "xlsx", "pdf"], Query(
        description="json, xlsx or pdf.")] = "json",
    lang: LangParam = None, accept_language: AcceptLanguage = None,
) -> Response:
    """The chain, the responsibility source, each liability explained, the violations,
    missed deadlines, escalations, corrections and appeals, the entries behind them and
    their inclusion proofs. Recorded in the tenant's audit trail."""
    chain = _visible_chain(caller, case_id)
    ledger = request.app.state.ledger
    document = trace_report(caller.reads, ledger.store, caller.tenant, case_id,
                            ledger.clock(), document_lang(lang, accept_language), chain)
    if document is None:
        raise _unknown(case_id)
    read = Read(caller.principal, REPORT_ROUTE, case_id, None, None)
    return answer_recorded(request, read, document, format, REPORT_EXPORTERS,
                           filename("report", case_id, fmt=format))


@router.get(
    "/v1/cases/{case_id}/events", summary="A case's ledger events with their proofs",
    responses={200: {"description": "The case's entries and their proofs.",
                     "content": {MEDIA["json"]: {"example": {"case_id": "SO-1001", "events": [],
                                                             "proofs": None}}}},
               **problems(404, s404="No such case in the token's tenant, or none of it "
                          "concerns a manager's units.")},
)
def get_case_events(case_id: CaseParam, request: Request, caller: ChainReader) -> Response:
    """The case's ledger entries as recorded (inbound and derived), with their inclusion
    proofs against the latest signed checkpoint (null until one covers them). A manager
    sees the liabilities of their people only."""
    chain = _visible_chain(caller, case_id)
    mine = {li.get("liability_id") for li in chain.get("liabilities", [])}

    def shown(envelope: dict[str, Any]) -> bool:
        data = envelope.get("data") or {}
        return caller.scope is None or not envelope.get("type", "").startswith(
            "liability.") or data.get("liability_id") in mine

    document = case_events(request.app.state.ledger.store, caller.tenant, case_id, shown)
    if document is None:
        raise _unknown(case_id)
    return OrjsonResponse(document)
