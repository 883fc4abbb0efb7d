"""Bearer tokens under attack: a token of any other shape than the issued one is refused
before any look-up (no store read, no hash, no cache entry), the cache of token records is
bounded, a publisher token scoped to its sources and event types cannot publish outside
them (`source_forbidden`, the batch's other events recorded), so no other publisher of the
tenant can take an upstream system's idempotency keys first, and a manager token must
name a unit the tenant has defined."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.limits import ApiLimits
from cli import tokens as cli_tokens
from cli.tokens import token_app
from ledger.application.recording import Ledger
from ledger.application.tokens import Scope, TokenService
from ledger.config import Settings
from ledger.domain.access import Role, TokenIssued, secret_digest, token_stream_id
from tests.support.api import bearer
from tests.support.envelopes import envelope, make_envelope

CACHE_SIZE = 50
UNIT = {"unit_id": "sales", "name": "Sales"}


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    limits = ApiLimits(token_cache_size=CACHE_SIZE)
    with TestClient(create_app(ledger, limits=limits)) as client:
        yield client


def tokens_of(client: TestClient) -> TokenService:
    tokens: TokenService = client.app.state.tokens  # type: ignore[attr-defined]
    return tokens


def assert_healthy(client: TestClient) -> None:
    started = time.monotonic()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert time.monotonic() - started < 1.0


def recorded_ids(ledger: Ledger) -> list[str]:
    return [e.event_id for e in ledger.store.entries("acme")]


def post(client: TestClient, token: str, events: list[dict[str, Any]]) -> Any:
    return client.post("/v1/events", json=events, headers=bearer(token))


# --- shape and cache ----------------------------------------------------------------------


@pytest.mark.parametrize("bogus", [
    "lt_" + "a" * 100_000, "lt_0123456789ab_" + "A" * 100_000, "x" * 100_000,
    "lt_0123456789ab_" + "A" * 42, "lt_0123456789AB_" + "A" * 43, "lt_0123456789ab_" + "A" * 42
    + "!", "LT_0123456789ab_" + "A" * 43])
def test_a_token_of_another_shape_is_refused_without_any_look_up(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, bogus: str,
) -> None:
    tokens = tokens_of(client)
    looked_up: list[str] = []
    monkeypatch.setattr(tokens, "get", lambda token_id: looked_up.append(token_id))
    monkeypatch.setattr("ledger.application.tokens.secret_matches",
                        lambda *_: pytest.fail("a bogus token was hashed"))

    response = client.get("/v1/whoami", headers=bearer(bogus))

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert looked_up == []
    assert tokens.cached() == 0
    assert_healthy(client)


def test_three_hundred_bogus_tokens_of_the_right_shape_leave_the_cache_bounded(
    client: TestClient,
) -> None:
    tokens = tokens_of(client)
    good = tokens.create("acme", Role.AUDITOR, None, "test")
    for i in range(300):
        bogus = f"lt_{i:012x}_{'A' * 43}"
        assert client.get("/v1/whoami", headers=bearer(bogus)).status_code == 401
        if i % 10 == 0:  # a token in use stays cached: least recently used go first
            assert client.get("/v1/whoami", headers=bearer(good)).status_code == 200

    assert tokens.cached() <= CACHE_SIZE
    assert client.get("/v1/whoami", headers=bearer(good)).json()["role"] == "auditor"
    assert_healthy(client)


def test_a_token_stored_before_scopes_existed_still_authenticates_unscoped(
    ledger: Ledger,
) -> None:
    tokens = TokenService(ledger.store, ledger.clock)
    token_id, secret = "0123456789ab", "S" * 43
    old = object.__new__(TokenIssued)
    object.__setattr__(old, "__dict__", {  # the fields a token had before scopes
        "originator_id": token_stream_id(token_id), "originator_version": 1,
        "timestamp": ledger.clock(), "token_id": token_id, "tenant": "acme",
        "role": "publisher", "unit_id": None, "secret_sha256": secret_digest(secret),
        "issued_by": "cli:old"})
    ledger.store.append([old])

    principal = tokens.authenticate(f"lt_{token_id}_{secret}")

    assert principal is not None
    assert (principal.role, principal.sources, principal.type_prefixes) == (
        Role.PUBLISHER, frozenset(), ())
    assert principal.out_of_scope("anything/at-all", "ledger.case.opened") is None


# --- scoped publishers --------------------------------------------------------------------


def test_a_scoped_publisher_is_refused_outside_its_scope_and_the_rest_is_recorded(
    client: TestClient, ledger: Ledger,
) -> None:
    erp = tokens_of(client).create("acme", Role.PUBLISHER, None, "test", scope=Scope(
        ("erp/orders",), ("ledger.operation.",)))
    batch = [envelope("in-scope"),
             envelope("other-source", source="oa/review"),
             make_envelope("other-type", "ledger.case.opened", data={"opened_by": "e-li"},
                           source="erp/orders"),
             envelope("in-scope-too")]

    response = post(client, erp, batch)

    assert response.status_code == 403, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["recorded", "rejected", "rejected", "recorded"]
    for refused in results[1:3]:
        assert [(r["rule"], r["field"]) for r in refused["reasons"]] == [
            ("source_forbidden", "source")]
    assert "oa/review" in results[1]["reasons"][0]["message"]
    assert "ledger.case.opened" in results[2]["reasons"][0]["message"]
    assert recorded_ids(ledger) == ["in-scope", "in-scope-too"]
    assert_healthy(client)


def test_scoping_keeps_another_publisher_from_taking_the_erps_idempotency_key_first(
    client: TestClient, ledger: Ledger,
) -> None:
    tokens = tokens_of(client)
    erp = tokens.create("acme", Role.PUBLISHER, None, "test", scope=Scope(("erp/orders",)))
    hr_system = tokens.create("acme", Role.PUBLISHER, None, "test", scope=Scope(("oa/hr",)))
    made_up = envelope("SO-2000", source="erp/orders", actor_id="e-zhang")

    first = post(client, hr_system, [made_up])
    genuine = post(client, erp, [envelope("SO-2000", source="erp/orders")])

    assert first.json()["results"][0]["reasons"][0]["rule"] == "source_forbidden"
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["results"][0]["status"] == "recorded"
    [entry] = ledger.store.entries("acme")
    assert entry.envelope["data"]["actor_id"] == "e-li"


def test_a_scope_is_for_publishers_only_and_well_formed(client: TestClient) -> None:
    tokens = tokens_of(client)
    with pytest.raises(ValueError, match="only publisher"):
        tokens.create("acme", Role.AUDITOR, None, "test", scope=Scope(("erp/orders",)))
    with pytest.raises(ValueError, match="not a source"):
        tokens.create("acme", Role.PUBLISHER, None, "test", scope=Scope(("erp orders",)))
    with pytest.raises(ValueError, match="prefix"):
        tokens.create("acme", Role.PUBLISHER, None, "test", scope=Scope((), ("Ledger.*",)))


def test_an_admin_issues_a_scoped_publisher_token_over_http(
    client: TestClient, ledger: Ledger,
) -> None:
    admin = bearer(tokens_of(client).create("acme", Role.ADMIN, None, "test"))

    issued = client.post("/v1/tokens", headers=admin, json={
        "role": "publisher", "sources": ["erp/orders"], "type_prefixes": ["ledger.operation."]})

    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["sources"], body["type_prefixes"]) == (["erp/orders"], ["ledger.operation."])
    refused = post(client, body["token"], [envelope("x", source="oa/review")])
    assert refused.json()["results"][0]["reasons"][0]["rule"] == "source_forbidden"
    [listed] = [t for t in client.get("/v1/tokens", headers=admin).json()["items"]
                if t["token_id"] == body["token_id"]]
    assert listed["sources"] == ["erp/orders"]


# --- the command line ---------------------------------------------------------------------


def _cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    for name in [k for k in os.environ if k.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    if settings.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("LEDGER_STORE_NAME", settings.store_name)
    else:
        monkeypatch.setenv("LEDGER_HOME", str(settings.home))


def test_ledger_token_create_scopes_a_publisher_with_repeated_options(
    client: TestClient, ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cli_env(monkeypatch, settings)

    created = CliRunner().invoke(token_app, [
        "create", "--tenant", "acme", "--role", "publisher", "--source", "erp/orders",
        "--source", "erp/returns", "--types", "ledger.operation.", "--types", "ledger.case."])

    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    principal = tokens_of(client).authenticate(token)
    assert principal is not None
    assert principal.sources == {"erp/orders", "erp/returns"}
    assert principal.type_prefixes == ("ledger.operation.", "ledger.case.")
    response = post(client, token, [envelope("a", source="erp/returns"),
                                    envelope("b", source="oa/review")])
    assert [r["status"] for r in response.json()["results"]] == ["recorded", "rejected"]
    monkeypatch.setattr(cli_tokens.console, "width", 200)  # the table, untruncated
    listed = CliRunner().invoke(token_app, ["list", "--tenant", "acme"])
    assert "erp/orders" in listed.output


def test_a_manager_token_for_a_unit_the_tenant_never_defined_is_refused_clearly(
    client: TestClient, ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cli_env(monkeypatch, settings)
    runner = CliRunner()
    admin = bearer(tokens_of(client).create("acme", Role.ADMIN, None, "test"))

    cli = runner.invoke(token_app, ["create", "--tenant", "acme", "--role", "manager",
                                    "--unit", "sales"])
    api = client.post("/v1/tokens", headers=admin, json={"role": "manager", "unit_id": "sales"})

    assert cli.exit_code == 2
    assert "no unit 'sales' is defined in tenant 'acme'" in cli.output
    assert api.status_code == 422
    assert "no unit 'sales' is defined" in api.json()["detail"]

    ledger.record([make_envelope("unit-sales", "ledger.org.unit.defined", data=UNIT,
                                 subject=None, source="oa/hr")])
    assert runner.invoke(token_app, ["create", "--tenant", "acme", "--role", "manager",
                                     "--unit", "sales"]).exit_code == 0
    assert client.post("/v1/tokens", headers=admin,
                       json={"role": "manager", "unit_id": "sales"}).status_code == 201
    other_tenant = client.post("/v1/tokens", headers=bearer(tokens_of(client).create(
        "globex", Role.ADMIN, None, "test")), json={"role": "manager", "unit_id": "sales"})
    assert other_tenant.status_code == 422, "a unit of another tenant is not the caller's"
