"""GET /v1/proofs/{event_id} and the checkpoint routes, on SQLite and PostgreSQL.

Every answer is checked the way an auditor would: offline, with the public key only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.adapters.signing import Signer
from ledger.application.evidence_check import verify_bundle, verify_consistency_json
from ledger.application.recording import Ledger
from ledger.application.sealing import Sealer
from ledger.domain.access import Role
from tests.support.api import bearer, issue
from tests.support.envelopes import envelope


@pytest.fixture
def keys(signer: Signer) -> dict[str, Any]:
    return {signer.key_id: signer.public_key}


@pytest.fixture
def client(ledger: Ledger, sealer: Sealer) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as client:
        client.headers.update(bearer(issue(client, Role.AUDITOR)))
        yield client


def post(client: TestClient, *events: dict[str, Any]) -> None:
    publisher = bearer(issue(client, Role.PUBLISHER, events[0]["tenant"]))
    response = client.post("/v1/events", json=list(events), headers=publisher)
    assert response.status_code == 200, response.text


def test_an_events_proof_verifies_offline(client: TestClient, keys: dict[str, Any]) -> None:
    post(client, *(envelope(f"e{i}") for i in range(6)))
    response = client.get("/v1/proofs/e3")
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["format"] == "ledger-proofs/v1"
    (entry,) = bundle["entries"]
    assert (entry["position"], entry["envelope"]["id"]) == (4, "e3")
    assert bundle["checkpoint"]["tree_size"] == 6
    assert verify_bundle(bundle, keys).ok


def test_an_entry_not_yet_checkpointed_is_a_409_saying_so(client: TestClient) -> None:
    post(client, envelope("e0"))
    post(client, envelope("e1"))  # 1 new entry < 4: not sealed yet
    response = client.get("/v1/proofs/e1")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not yet checkpointed"


def test_an_id_used_by_two_sources_asks_for_source_hash_id(
    client: TestClient, sealer: Sealer, keys: dict[str, Any]
) -> None:
    post(client, envelope("1", source="erp/orders"), envelope("1", source="crm"))
    sealer.seal("acme")
    ambiguous = client.get("/v1/proofs/1")
    assert ambiguous.status_code == 409
    assert sorted(ambiguous.json()["candidates"]) == ["crm#1", "erp/orders#1"]
    named = client.get("/v1/proofs/erp%2Forders%231")
    assert named.status_code == 200, named.text
    assert named.json()["entries"][0]["envelope"]["source"] == "erp/orders"
    assert verify_bundle(named.json(), keys).ok


def test_an_unknown_event_is_a_404(client: TestClient) -> None:
    post(client, envelope("e0"))
    assert client.get("/v1/proofs/nope").status_code == 404


def test_tenants_never_see_each_others_proofs(client: TestClient) -> None:
    post(client, envelope("e0"))
    globex = bearer(issue(client, Role.AUDITOR, "globex"))
    assert client.get("/v1/proofs/e0", headers=globex).status_code == 404
    assert client.get("/v1/checkpoints", headers=globex).json() == []


def test_a_bearer_token_is_required(client: TestClient) -> None:
    post(client, envelope("e0"))
    response = client.get("/v1/proofs/e0", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_hr_may_not_read_proofs(client: TestClient) -> None:
    post(client, envelope("e0"))
    hr = bearer(issue(client, Role.HR))
    assert client.get("/v1/proofs/e0", headers=hr).status_code == 403


def test_checkpoints_are_listed_and_provably_consistent(
    client: TestClient, keys: dict[str, Any]
) -> None:
    for batch in range(3):
        post(client, *(envelope(f"b{batch}-{i}") for i in range(4)))
    listed = client.get("/v1/checkpoints").json()
    assert [c["tree_size"] for c in listed] == [4, 8, 12]
    proof = client.get("/v1/checkpoints/consistency", params={"from": 4})
    assert proof.status_code == 200, proof.text
    assert proof.json()["to"]["tree_size"] == 12
    assert verify_consistency_json(proof.json(), keys) is None
    between = client.get("/v1/checkpoints/consistency", params={"from": 4, "to": 8})
    assert verify_consistency_json(between.json(), keys) is None


def test_a_consistency_proof_needs_checkpoint_sizes(client: TestClient) -> None:
    post(client, *(envelope(f"e{i}") for i in range(4)))
    missing = client.get("/v1/checkpoints/consistency", params={"from": 3})
    assert missing.status_code == 404


def test_a_consistency_proof_from_a_larger_to_a_smaller_tree_is_a_422(client: TestClient) -> None:
    """Found by fuzzing (tests/integration/test_api_fuzz.py): it was a 500."""
    for batch in range(2):
        post(client, *(envelope(f"b{batch}-{i}") for i in range(4)))
    response = client.get("/v1/checkpoints/consistency", params={"from": 8, "to": 4})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "larger than `to`" in response.json()["detail"]


def test_a_checkpoint_sequence_beyond_the_stores_integers_is_a_422(client: TestClient) -> None:
    """Found by fuzzing: `after` past 2**63 - 1 reached the database and was a 500."""
    post(client, *(envelope(f"e{i}") for i in range(4)))
    assert client.get("/v1/checkpoints", params={"after": 2**63}).status_code == 422
    assert client.get("/v1/checkpoints", params={"after": 2**63 - 1}).json() == []


def test_the_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/proofs/{event_id}", "/v1/checkpoints", "/v1/checkpoints/consistency"} <= set(
        paths
    )
