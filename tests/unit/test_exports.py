"""Evidence in every format carries the same records, Chinese names included."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from ledger.adapters.combined_export import CombinedEvidence
from ledger.adapters.csv_export import evidence_csv, units_csv
from ledger.adapters.pdf_export import evidence_pdf, units_pdf
from ledger.adapters.rendering import evidence_rows, render_evidence, render_units
from ledger.adapters.sheets import PDF_TABLE_ROWS
from ledger.adapters.xlsx_export import evidence_xlsx, units_xlsx

DOC: dict[str, Any] = {
    "tenant": "acme",
    "employee_id": "e-zhang",
    "name": "张伟 Zhang Wei",
    "unit_id": "sales",
    "from": "2026-03-01T00:00:00+08:00",
    "to": "2026-03-31T00:00:00+08:00",
    "generated_at": "2026-11-23T12:00:00+00:00",
    "liabilities": [
        {
            "liability_id": "L-1",
            "kind": "supervisor",
            "basis": "review_missed",
            "case_id": "SO-1001",
            "at": "2026-03-03T10:00:00+08:00",
            "status": "active",
            "event_ids": ["SO-1001-submitted"],
        },
        {
            "liability_id": "L-2",
            "kind": "supervisor",
            "basis": "review_missed",
            "case_id": "SO-1005",
            "at": "2026-03-06T11:30:00+08:00",
            "status": "corrected",
            "corrected_reason": "later data names someone else",
            "replaced_by": "L-3",
            "event_ids": ["SO-1005-submitted"],
        },
    ],
    "positive_records": [
        {
            "duty": "review_done",
            "case_id": "SO-1009",
            "at": "2026-03-07T09:00:00+08:00",
            "event_ids": ["SO-1009-review"],
        }
    ],
    "events": [
        {
            "event_id": "SO-1001-submitted",
            "source": "erp/orders",
            "type": "ledger.operation.submitted",
            "time": "2026-03-02T10:00:00+08:00",
            "position": 22,
            "entry_hash": "ab" * 32,
        }
    ],
}


def test_the_csv_has_a_row_per_record() -> None:
    rows = list(csv.reader(io.StringIO(evidence_csv(DOC).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["liability", "liability", "positive"]


def test_the_xlsx_has_a_sheet_per_kind_of_record() -> None:
    workbook = load_workbook(io.BytesIO(evidence_xlsx(DOC)))
    assert workbook.sheetnames == ["概要", "责任", "正面记录", "账本事件"]
    assert workbook["责任"].max_row == 3
    assert "张伟" in str(workbook["概要"]["B1"].value)


def test_the_pdf_renders_chinese_names_that_can_be_extracted_back() -> None:
    pdf = evidence_pdf(DOC)
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "张伟" in text and "主管未履职" in text and "L-2" in text


#: A unit report as `ReadModels.unit_report` rows it (GET /v1/reports/units).
UNITS: dict[str, Any] = {
    "tenant": "acme",
    "from": "2026-03-01",
    "to": "2026-03-31",
    "units": [
        {
            "rank": 1,
            "unit_id": "sales",
            "name": "销售部 Sales",
            "steps_due": 3,
            "steps_on_time": 2,
            "steps_overdue": 1,
            "completion_rate": 0.6667,
            "violations": 2,
            "liabilities": 4,
        }
    ],
}


@pytest.mark.parametrize("render", [units_pdf, units_xlsx])
def test_unit_reports_export(render: Any) -> None:
    assert render(UNITS)[:2] in (b"%P", b"PK")


def test_the_unit_csv_carries_every_figure_of_the_report() -> None:
    rows = list(csv.reader(io.StringIO(units_csv(UNITS).decode("utf-8-sig"))))
    assert dict(zip(rows[0], rows[1], strict=True)) == {
        "rank": "1", "unit_id": "sales", "name": "销售部 Sales", "steps_due": "3",
        "steps_on_time": "2", "steps_overdue": "1", "completion_rate": "0.6667",
        "violations": "2", "liabilities": "4"}


def test_the_unit_pdf_names_units_in_chinese() -> None:
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(units_pdf(UNITS))).pages)
    assert "销售部" in text and "66.7%" in text


MAGIC = {"json": b"{", "csv": b"\xef\xbb\xbf", "xlsx": b"PK", "pdf": b"%PDF"}


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "pdf"])
def test_render_picks_the_format_by_name(fmt: str) -> None:
    assert render_evidence(DOC, fmt).startswith(MAGIC[fmt])
    assert render_units(UNITS, fmt).startswith(MAGIC[fmt])


def test_render_is_the_api_json_and_the_plain_renderers() -> None:
    assert render_evidence(DOC, "json") == orjson.dumps(DOC)
    assert render_evidence(DOC, "csv") == evidence_csv(DOC)
    with pytest.raises(ValueError, match="unknown format"):
        render_evidence(DOC, "docx")


def big(rows: int) -> dict[str, Any]:
    template = DOC["liabilities"][0]
    return {**DOC, "liabilities": [{**template, "liability_id": f"L-{i}"} for i in range(rows)]}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_progress_counts_every_row_a_renderer_reports(fmt: str) -> None:
    doc = big(PDF_TABLE_ROWS * 2 + 7)  # several PDF tables
    counted: list[int] = []
    render_evidence(doc, fmt, counted.append)
    assert sum(counted) == evidence_rows(doc, fmt) == len(doc["liabilities"]) + 1 + (
        0 if fmt == "csv" else 1)
    assert len(counted) > 1  # as it goes, not once at the end


def test_a_long_pdf_keeps_every_row_and_markup_characters() -> None:
    doc = big(PDF_TABLE_ROWS + 1)
    doc["liabilities"][-1] = {**doc["liabilities"][-1], "corrected_reason": "a < b & 张 > c"}
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(evidence_pdf(doc))).pages)
    assert f"L-{PDF_TABLE_ROWS}" in text and "L-0" in text
    assert "a < b & 张 > c" in text


def test_the_combined_csv_is_each_employees_csv_under_one_header() -> None:
    other = {**DOC, "employee_id": "e-li", "name": "李娜 Li Na", "positive_records": []}
    combined = CombinedEvidence("acme", None, None)
    combined.add(DOC)
    combined.add(other)

    def rows(body: bytes) -> list[list[str]]:
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))

    assert rows(combined.csv()) == rows(evidence_csv(DOC)) + rows(evidence_csv(other))[1:]
    workbook = load_workbook(io.BytesIO(combined.xlsx()))
    assert workbook.sheetnames == ["Summary", "Employees", "Liabilities", "Positive records",
                                   "Ledger events"]
    employees = list(workbook["Employees"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[3], r[4]) for r in employees] == [
        ("e-zhang", "张伟 Zhang Wei", "1", "1"), ("e-li", "李娜 Li Na", "1", "1")]
    assert workbook["Liabilities"].max_row == 5
