"""The work queries on both backends (docs/http-api.md): a month's scores for a unit, a
manager's queue, and who held a permission when."""

from __future__ import annotations

from typing import Any

import pytest

from api.work_models import Holders, ObligationPage, Scores
from ledger.domain.access import Role
from tests.support.api import Service
from tests.support.scenario import SALES_ORG, act, assign, event, policy, submit, tick

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def scheme(version: int, time: str, violated_policy: int) -> dict[str, Any]:
    return event(f"kpi-v{version}", "ledger.scoring.defined", time, {
        "scheme_id": "kpi", "version": version,
        "penalties": {"violated_policy": violated_policy, "review_missed": 3},
        "severity_factor": {"minor": 0.5, "major": 1, "critical": 2},
        "bonuses": {"step_on_time": 1, "review_done": 1}}, source="hr/appraisal")


def review(eid: str, case: str, time: str, actor: str) -> dict[str, Any]:
    return act(eid, "ledger.violation.reviewed", case, time, actor_id=actor,
               violation_id=f"{case}-submitted", decision="upheld")


#: March at two stores. Wu moves from Zhang's store to Wang's on the 16th, the day the
#: scheme doubles the points of a broken policy. Zhang reviews Li's first order but not
#: Wu's; Wang reviews Wu's later one; Li's appeal against her last violation is overturned.
MARCH_AT_THE_STORES = [
    *SALES_ORG, policy(),
    assign("e-wu", "sales", "e-zhang"),
    assign("e-wu", "sales-2", "e-wang", time="2026-03-16T09:00:00+08:00"),
    scheme(1, "2026-03-01T00:00:00+08:00", 5),
    scheme(2, "2026-03-16T00:00:00+08:00", 10),
    submit("SO-1-submitted", "SO-1", "2026-03-02T10:00:00+08:00"),
    review("SO-1-review", "SO-1", "2026-03-02T18:00:00+08:00", "e-zhang"),
    submit("SO-2-submitted", "SO-2", "2026-03-10T10:00:00+08:00", actor="e-wu"),
    submit("SO-3-submitted", "SO-3", "2026-03-20T10:00:00+08:00", actor="e-wu"),
    review("SO-3-review", "SO-3", "2026-03-20T15:00:00+08:00", "e-wang"),
    submit("SO-4-submitted", "SO-4", "2026-03-25T10:00:00+08:00"),
    review("SO-4-review", "SO-4", "2026-03-25T12:00:00+08:00", "e-zhang"),
    # still open at the month's end: due 04-01 20:00, due soon by the watermark
    submit("SO-5-submitted", "SO-5", "2026-03-31T20:00:00+08:00"),
    tick("2026-04-01T00:10:00+08:00"),
]


@pytest.fixture
def march(service: Service) -> Service:
    service.ingest(MARCH_AT_THE_STORES)
    service.settle()
    liabilities = service.get("/v1/liabilities", employee_id="e-li", case_id="SO-4")["items"]
    appealed = next(li["liability_id"] for li in liabilities if li["case_id"] == "SO-4")
    service.ingest([
        event("SO-4-appeal", "ledger.liability.appealed", "2026-03-26T09:00:00+08:00",
              {"liability_id": appealed, "actor_id": "e-li", "reason": "approved in writing"},
              "SO-4", source="hr/appraisal"),
        event("SO-4-decided", "ledger.appeal.decided", "2026-03-27T09:00:00+08:00",
              {"liability_id": appealed, "actor_id": "e-hr", "decision": "overturned",
               "reason": "written approval found"}, "SO-4", source="hr/appraisal"),
    ])
    service.settle()
    return service


