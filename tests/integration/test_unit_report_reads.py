"""A unit report downloaded from the API is a read in the tenant's audit trail, as a
`ledger export units` file is; the same report as JSON is a query, not recorded."""

from __future__ import annotations

from ledger.domain.access import Role
from tests.support.api import Service, bearer


def test_a_unit_report_downloaded_as_a_file_is_recorded_in_the_audit_trail(
    worked: Service,
) -> None:
    hr = worked.token(Role.HR)
    response = worked.client.get("/v1/reports/units", headers=bearer(hr),
                                 params={"format": "csv", "from": "2026-03-01"})

    trail = worked.get("/v1/audit/evidence-reads")["items"]

    assert response.status_code == 200
    assert [(r["token_id"], r["role"], r["route"], r["employee_id"], r["format"], r["from"],
             r["to"]) for r in trail] == [
        (hr.split("_")[1], "hr", "/v1/reports/units", None, "csv", "2026-03-01", None)]


def test_a_unit_report_asked_as_json_is_a_query_and_is_not_recorded(worked: Service) -> None:
    report = worked.get("/v1/reports/units", role=Role.HR)

    assert report["tenant"] == "acme" and report["units"]
    assert worked.get("/v1/audit/evidence-reads")["items"] == []
