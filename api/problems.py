"""RFC 9457 problem details for every error the API answers, and their OpenAPI entries.

Whatever goes wrong, a client gets one shape, `application/problem+json` with `type`,
`title`, `status` and `detail` (plus extension members where they help, such as the
per-event `results` of a refused ingest): the routes' own problems (`ProblemError`),
authentication (401/403), FastAPI's request validation (422, or 400 for a body that is not
JSON), unknown routes (404), wrong methods (405), the ledger's own errors that no route
answered (`LedgerError`: 503 with `Retry-After` when sending again may succeed, such as a
store that could not take an append in time, else 500) and unexpected failures (500). The
handlers are installed by `install(app)`; the routes only raise.

`type` is "about:blank" throughout: the status code and the title say what happened, the
detail says what to do about it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.config import Settings
from ledger.errors import LedgerError

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("ledger.api")
#: Seconds a client is told to wait before sending again what the store could not take.
DEFAULT_RETRY_AFTER_S: int = Settings.model_fields["retry_after_s"].default
#: Statuses of the ledger's errors that are neither retryable nor a failure of the server
#: (by `LedgerError.code`); the routes answer most of them first, with their own detail.
_LEDGER_STATUS: dict[str, int] = {"font-missing": 503}


class Problem(BaseModel):
    """RFC 9457 problem details (extension members allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no case 'SO-9999' for this tenant"])


class ProblemError(Exception):
    """Raised by a route to answer a problem document; `extra` become extension members."""

    def __init__(
        self, status: int, title: str, detail: str, *, headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}
        self.extra = extra


def problem(
    status: int, title: str | None = None, detail: str = "", *,
    headers: dict[str, str] | None = None, **extra: Any,
) -> Response:
    """A problem document; the title defaults to the status code's reason phrase."""
    body = {"type": "about:blank", "title": title or _phrase(status), "status": status,
            "detail": detail or _phrase(status), **extra}
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE,
                    headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --- handlers -------------------------------------------------------------------------------

Handler = Callable[[Request, Exception], Awaitable[Response]]


async def _on_problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)


async def _on_http(_: Request, exc: Exception) -> Response:
    """Starlette's and FastAPI's HTTP errors: unknown routes, 405, auth (api/auth.py)."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else orjson.dumps(exc.detail).decode()
    if exc.status_code == 404 and detail == _phrase(404):
        detail = "no such route; see /docs for the API's routes"
    return problem(exc.status_code, detail=detail, headers=dict(exc.headers or {}))


def _location(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()))


async def _on_validation(_: Request, exc: Exception) -> Response:
    """422 with every failed parameter named; 400 when the body is not JSON at all."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"location": _location(e), "message": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(400, "Body is not JSON", "; ".join(e["message"] for e in errors))
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request", detail, errors=errors)


def _on_ledger_error(retry_after_s: int) -> Handler:
    """The one answer to a `LedgerError` no route turned into a problem of its own.

    Retryable (contention, a store outage): 503 with `Retry-After`; the same request may
    simply be sent again (events already recorded come back as duplicates). Others: their
    status, 500 unless `_LEDGER_STATUS` says otherwise, which tells nothing of the inside."""

    async def handler(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, LedgerError)
        if exc.retryable:
            log.warning("answered 503: %s", exc.code, extra={"error": repr(exc)})
            return problem(
                503, detail="the ledger could not take the request right now; send it "
                f"again in {retry_after_s} s",
                headers={"Retry-After": str(retry_after_s)}, code=exc.code, retryable=True)
        status = _LEDGER_STATUS.get(exc.code, 500)
        if status == 500:
            log.exception("unhandled ledger error", exc_info=exc)
            return problem(status, detail="the ledger could not answer; the error is in its log",
                           code=exc.code, retryable=False)
        return problem(status, detail=str(exc), code=exc.code, retryable=False)

    return handler


async def _on_unexpected(_: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, detail="the ledger could not answer; the error is in its log")


def install(app: FastAPI, retry_after_s: int = DEFAULT_RETRY_AFTER_S) -> None:
    """Answer every error of `app` as a problem document."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(LedgerError, _on_ledger_error(retry_after_s))
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)


# --- OpenAPI --------------------------------------------------------------------------------

_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("The body is not JSON.", "invalid JSON: unexpected character: line 1 column 2"),
    401: ("No bearer token, or one that is unknown, revoked or malformed "
          "(`WWW-Authenticate: Bearer`).", "an API token is required: Authorization: Bearer …"),
    403: ("The token's role may not do this.", "role 'hr' may not read chains"),
    404: ("Nothing of that name in the token's tenant (or outside a manager's units).",
          "no case 'SO-9999' for this tenant"),
    409: ("The request conflicts with the resource's state.", "token 3f9a1c0b7d2e is "
          "already revoked"),
    422: ("A parameter or the body is invalid; `errors` names each one.",
          "query.limit: Input should be greater than or equal to 1"),
    500: ("The ledger failed unexpectedly, or found its store damaged.",
          "the ledger could not answer; the error is in its log"),
    503: ("A format could not be produced on this server, or the store could not take the "
          "request right now (then `Retry-After` says when to send it again).",
          "no CJK TrueType font: install fonts-wqy-zenhei for PDF exports"),
}


def problem_doc(status: int, description: str | None = None,
                detail: str | None = None, **extra: Any) -> dict[str, Any]:
    """The OpenAPI response object of a problem answer, with an example."""
    default_description, default_detail = _DEFAULTS.get(status, (_phrase(status), _phrase(status)))
    example = {"type": "about:blank", "title": _phrase(status), "status": status,
               "detail": detail or default_detail, **extra}
    return {"description": description or default_description, "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"example": example}}}


def problems(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """Problem responses for a route: `problems(401, 403, 404, s404="No such case.")`."""
    docs: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        docs[status] = problem_doc(status, described.get(f"s{status}"))
    return docs


#: What every route behind a bearer token can answer besides its own problems.
AUTHENTICATED = (401, 403, 404)


def as_problem_media_type(openapi: dict[str, Any]) -> dict[str, Any]:
    """Error answers documented as `application/problem+json`, which is what they are.

    FastAPI files the schema of a response model under the route's media type (JSON);
    for every 4xx/5xx answer this moves it to the problem media type, beside the example.
    """
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    moved = content.pop("application/json")
                    content[PROBLEM_MEDIA_TYPE] = {**moved, **content.get(PROBLEM_MEDIA_TYPE, {})}
                if status[0] in "45" and PROBLEM_MEDIA_TYPE in content:
                    # A route answering text (a signed note) still answers errors as problems.
                    for media_type in [m for m in content if m != PROBLEM_MEDIA_TYPE]:
                        del content[media_type]
    return openapi
