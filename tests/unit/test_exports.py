"""Evidence in every format carries the same records, Chinese names included."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from ledger.exports import evidence_csv, evidence_pdf, evidence_xlsx, units_pdf, units_xlsx

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
    assert workbook.sheetnames == ["Summary", "Liabilities", "Positive records", "Ledger events"]
    assert workbook["Liabilities"].max_row == 3
    assert "张伟" in str(workbook["Summary"]["B1"].value)


def test_the_pdf_renders_chinese_names_that_can_be_extracted_back() -> None:
    pdf = evidence_pdf(DOC)
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "张伟" in text and "review_missed" in text and "L-2" in text


@pytest.mark.parametrize("render", [units_pdf, units_xlsx])
def test_unit_reports_export(render: Any) -> None:
    doc = {
        "tenant": "acme",
        "from": "a",
        "to": "b",
        "units": [
            {
                "rank": 1,
                "unit_id": "销售部",
                "steps_due": 3,
                "on_time": 3,
                "overdue": 0,
                "completion_rate": 1.0,
                "violations": 0,
                "liabilities": 0,
            }
        ],
    }
    assert render(doc)[:2] in (b"%P", b"PK")
