"""One tenant's poison never holds up another tenant's verdicts (both backends).

The poison table's times and durations (an event time with second 60, a review_within of
P999999999Y, a step due in P99999999D) no longer reach derivation: they are refused at
ingest, over HTTP, and the other tenant's verdicts come as usual. A rule that never
finishes does reach it: the rule sandbox's budget ends its evaluation with an outcome
("could not be evaluated within budget"), the service keeps answering, and the other
tenant's verdict is derived within 2 s of being posted, by a derivation loop running
beside the API as a worker does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.adapters.rule_sandbox import SandboxConfig, SandboxedEvaluator
from ledger.application.derivation import ResponsibilityEngine, derivation_reached
from ledger.application.recording import Ledger
from ledger.domain.access import Role
from tests.integration.test_quarantine import tenant_events
from tests.support.api import LATENESS, Service
from tests.support.envelopes import make_envelope
from tests.support.scenario import submit

VERDICT_WITHIN_S = 2.0
POLICY = {"policy_id": "P-9", "version": 1, "applies_to": "sales_order",
          "rule": "payload.return_days <= 3", "severity": "major", "review_within": "PT24H"}
STEP: dict[str, Any] = {"step": "draft", "lead": {"unit_id": "sales"}, "due": "P2D"}
PROCESS = {"process_id": "launch", "version": 1, "steps": [STEP]}
#: Within every static limit, quadratic in the payload's list: never done within budget.
NEVER_FINISHES = "payload.xs.all(a, payload.xs.all(b, a + b >= 0))"

POISON: dict[str, tuple[Callable[[], dict[str, Any]], str, str]] = {
    "an event time with second 60": (
        lambda: make_envelope("p-60", time="2026-03-02T23:59:60Z", tenant="acme"),
        "invalid_time", "time"),
    "a review_within of P999999999Y": (
        lambda: make_envelope("p-review", "ledger.policy.defined", subject=None, tenant="acme",
                              data={**POLICY, "review_within": "P999999999Y"}),
        "duration_out_of_range", "data.review_within"),
    "a step due in P99999999D": (
        lambda: make_envelope("p-step", "ledger.process.defined", subject=None, tenant="acme",
                              data={**PROCESS, "steps": [{**STEP, "due": "P99999999D"}]}),
        "duration_out_of_range", "data.steps.0.due"),
}


def post(service: Service, tenant: str, events: list[dict[str, Any]]) -> Any:
    return service.client.post("/v1/events", json=events,
                               headers=service.auth(Role.PUBLISHER, tenant))


def flagged(ledger: Ledger, tenant: str, case: str) -> list[dict[str, Any]]:
    return [e.envelope for e in ledger.store.iter_entries(tenant)
            if e.envelope.get("type") == "violation.flagged" and e.envelope["subject"] == case]


class Deriving:
    """A derivation loop beside the API (what `ledger work` runs), in a thread."""

    def __init__(self, engine: ResponsibilityEngine) -> None:
        self.engine = engine
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.engine.run_once() == 0:
                self.stop.wait(0.02)

    def __enter__(self) -> Deriving:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(30)


@pytest.fixture
def sandbox() -> Iterator[SandboxedEvaluator]:
    box = SandboxedEvaluator(SandboxConfig(workers=1, budget_s=0.2))
    yield box
    box.close()


def _verdict_arrives(service: Service, tenant: str, case: str) -> float:
    """Post a breaching order for `tenant`; seconds until its violation is derived."""
    started = time.monotonic()
    response = post(service, tenant, [{**submit(case, case, "2026-03-06T09:00:00+08:00",
                                                days=9), "tenant": tenant}])
    assert response.status_code == 200, response.text
    position = response.json()["ledger_position"]
    while time.monotonic() - started < 10:
        if flagged(service.ledger, tenant, case) and \
                derivation_reached(service.ledger.store, tenant, position):
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"{tenant}'s verdict on {case} did not arrive in 10 s")


@pytest.mark.parametrize("row", sorted(POISON))
def test_a_poison_time_or_duration_is_refused_at_ingest_and_the_other_tenant_goes_on(
    service: Service, row: str,
) -> None:
    build, rule, field = POISON[row]
    post(service, "beta", tenant_events("beta", poison=False))

    response = post(service, "acme", [build()])

    assert response.status_code == 422, response.text
    (outcome,) = response.json()["results"]
    assert outcome["status"] == "rejected"
    assert (rule, field) in {(r["rule"], r["field"]) for r in outcome["reasons"]}
    assert list(service.ledger.store.iter_entries("acme")) == []
    with Deriving(ResponsibilityEngine(service.ledger, LATENESS, service.ledger.clock)):
        assert _verdict_arrives(service, "beta", "SO-NEXT") < VERDICT_WITHIN_S


def test_a_rule_that_never_finishes_ends_with_an_outcome_and_the_other_tenant_goes_on(
    service: Service, sandbox: SandboxedEvaluator,
) -> None:
    hostile = {**POLICY, "policy_id": "return-window", "rule": NEVER_FINISHES}
    acme = [e for e in tenant_events("acme", poison=False)
            if e["type"] != "ledger.policy.defined"]
    acme.insert(len(acme) - 4, make_envelope("p-never", "ledger.policy.defined", subject=None,
                                             tenant="acme", data=hostile, source="hr/policies"))
    acme.append({**submit("SO-BIG", "SO-BIG", "2026-03-05T10:00:00+08:00"), "tenant": "acme",
                 "data": {"actor_id": "e-li", "operation": "sales_order",
                          "payload": {"return_days": 1, "xs": list(range(3000))}}})
    assert post(service, "beta", tenant_events("beta", poison=False)).status_code == 200
    engine = ResponsibilityEngine(service.ledger, LATENESS, service.ledger.clock,
                                  evaluator=sandbox)
    with Deriving(engine):
        engine.mark_dirty({"beta"})
        assert post(service, "acme", acme).status_code == 200
        took = _verdict_arrives(service, "beta", "SO-NEXT")
        started = time.monotonic()
        assert service.client.get("/healthz").json() == {"status": "ok"}
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 20
        while not flagged(service.ledger, "acme", "SO-BIG") and time.monotonic() < deadline:
            time.sleep(0.05)

    assert took < VERDICT_WITHIN_S, f"beta's verdict took {took:.2f} s"
    (big,) = flagged(service.ledger, "acme", "SO-BIG")
    assert "could not be evaluated within budget" in big["data"]["reason"]
