"""Reading what was just written: POST answers `ledger_position`, a GET with
`min_position` waits for derivation and the read models (bounded), and the quarantine is
visible at GET /v1/quarantine (both backends)."""

from __future__ import annotations

import threading

import pytest

from api.freshness import NotYetDerived, PositionWatch
from ledger.application.derivation import ResponsibilityEngine
from ledger.domain.access import Role
from tests.integration.test_quarantine import CrashingEvaluator, tenant_events
from tests.support.api import LATENESS, Service


def post(service: Service, events: list[dict[str, object]]) -> int:
    headers = service.auth(Role.PUBLISHER, "acme")
    response = service.client.post("/v1/events", json=events, headers=headers)
    assert response.status_code == 200, response.text
    position = response.json()["ledger_position"]
    assert isinstance(position, int)
    return position


def test_a_post_answers_the_tenants_ledger_position_after_the_append(service: Service) -> None:
    events = tenant_events("acme", poison=False)
    assert post(service, events) == len(events)
    assert post(service, events) == len(events)  # duplicates append nothing


def test_a_get_with_min_position_answers_once_derivation_and_the_views_reach_it(
    service: Service,
) -> None:
    position = post(service, tenant_events("acme", poison=False))
    settle = threading.Timer(0.3, service.settle)
    settle.start()
    try:
        liabilities = service.get("/v1/liabilities", min_position=position)
    finally:
        settle.join()
    assert liabilities["items"], "the verdicts of what was just posted are there"


def test_a_get_with_min_position_not_reached_in_time_is_503_with_retry_after(
    service: Service,
) -> None:
    service.client.app.state.min_position_wait_s = 0.2  # type: ignore[attr-defined]
    position = post(service, tenant_events("acme", poison=False))
    response = service.client.get("/v1/liabilities", params={"min_position": position},
                                  headers=service.auth())
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json()["code"] == "not-yet-derived"


def test_a_get_with_min_position_does_not_wait_for_other_tenants_entries(
    service: Service,
) -> None:
    service.client.app.state.min_position_wait_s = 0.2  # type: ignore[attr-defined]
    position = post(service, tenant_events("acme", poison=False))
    service.settle()
    service.ledger.record(tenant_events("beta", poison=False))  # neither derived nor projected

    response = service.client.get("/v1/liabilities", params={"min_position": position},
                                  headers=service.auth())

    assert response.status_code == 200, response.text
    assert response.json()["items"]


def test_many_waits_on_one_watcher_are_all_answered_once_derivation_and_the_views_reach_it(
    service: Service,
) -> None:
    position = post(service, tenant_events("acme", poison=False))
    watch = PositionWatch(service.ledger.store, lambda: service.projections, poll_s=0.01)
    answered: list[str] = []

    def wait() -> None:
        watch.wait("acme", position, 10.0)
        answered.append("ok")

    waiters = [threading.Thread(target=wait) for _ in range(8)]
    for waiter in waiters:
        waiter.start()
    service.settle()
    for waiter in waiters:
        waiter.join(15)
    assert answered == ["ok"] * 8


def test_a_wait_on_the_watcher_past_its_time_says_not_yet_derived(service: Service) -> None:
    position = post(service, tenant_events("acme", poison=False))
    watch = PositionWatch(service.ledger.store, lambda: service.projections, poll_s=0.01)
    with pytest.raises(NotYetDerived):
        watch.wait("acme", position, 0.2)


def test_quarantined_cases_are_listed_for_admins_and_auditors(service: Service) -> None:
    post(service, tenant_events("acme", poison=True))
    ResponsibilityEngine(service.ledger, LATENESS, service.ledger.clock,
                         evaluator=CrashingEvaluator()).run_until_idle()

    listed = service.get("/v1/quarantine")["items"]
    as_admin = service.get("/v1/quarantine", role=Role.ADMIN)["items"]

    assert [(q["stage"], q["case_id"]) for q in listed] == [("derivation", "SO-BAD")]
    assert as_admin == listed
    assert service.status("/v1/quarantine", role=Role.MANAGER, unit="sales") == 403
