"""Limits of the HTTP edge: request body size (any route) and what POST /v1/events takes.

A body larger than `max_body_bytes` is answered 413 before any of it is parsed: from its
`Content-Length` when it declares one, else as soon as the streamed body passes the
limit (chunked uploads declare none). The body is read here, at most the limit, and
handed to the route as received, so no route ever holds more than the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
from ledger.application.tokens import CACHE_SIZE
from ledger.config import Settings

#: Problem types (RFC 9457 `type`) of the refusals a client may want to tell apart.
PROBLEM_BASE: Final = "https://accountability-ledger.invalid/problems/"
BODY_TOO_LARGE: Final = PROBLEM_BASE + "body-too-large"
TOO_MANY_EVENTS: Final = PROBLEM_BASE + "too-many-events"
UNSUPPORTED_MEDIA_TYPE: Final = PROBLEM_BASE + "unsupported-media-type"

_DEFAULTS: Final = Settings.model_fields


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """The API's limits; the defaults are the settings' (ledger/config.py)."""

    max_body_bytes: int = _DEFAULTS["max_body_bytes"].default
    max_events_per_request: int = _DEFAULTS["max_events_per_request"].default
    token_cache_size: int = CACHE_SIZE

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiLimits:
        return cls(settings.max_body_bytes, settings.max_events_per_request,
                   settings.token_cache_size)


class BodyLimit:
    """ASGI middleware: a 413 problem for a body over `limit` bytes, the route never run."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, send, f"the body declares {declared} bytes")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._refuse(scope, send, f"the body passed {self.limit} bytes")
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(self, scope: Scope, send: Send, what: str) -> None:
        answer = problem(413, "Body too large",
                         f"{what}; this server takes at most {self.limit} bytes per request "
                         "(LEDGER_MAX_BODY_BYTES): send the events in several requests",
                         type=BODY_TOO_LARGE, limit=self.limit)
        # Closing the connection: the rest of a large body is then never read.
        answer.headers["Connection"] = "close"
        await answer(scope, _nothing, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read ahead once, then waits as the original does."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
