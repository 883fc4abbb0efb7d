"""Exports never hand a spreadsheet a formula: ids and names that begin with `=`, `+`, `-`,
`@`, a tab or a carriage return are neutralised in CSV with a leading `'` (OWASP's rule
against CSV injection) and written to XLSX as plain strings, their value unchanged. HR
opens these files in Excel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.queries import ReadSide
from ledger.adapters.combined_export import CombinedEvidence
from ledger.adapters.csv_export import csv_safe
from ledger.adapters.rendering import render_evidence, render_units
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.access import Role
from projections.runner import Projections
from tests.support.api import LATENESS, Service, acme_event

#: What OWASP's rule neutralises in CSV (each starts a formula in some spreadsheet program).
FORMULAS = ['=HYPERLINK("http://x","y")', "=1+1", "@SUM(A1)", "+1+2", "-2+3", "\tcmd",
            "\rcmd", "=cmd|' /C calc'!A0"]
#: In XLSX, also what openpyxl would store as an error value rather than as text.
HOSTILE = [*FORMULAS, "#N/A"]
BENIGN = ["e-li", "SO-1001", "2026-03-02T10:00:00+08:00", "李", "", "a=b", "#N/A"]


def evidence(value: str) -> dict[str, Any]:
    """An evidence document whose every id and name is `value`."""
    return {
        "employee_id": value, "name": value, "unit_id": value, "tenant": "acme",
        "liabilities": [{"liability_id": value, "kind": "actor", "basis": value,
                         "case_id": value, "at": value, "status": "active",
                         "event_ids": [value], "step": value, "violation_id": value}],
        "positive_records": [{"duty": value, "case_id": value, "at": value, "step": value,
                              "violation_id": value, "event_ids": [value]}],
        "events": [{"event_id": value, "source": value, "type": value, "time": value,
                    "position": 1, "entry_hash": value}],
    }


def units(value: str) -> dict[str, Any]:
    return {"tenant": value, "from": value, "to": None,
            "units": [{"rank": 1, "unit_id": value, "name": value, "steps_due": 1}]}


def csv_cells(data: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return [cell for row in rows[1:] for cell in row]


def xlsx_cells(data: bytes) -> Iterator[Any]:
    workbook = load_workbook(io.BytesIO(data))
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            yield from (cell for cell in row if cell.value is not None)


def assert_csv_neutralised(data: bytes, value: str) -> None:
    cells = csv_cells(data)
    assert "'" + value in cells, cells
    assert value not in cells, "the raw value never starts a cell"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


def assert_xlsx_plain_strings(data: bytes, value: str) -> None:
    cells = list(xlsx_cells(data))
    assert [c for c in cells if c.data_type == "f"] == [], "no formula anywhere"
    # XML reads a carriage return as a line feed: the one change a workbook makes.
    found = [c for c in cells if c.value == value.replace("\r", "\n")]
    assert found, f"{value!r} is written unchanged"
    assert {c.data_type for c in found} == {"s"}


@pytest.mark.parametrize("value", FORMULAS)
def test_an_evidence_csv_neutralises_every_cell_a_spreadsheet_would_run(value: str) -> None:
    assert_csv_neutralised(render_evidence(evidence(value), "csv"), value)


@pytest.mark.parametrize("value", HOSTILE)
def test_an_evidence_workbook_holds_the_value_as_a_plain_string(value: str) -> None:
    assert_xlsx_plain_strings(render_evidence(evidence(value), "xlsx"), value)


@pytest.mark.parametrize("value", ["#N/A", "#REF!"])
def test_an_error_literal_is_text_in_a_workbook_too(value: str) -> None:
    assert_xlsx_plain_strings(render_units(units(value), "xlsx"), value)


@pytest.mark.parametrize("value", FORMULAS)
def test_unit_reports_are_neutralised_in_csv_and_plain_in_xlsx(value: str) -> None:
    assert_csv_neutralised(render_units(units(value), "csv"), value)
    assert_xlsx_plain_strings(render_units(units(value), "xlsx"), value)


@pytest.mark.parametrize("value", FORMULAS)
def test_combined_evidence_is_neutralised_in_csv_and_plain_in_xlsx(value: str) -> None:
    combined = CombinedEvidence("acme", value, None)
    combined.add(evidence(value))
    combined.add(evidence("e-li"))
    assert_csv_neutralised(combined.csv(), value)
    assert_xlsx_plain_strings(combined.xlsx(), value)


@pytest.mark.parametrize("value", BENIGN)
def test_ordinary_values_are_written_as_they_are(value: str) -> None:
    assert csv_safe(value) == value
    cells = csv_cells(render_evidence(evidence(value), "csv"))
    assert value in cells


@pytest.fixture
def service(ledger: Ledger, settings: Settings) -> Iterator[Service]:
    projections = Projections(ledger.store, store_name=settings.store_name, lateness=LATENESS)
    app = create_app(ledger, read_side=ReadSide(ledger, projections=projections))
    with TestClient(app) as client:
        yield Service(ledger, settings, client, projections)
    projections.drop()


def test_an_employee_id_like_a_formula_stays_text_in_the_evidence_served_over_http(
    service: Service,
) -> None:
    employee, unit = '=HYPERLINK("evil.example","y")', "@SUM(A1)"  # no / in a path
    service.ingest([
        acme_event("unit-x", "ledger.org.unit.defined", "2026-01-01T00:00:00+08:00",
                   {"unit_id": unit, "name": "=1+1"}),
        acme_event("assign-x", "ledger.org.employee.assigned", "2026-01-01T00:00:00+08:00",
                   {"employee_id": employee, "name": "-2+3", "unit_id": unit})])
    service.settle()
    path = f"/v1/employees/{quote(employee, safe='')}/evidence"

    response = service.client.get(path, params={"format": "xlsx"}, headers=service.auth(Role.HR))

    assert response.status_code == 200, response.text
    cells = list(xlsx_cells(response.content))
    assert [c for c in cells if c.data_type == "f"] == []
    assert f"{employee} -2+3" in {c.value for c in cells}
    assert unit in {c.value for c in cells}
    assert service.client.get("/healthz").json() == {"status": "ok"}