def people(document: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {p["employee_id"]: (p["penalty"], p["bonus"], p["total"])
            for p in document["employees"]}


def test_a_months_scores_follow_the_scheme_in_force_and_the_unit_at_each_records_time(
    march: Service,
) -> None:
    document = march.get("/v1/scores", role=Role.HR, **MARCH)
    Scores.model_validate(document)

    assert people(document) == {
        "e-li": (15, 0, -15),  # SO-1 on v1, SO-5 on v2; SO-4 overturned counts nothing
        "e-wu": (15, 0, -15),  # SO-2 on v1 in sales, SO-3 on v2 in sales-2
        "e-zhang": (3, 2, -1),  # two reviews done, Wu's SO-2 missed
        "e-wang": (0, 1, 1),
    }
    units = {u["unit_id"]: (u["members"], u["penalty"], u["bonus"], u["total"])
             for u in document["units"]}
    assert units == {"sales": (3, 23, 2, -21), "sales-2": (2, 10, 1, -9)}
    li = next(p for p in document["employees"] if p["employee_id"] == "e-li")
    assert [(i["case_id"], i["points"], i["status"], i["scheme_version"])
            for i in li["items"]] == [("SO-1", -5, "counted", 1),
                                      ("SO-4", 0, "overturned", 2),
                                      ("SO-5", -10, "counted", 2)]
    assert all(i["event_ids"] for p in document["employees"] for i in p["items"])


def test_a_units_scores_are_its_members_records_while_they_belonged_to_it(
    march: Service,
) -> None:
    document = march.get("/v1/scores", role=Role.HR, unit_id="sales", **MARCH)

    assert people(document) == {"e-li": (15, 0, -15), "e-wu": (5, 0, -5),
                                "e-zhang": (3, 2, -1)}
    assert march.get("/v1/scores", role=Role.HR, **{"from": "2026-03-16", "to": "2026-03-31"},
                     unit_id="sales-2")["units"][0]["total"] == -9


def test_scores_download_as_csv_and_xlsx_and_the_download_is_audited(march: Service) -> None:
    csv = march.client.get("/v1/scores", params={**MARCH, "format": "csv"},
                           headers=march.auth(Role.HR))
    xlsx = march.client.get("/v1/scores", params={**MARCH, "format": "xlsx"},
                            headers=march.auth(Role.HR))

    assert csv.status_code == xlsx.status_code == 200
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("employee_id,unit_id,record")
    # formula-safe: a leading minus is quoted, as in every export
    assert any(line.startswith("e-wu,sales-2,liability,") and ",'-10," in line for line in lines)
    assert xlsx.content[:2] == b"PK"
    trail = march.get("/v1/audit/evidence-reads")["items"]
    assert [r["route"] for r in trail].count("/v1/scores") == 2


def test_scores_download_as_a_pdf_in_chinese_or_english_with_page_numbers(
    march: Service,
) -> None:
    import io

    from pypdf import PdfReader

    zh = march.client.get("/v1/scores", params={**MARCH, "format": "pdf"},
                          headers=march.auth(Role.HR))
    en = march.client.get("/v1/scores", params={**MARCH, "format": "pdf"},
                          headers={**march.auth(Role.HR), "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 200
    assert zh.headers["content-type"] == "application/pdf"
    assert '.pdf"' in zh.headers["content-disposition"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(zh.content)).pages)
    assert "考核积分" in text and "第 1 页 / 共" in text
    assert "e-wu" in text and "-10" in text and "计分" in text
    english = "".join(p.extract_text() for p in PdfReader(io.BytesIO(en.content)).pages)
    assert "Scores for appraisal" in english and "Page 1 of" in english
    trail = march.get("/v1/audit/evidence-reads")["items"]
    assert [r["format"] for r in trail if r["route"] == "/v1/scores"].count("pdf") == 2


def test_a_manager_sees_the_queue_of_their_units_with_what_is_due_soon(march: Service) -> None:
    queue = ObligationPage.model_validate(
        march.get("/v1/obligations", role=Role.MANAGER, unit="sales"))
    mine = [(o.case_id, o.holder_id, o.status, o.due_soon) for o in queue.items]

    assert mine == [("SO-1", "e-zhang", "done", False), ("SO-2", "e-zhang", "missed", False),
                    ("SO-4", "e-zhang", "done", False), ("SO-5", "e-zhang", "open", True)]
    assert [o["case_id"] for o in march.get(
        "/v1/obligations", role=Role.MANAGER, unit="sales-2")["items"]] == ["SO-3"]
    assert [o["case_id"] for o in march.get(
        "/v1/obligations", status="open")["items"]] == ["SO-5"]
    assert [o["case_id"] for o in march.get(
        "/v1/obligations", holder_id="e-zhang", due_before="2026-03-12")["items"]] == [
        "SO-1", "SO-2"]
    assert march.status("/v1/obligations", role=Role.HR) == 403


def test_the_queue_pages_by_due_time(march: Service) -> None:
    first = march.get("/v1/obligations", limit=2)
    second = march.get("/v1/obligations", limit=2, cursor=first["next_cursor"])
    rest = march.get("/v1/obligations", limit=10, cursor=second["next_cursor"])

    cases = [o["case_id"] for page in (first, second, rest) for o in page["items"]]
    assert cases == ["SO-1", "SO-2", "SO-3", "SO-4", "SO-5"]
    assert rest["next_cursor"] is None


ROLES = [
    event("role-approver-v1", "ledger.access.role.defined", "2026-01-01T00:00:00+08:00",
          {"role": "refund-approver", "permissions": ["approve_refund"],
           "responsibilities": ["sales_order"]}),
    event("grant-zhang", "ledger.access.role.granted", "2026-01-02T00:00:00+08:00",
          {"employee_id": "e-zhang", "role": "refund-approver"}),
    event("grant-wang", "ledger.access.role.granted", "2026-01-02T00:00:00+08:00",
          {"employee_id": "e-wang", "role": "refund-approver"}),
    # revoked the day before an approval, and the role redefined without the permission later
    event("revoke-wang", "ledger.access.role.revoked", "2026-03-09T00:00:00+08:00",
          {"employee_id": "e-wang", "role": "refund-approver"}),
    event("role-approver-v2", "ledger.access.role.defined", "2026-05-01T00:00:00+08:00",
          {"role": "refund-approver", "permissions": [], "responsibilities": []}),
]


def test_permission_holders_at_a_time_name_the_grant_behind_each(service: Service) -> None:
    service.ingest(list(reversed(ROLES)))  # arrival order does not matter
    service.settle()

    def holders(at: str) -> list[tuple[str, str, list[str]]]:
        answer = Holders.model_validate(service.get(
            "/v1/permissions/approve_refund/holders", role=Role.HR, at=at))
        return [(h.employee_id, h.grant_event_id, h.event_ids) for h in answer.holders]

    assert holders("2026-03-08T12:00:00+08:00") == [
        ("e-wang", "grant-wang", ["grant-wang", "role-approver-v1"]),
        ("e-zhang", "grant-zhang", ["grant-zhang", "role-approver-v1"])]
    assert holders("2026-03-10T12:00:00+08:00") == [
        ("e-zhang", "grant-zhang", ["grant-zhang", "role-approver-v1"])]
    assert holders("2026-05-02T00:00:00+08:00") == []
    assert holders("2025-12-31T00:00:00+08:00") == []
    assert service.status("/v1/permissions/approve_refund/holders", at="2026-03-10") == 422
    assert service.status("/v1/permissions/approve_refund/holders", role=Role.MANAGER,
                          unit="sales", at="2026-03-10T00:00:00Z") == 403
