"""`POST /v1/events`: one CloudEvents envelope or an array of them, a result per event.

A publisher token publishes for its own tenant only, and a scoped one for its sources
and event types only. An event naming another tenant, or outside the token's scope, is
never recorded: it gets its own `rejected` result with the reason rule
`tenant_forbidden` or `source_forbidden`, while the batch's other events are recorded as
usual (one bad event never blocks the others). Statuses: 200 when everything was
recorded or was a duplicate; 403 when any event was forbidden so; otherwise 422 when any
was rejected. 403 and 422 are problem documents that carry the per-event `results` and
`counts` as extension members.

Refused whole, nothing recorded: a body that is not JSON (400); one over the size limit
(413, api/limits.py) or with more events than the limit (413, type too-many-events); a
`Content-Type` other than JSON or CloudEvents JSON (415).
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
from api.limits import TOO_MANY_EVENTS, UNSUPPORTED_MEDIA_TYPE, ApiLimits
from api.models import IngestProblem, IngestResponse, Problem
from api.problems import AUTHENTICATED, PROBLEM_MEDIA_TYPE, ProblemError, problem, problems
from ledger.adapters import strict_json
from ledger.adapters.json_texts import received_texts
from ledger.application.recording import Ledger, summarize
from ledger.domain.access import SOURCE_FORBIDDEN, Capability, Principal
from ledger.domain.recording import Outcome, Reason, Status

TENANT_FORBIDDEN = "tenant_forbidden"
#: What the route takes; the parameters of a media type (charset) are ignored.
MEDIA_TYPES = ("application/json", "application/cloudevents+json",
               "application/cloudevents-batch+json")

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


def out_of_scope(item: object, principal: Principal) -> str | None:
    """Why a scoped publisher may not publish the event, if it may not (a missing or
    non-string source or type is left to the contract's validation)."""
    if not (principal.sources or principal.type_prefixes) or not isinstance(item, dict):
        return None
    source, event_type = item.get("source"), item.get("type")
    if isinstance(source, str) and isinstance(event_type, str):
        return principal.out_of_scope(source, event_type)
    return None


def refused(index: int, item: object, tenant: str, named: str) -> Outcome:
    reason = Reason(TENANT_FORBIDDEN, "tenant", f"event {_label(index, item)}: this token "
                    f"publishes for tenant {tenant!r} only, not {named!r}")
    return Outcome(index, Status.REJECTED, _event_id(item), named, reasons=(reason,))


def forbidden(index: int, item: object, tenant: str, why: str) -> Outcome:
    reason = Reason(SOURCE_FORBIDDEN, "source", f"event {_label(index, item)}: {why} "
                    f"[rule {SOURCE_FORBIDDEN}]")
    return Outcome(index, Status.REJECTED, _event_id(item), tenant, reasons=(reason,))


def _event_id(item: object) -> str | None:
    event_id = item.get("id") if isinstance(item, dict) else None
    return event_id if isinstance(event_id, str) else None


def _label(index: int, item: object) -> str:
    return _event_id(item) or f"#{index}"


def record_own(
    ledger: Ledger, items: Sequence[object], principal: Principal,
    texts: Sequence[str | None] | None = None,
) -> list[Outcome]:
    """Record the items the principal may publish, refuse the others; an outcome per item,
    in order. `texts`: each item's text as received, kept with its entry."""
    tenant = principal.tenant
    outcomes: dict[int, Outcome] = {}
    own: list[tuple[int, object]] = []
    for index, item in enumerate(items):
        named = foreign_tenant(item, tenant)
        why = out_of_scope(item, principal) if named is None else None
        if named is not None:
            outcomes[index] = refused(index, item, tenant, named)
        elif why is not None:
            outcomes[index] = forbidden(index, item, tenant, why)
        else:
            own.append((index, item))
    kept = None if texts is None else [texts[index] for index, _ in own]
    recorded = ledger.record([item for _, item in own], texts=kept) if own else []
    for (index, _), outcome in zip(own, recorded, strict=True):
        outcomes[index] = dataclasses.replace(outcome, index=index)
    return [outcomes[i] for i in range(len(items))]


def _answer(outcomes: list[Outcome], ledger_position: int) -> Response:
    """`ledger_position`: the tenant's position after the append, which a GET passes back
    as `min_position` to read what follows from it (api/freshness.py)."""
    counts = summarize(outcomes)
    results = [o.as_dict() for o in outcomes]
    not_own = sum(any(r.rule in _FORBIDDEN for r in o.reasons) for o in outcomes)
    if not_own:
        return problem(403, detail=f"{not_own} of {len(outcomes)} events name another "
                       "tenant than the token's or are outside its scope (sources, event "
                       "types); they were not recorded", results=results, counts=counts,
                       ledger_position=ledger_position)
    if counts["rejected"]:
        return problem(422, detail=f"{counts['rejected']} of {len(outcomes)} events were "
                       "rejected; the others were recorded as their results say",
                       results=results, counts=counts, ledger_position=ledger_position)
    return Response(orjson.dumps({"results": results, "counts": counts,
                                  "ledger_position": ledger_position}),
                    media_type="application/json")


_FORBIDDEN = (TENANT_FORBIDDEN, SOURCE_FORBIDDEN)


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
        **problems(*AUTHENTICATED, 400, 413, 415,
                   s413="The body is over the size limit, or holds more events than the "
                   "limit (type `.../too-many-events`); nothing was recorded.",
                   s415="The `Content-Type` is not application/json, "
                   "application/cloudevents+json or application/cloudevents-batch+json."),
        403: _refused_doc(examples.INGEST_REFUSED, "The token's role may not publish, or "
                          "events named another tenant than the token's (`tenant_forbidden`"
                          ") or were outside its scope (`source_forbidden`; the others "
                          "were recorded as their results say)."),
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
    tenant than the token's or was outside its scope (never recorded); else 422 when any
    was rejected. The rest are recorded all the same: one bad event never blocks the
    others. 413 for a body or a batch over the limits, 415 for another content type.
    """
    _check_media_type(request)
    body = await request.body()
    try:
        # Strict: an event with duplicate keys or an inexact integer is refused alone.
        parsed = strict_json.loads(body)
    except strict_json.InvalidJson as exc:
        raise ProblemError(400, "Body is not JSON", f"invalid JSON: {exc}") from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    limits: ApiLimits = request.app.state.limits
    if len(items) > limits.max_events_per_request:
        raise ProblemError(413, "Too many events", f"{len(items)} events in one request; at "
                           f"most {limits.max_events_per_request} are taken "
                           "(LEDGER_MAX_EVENTS_PER_REQUEST): send them in several requests",
                           type=TOO_MANY_EVENTS, limit=limits.max_events_per_request)
    ledger: Ledger = request.app.state.ledger
    outcomes = await run_in_threadpool(_record_body, ledger, body, parsed, principal)
    head = await run_in_threadpool(ledger.store.head, principal.tenant)
    return _answer(outcomes, head.position)


def _record_body(
    ledger: Ledger, body: bytes, parsed: object, principal: Principal
) -> list[Outcome]:
    """`record_own` of a body read as `parsed`, each event kept with its text as sent."""
    items = parsed if isinstance(parsed, list) else [parsed]
    return record_own(ledger, items, principal, received_texts(body, parsed))


def _check_media_type(request: Request) -> None:
    declared = request.headers.get("content-type", "")
    media_type = declared.split(";", 1)[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise ProblemError(415, "Unsupported media type",
                           f"Content-Type {declared[:100]!r}: send events as "
                           f"{', '.join(MEDIA_TYPES)}", type=UNSUPPORTED_MEDIA_TYPE)
