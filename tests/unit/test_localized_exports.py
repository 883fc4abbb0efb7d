"""CSV and the combined workbook in the language asked for, each liability saying why, and
the unit report PDF with its ranking chart."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook
from pypdf import PdfReader

from ledger.adapters.combined_export import CombinedEvidence
from ledger.adapters.rendering import render_evidence, render_units
from ledger.adapters.report_rendering import units_pdf
from tests.unit.test_exports import DOC, UNITS

WHY = "连带责任 · 主管未履职；下属 李娜 Li Na（e-li）的违规，复核期限 2026-03-03T10:00:00+08:00"
EXPLAINED: dict[str, Any] = {
    **DOC, "lang": "zh",
    "names": {"employees": {"e-zhang": "张伟 Zhang Wei", "e-li": "李娜 Li Na"},
              "units": {"sales": "销售部 Sales"}},
    "liabilities": [{**DOC["liabilities"][0], "employee_id": "e-zhang", "unit_id": "sales",
                     "position": 64, "explanation": {"why": WHY, "severity": "major",
                                                     "subordinate_id": "e-li"}},
                    {**DOC["liabilities"][1], "employee_id": "e-zhang", "position": 70}],
}


def rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_a_csv_in_chinese_has_labelled_headers_values_names_and_why() -> None:
    table = rows(render_evidence(EXPLAINED, "csv", csv_lang="zh"))
    first = dict(zip(table[0], table[1], strict=True))
    assert (first["记录"], first["责任类型"], first["认定依据"], first["状态"]) == (
        "责任", "连带责任", "主管未履职", "有效")
    assert first["员工"] == "张伟 Zhang Wei（e-zhang）" and first["认定理由"] == WHY
    assert first["下属"] == "李娜 Li Na（e-li）" and first["严重程度"] == "严重"
    assert [r[0] for r in table[1:]] == ["责任", "责任", "正面记录"]


def test_a_csv_in_english_speaks_english() -> None:
    table = rows(render_evidence({**EXPLAINED, "lang": "en"}, "csv", csv_lang="en"))
    first = dict(zip(table[0], table[1], strict=True))
    assert (first["Record"], first["Kind"], first["Basis"]) == (
        "liability", "supervisor", "review missed")


def test_a_csv_without_a_language_keeps_its_codes_and_says_why_last() -> None:
    table = rows(render_evidence(EXPLAINED, "csv"))
    assert table[0][:3] == ["record", "employee_id", "liability_id"] and table[0][-1] == "why"
    assert table[1][-1] == WHY and table[3][-1] == ""


def test_the_combined_workbook_in_a_language_is_localized_and_typed() -> None:
    combined = CombinedEvidence("acme", "2026-03-01", None, "zh")
    combined.add(EXPLAINED)
    combined.add({**EXPLAINED, "employee_id": "e-li", "name": "李娜 Li Na", "liabilities": []})
    workbook = load_workbook(io.BytesIO(combined.xlsx()))
    assert workbook.sheetnames == ["概要", "员工", "责任", "账本事件"]
    people = list(workbook["员工"].iter_rows(min_row=2, values_only=True))
    assert people[0][:4] == ("e-zhang", "张伟 Zhang Wei", "销售部 Sales（sales）", 1)
    liability = workbook["责任"]
    assert liability["F2"].is_date and isinstance(liability["F2"].value, datetime)
    assert liability.auto_filter.ref and liability.freeze_panes == "A2"
    assert rows(combined.csv())[0][0] == "记录"


def test_the_unit_csv_in_a_language_labels_its_figures() -> None:
    table = rows(render_units({**UNITS, "lang": "zh"}, "csv", csv_lang="zh"))
    assert dict(zip(table[0], table[1], strict=True))["完成率"] == "66.7%"


def test_the_unit_report_pdf_has_the_ranking_chart() -> None:
    two = {**UNITS, "lang": "en", "units": [*UNITS["units"], {
        **UNITS["units"][0], "rank": 2, "unit_id": "ops", "name": "Ops",
        "completion_rate": 0.25, "steps_overdue": 3}]}
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(units_pdf(two))).pages)
    assert "Unit ranking: completion rate and overdue steps" in text
    assert "1. 销售部 Sales" in text and "2. Ops" in text and "Overdue steps" in text
