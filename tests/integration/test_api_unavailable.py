"""A store that cannot take a request right now is a 503 problem with Retry-After; the
ledger's other errors that no route answers are 500s that tell nothing of the inside.

The faults are injected at the edge: one method of a real SQLite store raises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.adapters.store import AppendConflict, EventStore, StoreUnavailable
from ledger.adapters.validation import EventValidator
from ledger.application.evidence import StoreDamagedError
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.access import Role
from tests.support.api import bearer, issue
from tests.support.clock import FixedClock
from tests.support.envelopes import envelope


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(EventStore(Settings(home=tmp_path, database_url=None)), EventValidator(),
                    FixedClock())
    yield ledger
    ledger.store.close()


def _client(ledger: Ledger, retry_after_s: int = 1) -> TestClient:
    return TestClient(create_app(ledger, retry_after_s=retry_after_s),
                      raise_server_exceptions=False)


def _appends_raise(monkeypatch: pytest.MonkeyPatch, ledger: Ledger, error: Exception) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise error

    monkeypatch.setattr(ledger.store, "append_linked", refuse)


@pytest.mark.parametrize(("error", "code"), [
    (StoreUnavailable("canceling statement due to lock timeout"), "store-unavailable"),
    # Conflicting on every attempt: the ledger gives up with LedgerUnavailable.
    (AppendConflict("duplicate key value violates unique constraint"), "ledger-unavailable"),
])
def test_a_post_the_store_cannot_take_in_time_is_a_503_problem_with_retry_after(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, error: Exception, code: str,
) -> None:
    with _client(ledger, retry_after_s=7) as client:
        headers = bearer(issue(client, Role.PUBLISHER))
        _appends_raise(monkeypatch, ledger, error)
        response = client.post("/v1/events", json=envelope("a"), headers=headers)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {k: body[k] for k in ("type", "title", "status", "code", "retryable")} == {
        "type": "about:blank", "title": "Service Unavailable", "status": 503, "code": code,
        "retryable": True}
    assert "7 s" in body["detail"] and "lock timeout" not in body["detail"]
    assert list(ledger.store.entries("acme")) == []


def test_the_same_post_sent_again_once_the_store_takes_it_is_recorded(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _client(ledger) as client:
        headers = bearer(issue(client, Role.PUBLISHER))
        with monkeypatch.context() as patched:
            _appends_raise(patched, ledger, StoreUnavailable("connection refused"))
            refused = client.post("/v1/events", json=envelope("a"), headers=headers)
        again = client.post("/v1/events", json=envelope("a"), headers=headers)

    assert (refused.status_code, again.status_code) == (503, 200)
    assert again.json()["results"][0]["status"] == "recorded"


def test_a_ledger_error_no_route_answers_is_a_500_problem_without_retry_after(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _client(ledger) as client:
        headers = bearer(issue(client, Role.PUBLISHER))
        _appends_raise(monkeypatch, ledger, StoreDamagedError("secret internals"))
        response = client.post("/v1/events", json=envelope("a"), headers=headers)

    assert response.status_code == 500
    assert "retry-after" not in response.headers
    assert response.json()["code"] == "store-damaged"
    assert "secret" not in response.text
