"""POST /v1/events: one envelope or an array, a result per event (docs/http-api.md),
published with a publisher token for the token's own tenant only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application.recording import Ledger
from ledger.domain.access import Role
from tests.support.api import bearer, issue
from tests.support.envelopes import envelope


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as client:
        client.headers.update(bearer(issue(client, Role.PUBLISHER)))
        yield client


def test_a_single_envelope_is_recorded(client: TestClient) -> None:
    response = client.post("/v1/events", json=envelope("a"))
    assert response.status_code == 200
    assert response.json()["results"] == [{"index": 0, "status": "recorded", "id": "a",
                                           "position": 1}]


def test_an_array_gets_a_result_per_event_and_redelivery_is_duplicate(client: TestClient) -> None:
    client.post("/v1/events", json=[envelope("a")])
    response = client.post("/v1/events", json=[envelope("a"), envelope("b")])
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["duplicate", "recorded"]
    assert response.json()["counts"] == {"recorded": 1, "duplicate": 1, "rejected": 0}


def test_a_rejected_event_gets_422_with_its_reason_and_the_others_are_kept(
    client: TestClient, ledger: Ledger
) -> None:
    bad = envelope("bad", time="2026-03-02T10:00:00")
    response = client.post("/v1/events", json=[envelope("a"), bad])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Unprocessable Entity"
    results = response.json()["results"]
    assert results[0]["status"] == "recorded"
    assert results[1]["status"] == "rejected"
    assert results[1]["id"] == "bad"
    assert {r["field"] for r in results[1]["reasons"]} == {"time"}
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a"]


def test_a_conflicting_redelivery_is_rejected_as_idempotency_conflict(client: TestClient) -> None:
    client.post("/v1/events", json=envelope("a"))
    response = client.post("/v1/events", json=envelope("a", operation="refund"))
    assert response.status_code == 422
    assert response.json()["results"][0]["reasons"][0]["rule"] == "idempotency_conflict"


def test_an_event_of_another_tenant_is_refused_and_never_recorded_while_the_rest_is(
    client: TestClient, ledger: Ledger
) -> None:
    response = client.post("/v1/events", json=[
        envelope("a"), envelope("b", tenant="globex"), envelope("c", time="bad")])

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["title"]) == (403, "Forbidden")
    assert [r["status"] for r in body["results"]] == ["recorded", "rejected", "rejected"]
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert body["results"][1]["reasons"] == [{
        "rule": "tenant_forbidden", "field": "tenant",
        "message": "event b: this token publishes for tenant 'acme' only, not 'globex'"}]
    assert body["results"][2]["reasons"][0]["rule"] != "tenant_forbidden"
    assert body["counts"] == {"recorded": 1, "duplicate": 0, "rejected": 2}
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a"]
    assert list(ledger.store.entries("globex")) == []


def test_only_a_publisher_token_may_post_events(client: TestClient) -> None:
    auditor = bearer(issue(client, Role.AUDITOR))

    assert client.post("/v1/events", json=envelope("a"), headers=auditor).status_code == 403
    assert client.post("/v1/events", json=envelope("a"),
                       headers={"Authorization": ""}).status_code == 401


def test_a_body_that_is_not_json_is_a_problem_document(client: TestClient) -> None:
    response = client.post("/v1/events", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "invalid JSON" in response.json()["detail"]


@pytest.mark.parametrize("name", ["¹", "²", "٣"])
def test_member_names_made_of_unicode_digits_are_rejected_not_a_500(
    client: TestClient, name: str
) -> None:
    """Found by fuzzing (tests/integration/test_api_fuzz.py): {"¹": null} was a 500."""
    response = client.post("/v1/events", json={name: None})

    assert response.status_code == 422
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert {"rule": "required", "field": "id"} in [
        {k: r[k] for k in ("rule", "field")} for r in result["reasons"]]


def test_openapi_documents_the_ingest_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/events" in spec["paths"]
    assert client.get("/healthz", headers={"Authorization": ""}).json() == {"status": "ok"}
    assert client.get("/readyz", headers={"Authorization": ""}).status_code == 200
