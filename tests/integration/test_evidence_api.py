"""HR evidence: every liability and positive record of an employee with
the ledger events behind them, as JSON, CSV, XLSX and PDF; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from pypdf import PdfReader

from ledger.domain.access import Role
from tests.support.api import Service, bearer


def test_evidence_lists_liabilities_with_the_events_behind_them(worked: Service) -> None:
    doc = worked.get("/v1/employees/e-zhang/evidence")
    assert {(li["basis"], li["case_id"]) for li in doc["liabilities"]} == {
        ("review_missed", "SO-1001"), ("review_missed", "SO-1005")}
    assert {e["event_id"] for e in doc["events"]} >= {"SO-1001-submitted", "SO-1005-submitted"}
    assert all(e["entry_hash"] for e in doc["events"])


def test_evidence_includes_positive_records(worked: Service) -> None:
    doc = worked.get("/v1/employees/e-sun/evidence")
    assert [p["duty"] for p in doc["positive_records"]] == ["step_on_time"]


def test_evidence_is_limited_to_the_period(worked: Service) -> None:
    doc = worked.get("/v1/employees/e-zhang/evidence", **{"from": "2026-03-04", "to": "2026-03-31"})
    assert [li["case_id"] for li in doc["liabilities"]] == ["SO-1005"]


def test_evidence_exports_in_every_format(worked: Service) -> None:
    headers = worked.auth(Role.HR)
    base = "/v1/employees/e-zhang/evidence"
    csv_body = worked.client.get(base, params={"format": "csv"}, headers=headers)
    rows = list(csv.reader(io.StringIO(csv_body.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["liability", "liability"]
    xlsx = worked.client.get(base, params={"format": "xlsx"}, headers=headers)
    assert load_workbook(io.BytesIO(xlsx.content))["责任"].max_row == 3
    pdf = worked.client.get(base, params={"format": "pdf"}, headers=headers)
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "张伟" in text and "主管未履职" in text


def test_exports_are_attachments_named_after_the_employee_and_the_period(
    worked: Service,
) -> None:
    response = worked.client.get("/v1/employees/e-zhang/evidence", headers=worked.auth(Role.HR),
                                 params={"format": "csv", "from": "2026-03-01",
                                         "to": "2026-03-31"})

    assert response.headers["content-disposition"] == (
        'attachment; filename="evidence-e-zhang-2026-03-01-2026-03-31.csv"; '
        "filename*=UTF-8''evidence-e-zhang-2026-03-01-2026-03-31.csv")


def test_another_tenant_does_not_know_the_employee(worked: Service) -> None:
    assert worked.status("/v1/employees/e-zhang/evidence", tenant="globex") == 404


def test_an_employee_the_tenant_has_no_record_of_is_a_404_problem(worked: Service) -> None:
    response = worked.client.get("/v1/employees/e-nobody/evidence", headers=worked.auth())

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_every_evidence_read_is_recorded_with_who_what_and_when(worked: Service) -> None:
    hr = worked.token(Role.HR)
    for fmt in ("json", "csv"):
        worked.client.get("/v1/employees/e-zhang/evidence", headers=bearer(hr),
                          params={"format": fmt, "from": "2026-03-01"})
    worked.client.get("/v1/employees/e-nobody/evidence", headers=bearer(hr))  # a 404: no read

    trail = worked.get("/v1/audit/evidence-reads")["items"]

    token_id = hr.split("_")[1]
    when = worked.ledger.clock().isoformat()
    assert [(r["sequence"], r["token_id"], r["role"], r["employee_id"], r["format"],
             r["from"], r["to"], r["at"]) for r in trail] == [
        (1, token_id, "hr", "e-zhang", "json", "2026-03-01", None, when),
        (2, token_id, "hr", "e-zhang", "csv", "2026-03-01", None, when)]
