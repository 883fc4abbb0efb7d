"""`POST /v1/events`: one CloudEvents envelope or an array of them, a result per event.

A publisher token publishes for its own tenant only. An event naming another tenant is
never recorded: it gets its own `rejected` result with the reason rule
`tenant_forbidden`, while the batch's other events are recorded as usual (one bad event
never blocks the others). Statuses: 200 when everything was recorded or was a duplicate;
403 when any event named another tenant; otherwise 422 when any was rejected. 403 and
422 are problem documents that carry the per-event `results` and `counts` as extension
members; a body that is not JSON is a 400 problem.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import examples
from api.auth import require
from api.models import IngestProblem, IngestResponse, Problem
from api.problems import AUTHENTICATED, PROBLEM_MEDIA_TYPE, ProblemError, problem, problems
from ledger.adapters import strict_json
from ledger.application.recording import Ledger, summarize
from ledger.domain.access import Capability, Principal
from ledger.domain.recording import Outcome, Reason, Status

TENANT_FORBIDDEN = "tenant_forbidden"

router = APIRouter(tags=["ingest"])


def foreign_tenant(item: object, tenant: str) -> str | None:
    """The other tenant an event names, if it names one (a missing or non-string tenant is
    left to the contract's validation, which says precisely what is wrong, as is an event
    read with defects: its tenant may be one of two equal keys)."""
    if isinstance(item, dict) and type(item) is not strict_json.Refused:
        named = item.get("tenant")
        if isinstance(named, str) and named != tenant:
            return named
    return None


def refused(index: int, item: object, tenant: str, named: str) -> Outcome:
    event_id = item.get("id") if isinstance(item, dict) else None
    label = event_id if isinstance(event_id, str) else f"#{index}"
    reason = Reason(TENANT_FORBIDDEN, "tenant", f"event {label}: this token publishes for "
                    f"tenant {tenant!r} only, not {named!r}")
    return Outcome(index, Status.REJECTED, event_id if isinstance(event_id, str) else None,
                   named, reasons=(reason,))


def record_own(ledger: Ledger, items: Sequence[object], tenant: str) -> list[Outcome]:
    """Record the items of `tenant`, refuse the others; an outcome per item, in order."""
    outcomes: dict[int, Outcome] = {}
    own: list[tuple[int, object]] = []
    for index, item in enumerate(items):
        named = foreign_tenant(item, tenant)
        if named is None:
            own.append((index, item))
        else:
            outcomes[index] = refused(index, item, tenant, named)
    recorded = ledger.record([item for _, item in own]) if own else []
    for (index, _), outcome in zip(own, recorded, strict=True):
        outcomes[index] = dataclasses.replace(outcome, index=index)
    return [outcomes[i] for i in range(len(items))]


def _answer(outcomes: list[Outcome]) -> Response:
    counts = summarize(outcomes)
    results = [o.as_dict() for o in outcomes]
    forbidden = sum(any(r.rule == TENANT_FORBIDDEN for r in o.reasons) for o in outcomes)
    if forbidden:
        return problem(403, detail=f"{forbidden} of {len(outcomes)} events name another "
                       "tenant than the token's; they were not recorded",
                       results=results, counts=counts)
    if counts["rejected"]:
        return problem(422, detail=f"{counts['rejected']} of {len(outcomes)} events were "
                       "rejected; the others were recorded as their results say",
                       results=results, counts=counts)
    return Response(orjson.dumps({"results": results, "counts": counts}),
                    media_type="application/json")


def _refused_doc(example: dict[str, Any], description: str) -> dict[str, Any]:
    """A refused batch's answer: a problem document with the per-event results (or, for
    a 403 to a role that may not publish, a plain one)."""
    return {"description": description, "model": IngestProblem | Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"example": example}}}


@router.post(
    "/v1/events",
    response_model=IngestResponse,
    summary="Record events (one envelope or an array)",
    responses={
        200: examples.ok(examples.INGEST, "Every event was recorded or was a duplicate."),
        **problems(*AUTHENTICATED, 400),
        403: _refused_doc(examples.INGEST_REFUSED, "The token's role may not publish, or "
                          "events named another tenant than the token's (`tenant_forbidden`"
                          "; the others were recorded as their results say)."),
        422: _refused_doc(examples.INGEST_REJECTED, "At least one event was rejected; the "
                          "others were recorded as their results say."),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [{"type": "object"}, {"type": "array",
                               "items": {"type": "object"}}]},
                    "example": examples.ENVELOPE,
                },
                "application/cloudevents+json": {"schema": {"type": "object"},
                                                 "example": examples.ENVELOPE},
                "application/cloudevents-batch+json": {
                    "schema": {"type": "array", "items": {"type": "object"}},
                    "example": [examples.ENVELOPE],
                },
            },
        }
    },
)
async def post_events(
    request: Request,
    principal: Annotated[Principal, Depends(require(Capability.PUBLISH))],
) -> Response:
    """One CloudEvents envelope or an array of them; a result per event.

    200 when every event was recorded or was a duplicate; 403 when any named another
    tenant than the token's (never recorded); else 422 when any was rejected. The rest
    are recorded all the same: one bad event never blocks the others.
    """
    body = await request.body()
    try:
        # Strict: an event with duplicate keys or an inexact integer is refused alone.
        parsed = strict_json.loads(body)
    except strict_json.InvalidJson as exc:
        raise ProblemError(400, "Body is not JSON", f"invalid JSON: {exc}") from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    ledger: Ledger = request.app.state.ledger
    outcomes = await run_in_threadpool(record_own, ledger, items, principal.tenant)
    return _answer(outcomes)
