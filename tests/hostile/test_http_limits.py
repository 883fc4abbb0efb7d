"""The HTTP edge's limits: a body over the size limit (declared or streamed), a batch of too
many events and a content type other than JSON are refused whole before anything is parsed
or recorded; a string over the length limit costs only its own event; a period bound
Python would read but a client would not mean is a 422 naming the parameter. After each,
the service keeps answering."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import BODY_TOO_LARGE, TOO_MANY_EVENTS, UNSUPPORTED_MEDIA_TYPE, ApiLimits
from ledger.application.admission import Admission
from ledger.application.recording import Ledger
from ledger.application.tokens import TokenService
from ledger.config import Settings
from ledger.domain.access import Role
from tests.hostile.server import serving
from tests.support.api import bearer, issue
from tests.support.envelopes import envelope

LIMITS = ApiLimits(max_body_bytes=64 * 1024, max_events_per_request=5, token_cache_size=100)
MAX_STRING = 1000
JSON = {"content-type": "application/json"}


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    ledger.admission = Admission(max_string_length=MAX_STRING)
    with TestClient(create_app(ledger, limits=LIMITS)) as client:
        client.headers.update(bearer(issue(client, Role.PUBLISHER)))
        yield client


def recorded_ids(ledger: Ledger) -> list[str]:
    return [e.event_id for e in ledger.store.entries("acme")]


def assert_still_serving(client: TestClient) -> None:
    started = time.monotonic()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert time.monotonic() - started < 1.0
    response = client.post("/v1/events", json=envelope("after"))
    assert response.status_code == 200, response.text


def assert_problem(response: httpx.Response, status: int,
                   problem_type: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["type"] == problem_type
    return body


def test_a_body_declaring_more_than_the_limit_is_a_413_problem_and_nothing_is_recorded(
    client: TestClient, ledger: Ledger,
) -> None:
    events = [envelope(f"e{i}", note="x" * 900) for i in range(100)]
    body = orjson.dumps(events)
    assert len(body) > LIMITS.max_body_bytes

    response = client.post("/v1/events", content=body, headers=JSON)

    problem = assert_problem(response, 413, BODY_TOO_LARGE)
    assert problem["limit"] == LIMITS.max_body_bytes
    assert recorded_ids(ledger) == []
    assert_still_serving(client)


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(ledger: Ledger) -> None:
    """Against a real server: a chunked upload declares no length, so the limit is judged
    while the body arrives; the 413 comes before the client is done sending."""
    app = create_app(ledger, limits=LIMITS)
    with serving(app) as base_url:
        token = issue_with(app, Role.PUBLISHER)
        host, port = base_url.removeprefix("http://").split(":")
        sent, answer = _stream_until_answered(host, int(port), token, 20 * LIMITS.max_body_bytes)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"body-too-large" in answer
        assert sent < 4 * LIMITS.max_body_bytes, "the rest of the body is never waited for"
        assert recorded_ids(ledger) == []
        started = time.monotonic()
        assert httpx.get(f"{base_url}/healthz", timeout=5).json() == {"status": "ok"}
        assert time.monotonic() - started < 1.0


def issue_with(app: FastAPI, role: Role) -> str:
    tokens: TokenService = app.state.tokens
    return tokens.create("acme", role, None, "test")


def _stream_until_answered(host: str, port: int, token: str, total: int) -> tuple[int, bytes]:
    """Send a chunked body of `total` bytes until the server answers; (bytes sent, answer)."""
    head = (f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"[" + b" " * 8190 + b"]"
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head)
        while sent < total and not select.select([sock], [], [], 0.01)[0]:
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed the connection: it has answered
                break
            sent += len(piece)
        answer = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in answer or b"}" not in answer:
                received = sock.recv(65536)
                if not received:
                    break
                answer += received
    return sent, answer


def test_more_events_than_the_limit_is_a_413_problem_of_its_own_type(
    client: TestClient, ledger: Ledger,
) -> None:
    events = [envelope(f"e{i}") for i in range(LIMITS.max_events_per_request + 1)]

    response = client.post("/v1/events", json=events)

    problem = assert_problem(response, 413, TOO_MANY_EVENTS)
    assert problem["limit"] == LIMITS.max_events_per_request
    assert recorded_ids(ledger) == []
    exactly = client.post("/v1/events", json=events[:LIMITS.max_events_per_request])
    assert exactly.status_code == 200, exactly.text
    assert_still_serving(client)


def test_a_string_over_the_length_limit_is_refused_alone_and_the_rest_of_the_batch_recorded(
    client: TestClient, ledger: Ledger,
) -> None:
    batch = [envelope("good-1"), envelope("long-title", note="x" * (MAX_STRING + 1)),
             envelope("good-2"), envelope("x" * (MAX_STRING + 1))]

    response = client.post("/v1/events", json=batch)

    assert response.status_code == 422, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["recorded", "rejected", "recorded", "rejected"]
    assert [(r["rule"], r["field"]) for r in results[1]["reasons"]] == [
        ("string_too_long", "data.note")]
    assert [(r["rule"], r["field"]) for r in results[3]["reasons"]] == [
        ("string_too_long", "id")]
    messages = [r["message"] for result in results for r in result.get("reasons", [])]
    assert all("x" * 100 not in m for m in messages), "a reason never quotes the string"
    assert recorded_ids(ledger) == ["good-1", "good-2"]
    assert_still_serving(client)


def test_a_string_as_long_as_the_limit_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/events", json=envelope("a", note="x" * MAX_STRING))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", None])
def test_a_body_that_is_not_declared_json_is_a_415_problem(
    client: TestClient, ledger: Ledger, content_type: str | None,
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = client.post("/v1/events", content=orjson.dumps(envelope("a")), headers=headers)

    assert_problem(response, 415, UNSUPPORTED_MEDIA_TYPE)
    assert recorded_ids(ledger) == []
    assert_still_serving(client)


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "application/cloudevents+json",
    "application/cloudevents-batch+json", "Application/JSON"])
def test_json_and_cloudevents_media_types_are_taken(
    client: TestClient, content_type: str,
) -> None:
    response = client.post("/v1/events", content=orjson.dumps([envelope("a")]),
                           headers={"content-type": content_type})
    assert response.status_code == 200, response.text


def test_the_body_limit_holds_for_every_route_with_a_body(client: TestClient,
                                                           ledger: Ledger) -> None:
    admin = bearer(issue(client, Role.ADMIN))
    body = orjson.dumps({"role": "auditor", "unit_id": "x" * LIMITS.max_body_bytes})

    response = client.post("/v1/tokens", content=body, headers={**admin, **JSON})

    assert_problem(response, 413, BODY_TOO_LARGE)
    assert_still_serving(client)


def test_the_default_limits_are_the_documented_settings() -> None:
    settings = Settings()
    assert ApiLimits() == ApiLimits.from_settings(settings)
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert Admission().max_string_length == settings.max_string_length


@pytest.mark.parametrize("bound", ["2026-W10-1", "2026-061", "20260302", "2026-W10-1T10:00:00Z",
                                   "2026-03-02T10:00:00.5+08:00x", "２０２６-03-02"])
def test_a_period_bound_of_another_iso_form_is_a_422_naming_the_parameter(
    client: TestClient, bound: str,
) -> None:
    auditor = bearer(issue(client, Role.AUDITOR))

    response = client.get("/v1/violations", params={"from": bound}, headers=auditor)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "`from`" in response.json()["detail"]
    ok = client.get("/v1/violations", params={"from": "2026-03-02"}, headers=auditor)
    assert ok.status_code == 200, ok.text
