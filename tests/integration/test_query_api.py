"""The read API end to end: events in through POST /v1/events, the
engine derives, the views catch up, answers out through the query routes; on SQLite and
PostgreSQL. Every request carries a bearer token of the tenant it concerns."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.queries import ReadSide
from api.query_models import ChainOut, LiabilityPage, UnitReport, ViolationPage
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.access import Role
from projections.runner import Projections
from tests.support.api import LATENESS, Service, acme_event, bearer, issue, worked_examples


def test_e1_chain_names_lis_violating_order_as_the_source_and_li_and_zhang_as_liable(
    worked: Service,
) -> None:
    chain = ChainOut.model_validate(worked.get("/v1/cases/SO-1001/chain"))

    assert chain.responsibility_source is not None
    assert (chain.responsibility_source.event_id, chain.responsibility_source.employee_id,
            chain.responsibility_source.reason) == ("SO-1001-submitted", "e-li", "violation")
    assert [link.event_id for link in chain.links] == ["SO-1001-opened", "SO-1001-submitted"]
    assert sorted((li.basis, li.kind, li.employee_id) for li in chain.liabilities) == [
        ("review_missed", "supervisor", "e-zhang"), ("violated_policy", "direct", "e-li")]
    assert not any(li.corrected for li in chain.liabilities)


def test_e2_and_e3_chains_name_their_sources(worked: Service) -> None:
    launch = worked.get("/v1/cases/LAUNCH-1/chain")
    batch = worked.get("/v1/cases/B-77/chain")

    assert launch["responsibility_source"]["event_id"] == "LAUNCH-1-research-done"
    assert launch["responsibility_source"]["reason"] == "missed_deadline"
    assert batch["responsibility_source"]["event_id"] == "B-77-production"
    assert {(li["employee_id"], li["basis"]) for li in batch["liabilities"]} == {
        ("e-wu", "passed_defect"), ("e-qian", "passed_defect")}


def test_an_unknown_case_is_a_404_problem(worked: Service) -> None:
    response = worked.client.get("/v1/cases/NOPE/chain", headers=worked.auth())

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer lt_000000000000_nope"},
                                     {"Authorization": "Basic YWNtZTphY21l"},
                                     {"X-Ledger-Tenant": "acme"}])
@pytest.mark.parametrize("path", ["/v1/cases/SO-1001/chain", "/v1/violations",
                                  "/v1/liabilities", "/v1/reports/units"])
def test_a_read_without_a_valid_bearer_token_is_a_401_problem(
    service: Service, headers: dict[str, str], path: str
) -> None:
    response = service.client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_another_tenant_sees_nothing_of_acme(worked: Service) -> None:
    worked.ingest(worked_examples("globex")[:5])  # globex exists, with its own org only
    worked.settle()

    assert worked.status("/v1/cases/SO-1001/chain", tenant="globex") == 404
    assert worked.get("/v1/violations", tenant="globex")["items"] == []
    assert worked.get("/v1/liabilities", tenant="globex")["items"] == []
    assert worked.get("/v1/reports/units", tenant="globex")["units"] == []
    assert len(worked.get("/v1/liabilities")["items"]) == 8


def test_violations_are_listed_with_their_status_and_filtered(worked: Service) -> None:
    page = ViolationPage.model_validate(worked.get("/v1/violations"))

    assert [(v.case_id, v.employee_id, v.supervisor_id, v.unit_id, v.status)
            for v in page.items] == [("SO-1001", "e-li", "e-zhang", "sales", "missed"),
                                     ("SO-1005", "e-li", "e-zhang", "sales", "missed")]

    def cases(**params: Any) -> list[str]:
        return [v["case_id"] for v in worked.get("/v1/violations", **params)["items"]]

    assert cases(employee_id="e-li") == ["SO-1001", "SO-1005"]
    assert cases(employee_id="e-wu") == []
    assert cases(supervisor_id="e-zhang") == ["SO-1001", "SO-1005"]
    assert cases(supervisor_id="e-wang") == []  # E4: Zhang, not Wang, held the 03-05 review
    assert cases(unit_id="sales") == ["SO-1001", "SO-1005"]
    assert cases(unit_id="sales-2") == []
    assert cases(status="missed") == ["SO-1001", "SO-1005"]
    assert cases(status="open") == []
    assert cases(**{"from": "2026-03-03"}) == ["SO-1005"]
    assert cases(to="2026-03-02") == ["SO-1001"]
    assert cases(**{"from": "2026-03-05T11:30:00+08:00", "to": "2026-03-05T03:30:00Z"}) == \
        ["SO-1005"]


def test_an_approval_of_the_violating_order_shows_as_approved(service: Service) -> None:
    service.ingest([*worked_examples(), acme_event(
        "appr-1001", "ledger.operation.approved", "2026-03-02T12:00:00+08:00",
        {"actor_id": "e-zhang", "target_id": "SO-1001-submitted"}, "SO-1001")])
    service.settle()

    violations = {v["case_id"]: v for v in service.get("/v1/violations")["items"]}

    assert (violations["SO-1001"]["status"], violations["SO-1001"]["approved_by"]) == \
        ("approved", "e-zhang")
    assert violations["SO-1005"]["status"] == "missed"


def test_an_escalated_review_shows_its_new_holder_and_then_its_review(service: Service) -> None:
    def org(event_id: str, employee: str, supervisor: str) -> dict[str, Any]:
        return acme_event(event_id, "ledger.org.employee.assigned", "2026-01-01T00:00:00+08:00",
                          {"employee_id": employee, "name": employee, "unit_id": "sales",
                           "supervisor_id": supervisor})

    service.ingest([
        org("a-li", "e-li", "e-zhang"), org("a-zhang", "e-zhang", "e-boss"),
        acme_event("policy", "ledger.policy.defined", "2026-02-01T00:00:00+08:00", {
            "policy_id": "return-window", "version": 1, "applies_to": "sales_order",
            "rule": "payload.return_days <= 3", "severity": "major", "review_within": "PT24H",
            "escalate_levels": 2}),
        acme_event("SO-2001-submitted", "ledger.operation.submitted",
                   "2026-03-02T10:00:00+08:00", {"actor_id": "e-li", "operation": "sales_order",
                                                 "payload": {"return_days": 7}}, "SO-2001"),
        # Later business elsewhere moves the watermark past Zhang's due, not past Boss's.
        acme_event("SO-2002-opened", "ledger.case.opened", "2026-03-03T12:00:00+08:00",
                   {"title": "another order", "opened_by": "e-li"}, "SO-2002"),
    ])
    service.settle()

    [escalated] = service.get("/v1/violations")["items"]
    assert (escalated["status"], escalated["supervisor_id"], escalated["flagged_supervisor_id"],
            escalated["review_due"]) == ("escalated", "e-boss", "e-zhang",
                                         "2026-03-04T10:00:00+08:00")
    assert service.get("/v1/violations", supervisor_id="e-boss")["items"] == [escalated]

    service.ingest([acme_event("rev-2001", "ledger.violation.reviewed",
                               "2026-03-04T09:00:00+08:00",
                               {"actor_id": "e-boss", "violation_id": "SO-2001-submitted",
                                "decision": "upheld"}, "SO-2001")])
    service.settle()

    [reviewed] = service.get("/v1/violations", status="reviewed")["items"]
    assert (reviewed["reviewed_by"], reviewed["decision"], reviewed["missed_due"]) == (
        "e-boss", "upheld", "2026-03-03T10:00:00+08:00")


def test_liabilities_are_listed_and_filtered(worked: Service) -> None:
    page = LiabilityPage.model_validate(worked.get("/v1/liabilities"))
    assert len(page.items) == 8
    assert [li.at for li in page.items] == sorted(
        (li.at for li in page.items), key=lambda at: at[:10])  # business-time order

    def who(**params: Any) -> list[tuple[str, str]]:
        return sorted((li["employee_id"], li["basis"])
                      for li in worked.get("/v1/liabilities", **params)["items"])

    assert who(kind="supervisor") == [("e-zhang", "review_missed")] * 2
    assert who(basis="missed_deadline") == [("e-zhao", "missed_deadline"),
                                            ("e-zhou", "missed_deadline")]
    assert who(employee_id="e-qian") == [("e-qian", "passed_defect")]
    assert who(unit_id="plant") == [("e-wu", "passed_defect")]
    assert who(**{"from": "2026-05-01", "to": "2026-05-31"}) == [
        ("e-qian", "passed_defect"), ("e-wu", "passed_defect")]
    assert who(employee_id="e-li", to="2026-03-02T01:59:59Z") == []
    assert who(employee_id="e-li", to="2026-03-02T02:00:00Z") == [("e-li", "violated_policy")]


def test_bad_query_parameters_are_422_problems(worked: Service) -> None:
    for params in ({"kind": "nonsense"}, {"from": "yesterday"},
                   {"from": "2026-03-02T10:00:00"}, {"limit": "0"}, {"cursor": "!!"}):
        response = worked.client.get("/v1/liabilities", params=params, headers=worked.auth())
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status", "detail"} <= set(response.json())


def test_pages_follow_one_another_without_repeats_or_gaps(worked: Service) -> None:
    everything = [li["liability_id"] for li in worked.get("/v1/liabilities")["items"]]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = worked.get("/v1/liabilities", **params)
        seen += [li["liability_id"] for li in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == everything
    assert len(set(seen)) == 8


def test_corrected_liabilities_are_shown_and_marked(worked: Service) -> None:
    worked.ingest([acme_event("assign-e-li-late", "ledger.org.employee.assigned",
                              "2026-02-20T09:00:00+08:00", {
                                  "employee_id": "e-li", "name": "李娜 Li Na",
                                  "unit_id": "sales-2", "supervisor_id": "e-wang"})])
    worked.settle()

    missed = worked.get("/v1/liabilities", basis="review_missed")["items"]
    corrected = [li for li in missed if li["corrected"]]
    assert sorted(li["employee_id"] for li in corrected) == ["e-zhang", "e-zhang"]
    assert all(li["replaced_by"] and li["corrected_reason"] for li in corrected)
    chain = worked.get("/v1/cases/SO-1001/chain")
    marks = {(li["employee_id"], li["basis"], li["corrected"]) for li in chain["liabilities"]}
    assert marks == {("e-li", "violated_policy", False), ("e-zhang", "review_missed", True),
                     ("e-wang", "review_missed", False)}


def test_the_unit_report_counts_and_ranks_units_over_a_period(worked: Service) -> None:
    report = UnitReport.model_validate(worked.get("/v1/reports/units"))
    units = {u.unit_id: u for u in report.units}

    assert (units["sales"].violations, units["sales"].liabilities,
            units["sales"].steps_due, units["sales"].completion_rate) == (2, 4, 0, None)
    assert (units["market"].steps_due, units["market"].steps_overdue,
            units["market"].completion_rate) == (1, 1, 0.0)
    assert (units["product"].steps_on_time, units["product"].completion_rate) == (1, 1.0)
    assert units["product"].name == "产品部 Product"
    assert [(u.unit_id, u.rank) for u in report.units] == [
        ("product", 1), ("plant", 2), ("qa", 2), ("market", 4), ("tech", 4), ("sales", 6)]

    april = worked.get("/v1/reports/units", **{"from": "2026-04-01", "to": "2026-04-30"})
    assert {u["unit_id"] for u in april["units"]} == {"market", "product", "tech"}
    assert (april["from"], april["to"]) == ("2026-04-01", "2026-04-30")


def test_a_live_worker_keeps_the_views_current_for_queries(
    ledger: Ledger, settings: Settings
) -> None:
    projections = Projections(ledger.store, store_name=settings.store_name, lateness=LATENESS)
    engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock)
    read_side = ReadSide(ledger, projections=projections, run_projections=True,
                         upstream=engine.run_once, idle_s=0.05)
    try:
        with TestClient(create_app(ledger, read_side=read_side)) as client:
            publisher, auditor = bearer(issue(client, Role.PUBLISHER)), bearer(issue(client))
            posted = client.post("/v1/events", json=worked_examples(), headers=publisher)
            assert posted.status_code == 200
            deadline = time.monotonic() + 20
            liabilities: list[Any] = []
            while time.monotonic() < deadline and len(liabilities) < 8:
                liabilities = client.get("/v1/liabilities", headers=auditor).json()["items"]
            assert len(liabilities) == 8
            chain = client.get("/v1/cases/SO-1001/chain", headers=auditor).json()
            assert chain["responsibility_source"]["employee_id"] == "e-li"
        assert read_side.worker is None  # stopped with the app
    finally:
        projections.drop()


# --- errors and the OpenAPI document ----------------------------------------------------

def test_unknown_routes_wrong_methods_and_bad_parameters_answer_problem_documents(
    service: Service,
) -> None:
    unknown = service.client.get("/v1/nothing-here", headers=service.auth())
    wrong_method = service.client.delete("/v1/violations", headers=service.auth())
    invalid = service.client.get("/v1/violations", params={"limit": "many"},
                                 headers=service.auth())

    for response, status in ((unknown, 404), (wrong_method, 405), (invalid, 422)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert (body["type"], body["status"]) == ("about:blank", status)
        assert body["title"] and body["detail"]
    assert "GET" in wrong_method.headers["allow"]
    assert [e["location"] for e in invalid.json()["errors"]] == ["query.limit"]


def test_an_unexpected_failure_is_a_500_problem_that_tells_nothing_of_the_inside(
    ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("projections.reads.ReadModels.chain", broken)
    projections = Projections(ledger.store, store_name=settings.store_name, lateness=LATENESS)
    app = create_app(ledger, read_side=ReadSide(ledger, projections=projections))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/v1/cases/SO-1001/chain", headers=bearer(issue(client)))
    finally:
        projections.drop()

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text


PUBLIC = {"/healthz", "/readyz"}


def test_every_route_in_the_openapi_document_has_a_summary_examples_and_its_problems(
    service: Service,
) -> None:
    spec = service.client.get("/openapi.json").json()

    assert spec["components"]["securitySchemes"]["bearer"] == {
        **spec["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            responses = operation["responses"]
            successes = [s for s in responses if s.startswith("2")]
            assert successes, where
            for status in successes:
                content = responses[status].get("content", {})
                assert status == "204" or content, where
                assert all("example" in c for c in content.values()), where
                json_schema = content.get("application/json", {}).get("schema", {})
                assert json_schema.get("type") != "string", where  # models, not "a string"
            for status, response in responses.items():
                if status[0] in "45":
                    assert set(response["content"]) == {"application/problem+json"}, where
                    assert "example" in response["content"]["application/problem+json"], where
            if path in PUBLIC:
                assert "security" not in operation, where
                continue
            assert operation["security"] == [{"bearer": []}], where
            assert {"401", "403", "404"} <= set(responses), where
