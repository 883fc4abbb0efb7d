"""`ledger export report` (the trace report to a file, audited like every export) and
`--lang` on every `ledger export` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import orjson
from openpyxl import load_workbook

from ledger.domain.access import Role
from tests.integration.test_export_cli import USER, Cli, csv_rows, pdf_text, store, worked
from tests.support.api import Service, worked_examples

__all__ = ["store", "worked"]


def test_a_case_s_trace_report_exports_in_each_format_and_is_audited(worked: Cli) -> None:
    for fmt in ("json", "xlsx", "pdf"):
        output = worked.export("report", "--tenant", "acme", "--case", "SO-1001", "-f", fmt,
                               "--out", str(worked.out) + "/")
        assert "exported the trace report of case SO-1001: 2 liabilities" in output

    report = orjson.loads((worked.out / "report-SO-1001.json").read_bytes())
    assert {li["employee_id"] for li in report["liabilities"]} == {"e-li", "e-zhang"}
    zhang = next(li for li in report["liabilities"] if li["employee_id"] == "e-zhang")
    assert "李娜 Li Na（e-li）" in zhang["explanation"]["why"]  # people by name, id beside
    workbook = load_workbook(worked.out / "report-SO-1001.xlsx")
    assert workbook.sheetnames[:3] == ["概要", "责任链", "责任"]
    assert workbook["责任"]["F2"].is_date
    assert "责任追溯报告" in pdf_text(worked.out / "report-SO-1001.pdf")
    assert [r for r in worked.reads() if r[2] == "ledger export report"] == [
        (USER, "hr", "ledger export report", "SO-1001", f"format={fmt}")
        for fmt in ("json", "xlsx", "pdf")]


def test_an_unknown_case_exits_2_and_nothing_is_recorded(worked: Cli) -> None:
    code, output = worked.run("export", "report", "--tenant", "acme", "--case", "NOPE",
                              "--out", str(worked.out) + "/")
    assert code == 2 and "unknown case 'NOPE'" in output
    assert not worked.out.exists() and not worked.reads()


def test_every_export_speaks_english_when_asked(worked: Cli) -> None:
    worked.export("report", "--tenant", "acme", "--case", "SO-1001", "--lang", "en",
                  "-f", "pdf", "--out", str(worked.out / "report.pdf"))
    assert "Responsibility trace report" in pdf_text(worked.out / "report.pdf")
    worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "-f", "csv", "--lang", "en",
                  "--out", str(worked.out / "zhang.csv"))
    header, *liabilities = csv_rows(worked.out / "zhang.csv")
    first = dict(zip(header, liabilities[0], strict=True))
    assert (first["Record"], first["Basis"]) == ("liability", "review missed")
    assert "Li Na (e-li)" in first["Why"]
    worked.export("units", "--tenant", "acme", "-f", "xlsx", "--lang", "en",
                  "--out", str(worked.out / "units.xlsx"))
    assert "Units" in load_workbook(worked.out / "units.xlsx").sheetnames


def test_evidence_in_chinese_csv_and_a_localized_combined_workbook(worked: Cli) -> None:
    worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "-e", "e-sun", "-f", "xlsx",
                  "--lang", "zh", "--out", str(worked.out))
    workbook = load_workbook(worked.out / "combined-evidence.xlsx")
    assert workbook.sheetnames == ["概要", "员工", "责任", "账本事件"]
    people = list(workbook["员工"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3]) for r in people] == [("e-zhang", 2), ("e-sun", 0)]
    worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "-f", "csv", "--lang", "zh",
                  "--out", str(worked.out / "zhang.csv"))
    header, *liabilities = csv_rows(worked.out / "zhang.csv")
    assert header[:4] == ["记录", "责任编号", "员工", "责任类型"]
    assert {r[4] for r in liabilities} == {"主管未履职"}


def test_the_api_s_evidence_csv_speaks_the_language_asked_for(service: Service) -> None:
    service.ingest(worked_examples())
    service.settle()
    body = service.client.get("/v1/employees/e-zhang/evidence",
                              params={"format": "csv", "lang": "en"},
                              headers=service.auth(Role.HR)).content
    header, *liabilities = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert header[:2] == ["Record", "Liability id"] and "Why" in header
    assert {r[0] for r in liabilities} == {"liability"}
