"""The HTTP API over one store, as the read-side tests drive it: tokens, ingest, settle, ask."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from fastapi.testclient import TestClient

from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.application.tokens import TokenService
from ledger.config import Settings
from ledger.domain.access import Role
from ledger.resources import WORKED_EXAMPLES
from projections.runner import Projections
from tests.support.envelopes import make_envelope

LATENESS = timedelta(minutes=5)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(client: TestClient, role: Role = Role.AUDITOR, tenant: str = "acme",
          unit: str | None = None) -> str:
    """A new token of the app's own token service (as `ledger token create` makes them)."""
    tokens: TokenService = client.app.state.tokens  # type: ignore[attr-defined]
    return tokens.create(tenant, role, unit, "test")


def worked_examples(tenant: str = "acme") -> list[dict[str, Any]]:
    lines = WORKED_EXAMPLES.read_bytes().splitlines()
    return [{**orjson.loads(line), "tenant": tenant} for line in lines if line.strip()]


def acme_event(event_id: str, type_: str, time: str, data: dict[str, Any],
               subject: str | None = None) -> dict[str, Any]:
    return make_envelope(event_id, type_, time, data, source="oa/review", subject=subject)


class Service:
    """The API over one store, with the engine and the projections run by hand."""

    def __init__(self, ledger: Ledger, settings: Settings, client: TestClient,
                 projections: Projections) -> None:
        self.ledger, self.settings, self.client = ledger, settings, client
        self.projections = projections
        self._tokens: dict[tuple[Role, str, str | None], str] = {}

    def token(self, role: Role = Role.AUDITOR, tenant: str = "acme",
              unit: str | None = None) -> str:
        """One token per role, tenant and unit, issued on first use."""
        key = (role, tenant, unit)
        if key not in self._tokens:
            self._tokens[key] = issue(self.client, role, tenant, unit)
        return self._tokens[key]

    def auth(self, role: Role = Role.AUDITOR, tenant: str = "acme",
             unit: str | None = None) -> dict[str, str]:
        return bearer(self.token(role, tenant, unit))

    def ingest(self, events: list[dict[str, Any]]) -> None:
        """Published with a publisher token of the events' tenant."""
        headers = self.auth(Role.PUBLISHER, events[0]["tenant"])
        response = self.client.post("/v1/events", json=events, headers=headers)
        assert response.status_code == 200, response.text

    def settle(self) -> None:
        """The engine derives until idle; the views catch up."""
        ResponsibilityEngine(self.ledger, LATENESS, self.ledger.clock).run_until_idle()
        self.projections.catch_up()

    def get(self, path: str, tenant: str = "acme", role: Role = Role.AUDITOR,
            unit: str | None = None, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.auth(role, tenant, unit))
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, path: str, tenant: str = "acme", role: Role = Role.AUDITOR,
               unit: str | None = None, **params: Any) -> int:
        response = self.client.get(path, params=params, headers=self.auth(role, tenant, unit))
        return int(response.status_code)
