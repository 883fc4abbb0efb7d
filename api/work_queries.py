"""The work queries (docs/http-api.md): a manager's obligation queue (8.7), scores for
appraisal (8.6) and who held a permission when (8.4).

Routes translate HTTP into `projections.reads.ReadModels` calls and nothing more. A
manager sees the obligations held by, or owed in, their units' subtree, and the scores of
its people; HR reads scores and permission holders; auditors read everything of their
tenant. A score download (CSV, XLSX, PDF) is recorded in the tenant's evidence-read audit
trail, as every download of someone's evidence is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from api import work_models
from api.caller import ObligationReader, PermissionReader, ScoreReader
from api.downloads import MEDIA, Read, answer, answer_recorded, filename
from api.problems import AUTHENTICATED, ProblemError, problems
from api.queries import CursorParam, From, Limit, To, _page, decode_cursor, parse_bound
from api.responses import OrjsonResponse
from ledger.adapters.labels import pick_lang
from ledger.adapters.score_rendering import scores_csv, scores_pdf, scores_xlsx

router = APIRouter(tags=["work"], responses=problems(*AUTHENTICATED, 422))

SCORES_ROUTE = "/v1/scores"
SCORE_EXPORTERS = {"csv": scores_csv, "xlsx": scores_xlsx, "pdf": scores_pdf}
ScoreFormat = Annotated[Literal["json", "csv", "xlsx", "pdf"],
                        Query(description="json, csv, xlsx or pdf.")]


@router.get(
    "/v1/obligations", response_model=work_models.ObligationPage,
    summary="Obligations: a manager's queue",
    responses={200: {"description": "Obligations by due time.",
                     "content": {"application/json": {"example": work_models.OBLIGATIONS}}}},
)
def get_obligations(
    caller: ObligationReader,
    holder_id: Annotated[str | None, Query(description="Who owes it.")] = None,
    unit_id: Annotated[str | None, Query(description="The holder's unit when it opened.")] = None,
    status: Annotated[work_models.ObligationStatus | None, Query(
        description="open, missed or done.")] = None,
    due_before: Annotated[str | None, Query(description="Exclusive; RFC 3339 time or date.")]
    = None,
    limit: Limit = 100, cursor: CursorParam = None,
) -> Response:
    """Every review, step and contribution someone owes, with who owes it, when it is due
    and where it stands, by due time (a manager: those held by or owed in their units)."""
    return _page(caller.reads.obligations(
        caller.tenant, holder_id=holder_id, unit_id=unit_id, status=status,
        due_before=parse_bound("due_before", due_before), limit=limit,
        after=decode_cursor(cursor), employees=caller.employees, units=caller.units))


@router.get(
    SCORES_ROUTE, response_model=work_models.Scores, summary="Scores for appraisal",
    responses={200: {
        "description": "Scores, in the format asked for (`format`); CSV, XLSX and PDF as "
                       "an attachment named in Content-Disposition.",
        "content": {
            MEDIA["json"]: {"example": work_models.SCORES},
            MEDIA["csv"]: {"schema": {"type": "string"}, "example": work_models.SCORES_CSV},
            MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"},
                            "example": "(an XLSX workbook)"},
            MEDIA["pdf"]: {"schema": {"type": "string", "format": "binary"},
                           "example": "(a PDF document)"},
        }}},
)
def get_scores(
    request: Request, caller: ScoreReader, from_: From = None, to: To = None,
    unit_id: Annotated[str | None, Query(description="Records of this unit's members "
                                         "(membership at each record's time).")] = None,
    scheme_id: Annotated[str | None, Query(description="Score on this scheme only (default: "
                                           "the latest defined of any scheme).")] = None,
    format: ScoreFormat = "json",
    lang: Annotated[str | None, Query(description="Language of the PDF: zh (default) or "
                                      "en; without it, Accept-Language decides. Other "
                                      "formats are not translated.")] = None,
    accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None,
) -> Response:
    """Per employee the penalty and bonus points over the period and their sum, each item
    traced to its liability or positive record and scored on the scheme version in force
    at that record's business time; corrected and overturned liabilities count nothing.
    Per unit the sum over its members at each record's time (a manager: their units)."""
    start, end = parse_bound("from", from_), parse_bound("to", to)
    document = caller.reads.scores(caller.tenant, start, end, unit_id=unit_id,
                                   scheme_id=scheme_id, employees=caller.employees,
                                   units=caller.units)
    name = filename("scores", caller.tenant, unit_id, document["from"], document["to"],
                    fmt=format)
    if format == "json":
        return answer(document, format, SCORE_EXPORTERS, name)
    if format == "pdf":
        document = {**document, "lang": pick_lang(lang, accept_language)}
    read = Read(caller.principal, SCORES_ROUTE, unit_id or "", from_, to)
    return answer_recorded(request, read, document, format, SCORE_EXPORTERS, name)


@router.get(
    "/v1/permissions/{permission}/holders", response_model=work_models.Holders,
    summary="Who held a permission at a time",
    responses={200: {"description": "The holders, each through its grant.",
                     "content": {"application/json": {"example": work_models.HOLDERS}}},
               **problems(404, s404="Not used: an unknown permission has no holders.")},
)
def get_permission_holders(
    caller: PermissionReader,
    permission: Annotated[str, Path(description="A permission some role grants.")],
    at: Annotated[str, Query(description="RFC 3339 time (with its offset).")],
) -> Response:
    """Who held `permission` at `at` (business time), each through the role grant that
    gave it and the role definition then in force (event ids)."""
    moment = parse_bound("at", at)
    if not isinstance(moment, datetime):
        raise ProblemError(422, "Invalid time", "`at`: an RFC 3339 time with its offset")
    holders = caller.reads.permission_holders(caller.tenant, permission, moment)
    return OrjsonResponse({"permission": permission, "at": at, "holders": holders})
