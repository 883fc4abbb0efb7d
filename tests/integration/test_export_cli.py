"""`ledger export evidence|units` on SQLite and PostgreSQL: the worked
examples recorded and derived, then exported through the CLI in every format, read back
(CSV parsed, XLSX opened, PDF text extracted, Chinese names found), and every export
found in the tenant's audit trail."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from typer.testing import CliRunner

from cli import exports as export_cli
from cli.main import app
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.application.tokens import AuditTrail
from ledger.config import Settings
from projections.runner import Projections

LATENESS = timedelta(minutes=5)
WORKED_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "worked-examples.jsonl"
#: `sales-2` placed under `sales`, so that `sales`'s subtree holds Zhang, Wang and Li.
SALES_2_UNDER_SALES = {
    "specversion": "1.0", "id": "unit-sales-2-under-sales", "source": "oa/hr",
    "type": "ledger.org.unit.defined", "time": "2026-01-02T00:00:00+08:00", "tenant": "acme",
    "data": {"unit_id": "sales-2", "name": "销售二部 Sales II", "parent_id": "sales",
             "head_id": "e-wang"},
}
NAMES = {"e-zhang": "张伟", "e-wang": "王芳", "e-li": "李娜"}


def worked_examples() -> list[dict[str, Any]]:
    lines = WORKED_EXAMPLES.read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def record(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    outcomes = ledger.record(events)
    assert all(o.status.value == "recorded" for o in outcomes), outcomes


def derive(ledger: Ledger) -> None:
    ResponsibilityEngine(ledger, LATENESS, ledger.clock).run_until_idle()


def pdf_text(path: Path) -> str:
    return "".join(page.extract_text() for page in PdfReader(path).pages)


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


@dataclass
class Cli:
    """The `ledger` command run in process against the test's store."""

    ledger: Ledger
    env: dict[str, str]
    out: Path

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), env=self.env)
        return result.exit_code, result.output

    def export(self, *args: str) -> str:
        code, output = self.run("export", *args)
        assert code == 0, output
        return output

    def reads(self) -> list[tuple[str, str, str, str, str]]:
        return [(r.token_id, r.role, r.route, r.subject, r.query)
                for r in AuditTrail(self.ledger.store, self.ledger.clock).reads("acme")]


@pytest.fixture
def store(ledger: Ledger, settings: Settings, tmp_path: Path) -> Iterator[Cli]:
    """An empty store and the environment that points the CLI at it; the views the CLI
    builds are dropped afterwards."""
    env = {"LEDGER_HOME": str(settings.home), "LEDGER_STORE_NAME": settings.store_name,
           "LEDGER_DATABASE_URL": settings.database_url or "", "COLUMNS": "200"}
    yield Cli(ledger, env, tmp_path / "out")
    Projections(ledger.store, store_name=settings.store_name).drop()


@pytest.fixture
def worked(store: Cli) -> Cli:
    """The worked examples recorded and derived (the views are left to the CLI)."""
    record(store.ledger, [*worked_examples(), SALES_2_UNDER_SALES])
    derive(store.ledger)
    return store


USER = f"cli:{export_cli.os_user()}"


# --- one employee, every format ----------------------------------------------------------


def test_one_employee_as_json_is_the_evidence_document(worked: Cli) -> None:
    target = worked.out / "zhang.json"

    output = worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "--format", "json",
                           "--out", str(target))

    doc = orjson.loads(target.read_bytes())
    assert (doc["employee_id"], doc["name"]) == ("e-zhang", "张伟 Zhang Wei")
    assert {(li["basis"], li["case_id"]) for li in doc["liabilities"]} == {
        ("review_missed", "SO-1001"), ("review_missed", "SO-1005")}
    assert {e["event_id"] for e in doc["events"]} >= {"SO-1001-submitted", "SO-1005-submitted"}
    assert "1 file, 2 rows (2 liabilities, 0 positive records)" in output
    assert f"{target.stat().st_size} bytes" in output


def check_csv(path: Path) -> None:
    rows = csv_rows(path)
    assert rows[0][:3] == ["record", "employee_id", "liability_id"]
    assert [(r[0], r[1], r[4]) for r in rows[1:]] == [
        ("liability", "e-zhang", "review_missed"), ("liability", "e-zhang", "review_missed")]


def check_xlsx(path: Path) -> None:
    workbook = load_workbook(path)
    assert workbook["责任"].max_row == 3
    assert "张伟" in str(workbook["概要"]["B1"].value)
    events = {row[0] for row in workbook["账本事件"].iter_rows(min_row=2, values_only=True)}
    assert {"SO-1001-submitted", "SO-1005-submitted"} <= events


def check_pdf(path: Path) -> None:
    assert path.read_bytes().startswith(b"%PDF")
    text = pdf_text(path)
    assert "张伟" in text and "主管未履职" in text and "SO-1005-submitted" in text


@pytest.mark.parametrize("fmt,check", [("csv", check_csv), ("xlsx", check_xlsx),
                                       ("pdf", check_pdf)])
def test_one_employee_in_each_format_reads_back(worked: Cli, fmt: str, check: Any) -> None:
    worked.out.mkdir()

    worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "-f", fmt,
                  "--out", str(worked.out))

    (written,) = list(worked.out.iterdir())
    assert written.name == f"evidence-e-zhang.{fmt}"  # named as the API names the download
    check(written)


def test_the_period_limits_the_evidence_and_names_the_file(worked: Cli) -> None:
    worked.out.mkdir()

    worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "--from", "2026-03-04",
                  "--to", "2026-03-31", "-f", "json", "--out", str(worked.out))

    target = worked.out / "evidence-e-zhang-2026-03-04-2026-03-31.json"
    assert [li["case_id"] for li in orjson.loads(target.read_bytes())["liabilities"]] == [
        "SO-1005"]


# --- several employees ---------------------------------------------------------------------


def test_a_unit_exports_one_file_per_employee_of_its_subtree(worked: Cli) -> None:
    output = worked.export("evidence", "--tenant", "acme", "--unit", "sales", "-f", "pdf",
                           "--out", str(worked.out))

    files = sorted(p.name for p in worked.out.iterdir())
    assert files == ["evidence-e-li.pdf", "evidence-e-wang.pdf", "evidence-e-zhang.pdf",
                     "manifest.json"]
    for employee, name in NAMES.items():
        assert name in pdf_text(worked.out / f"evidence-{employee}.pdf")
    manifest = orjson.loads((worked.out / "manifest.json").read_bytes())
    assert manifest["scope"] == {"unit": "sales"}
    for entry in manifest["files"]:
        body = (worked.out / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert "evidence of 3 employees: 4 files" in output


def test_all_employees_as_csv_with_a_combined_file(worked: Cli) -> None:
    worked.export("evidence", "--tenant", "acme", "--all", "-f", "csv", "--out", str(worked.out))

    singles = sorted(worked.out.glob("evidence-*.csv"))
    assert len(singles) == 11  # everyone in the org history, with evidence or not
    combined = csv_rows(worked.out / "combined-evidence.csv")
    assert combined[1:] == [row for path in singles for row in csv_rows(path)[1:]]
    assert {r[4] for r in combined[1:] if r[0] == "liability"} >= {
        "violated_policy", "review_missed", "missed_deadline", "passed_defect"}


def test_several_employees_as_xlsx_with_a_combined_workbook(worked: Cli) -> None:
    worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "-e", "e-sun", "-f", "xlsx",
                  "--out", str(worked.out))

    workbook = load_workbook(worked.out / "combined-evidence.xlsx")
    employees = list(workbook["Employees"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[3], r[5]) for r in employees] == [
        ("e-zhang", "张伟 Zhang Wei", "2", "0"), ("e-sun", "孙丽 Sun Li", "0", "1")]
    assert workbook["Liabilities"].max_row == 3
    assert (worked.out / "evidence-e-sun.xlsx").exists()


# --- the audit trail -------------------------------------------------------------------


def test_every_export_is_recorded_in_the_audit_trail(worked: Cli) -> None:
    worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "-f", "pdf",
                  "--from", "2026-03-01", "--out", str(worked.out / "z.pdf"))
    worked.export("evidence", "--tenant", "acme", "--unit", "sales-2", "-f", "csv",
                  "--out", str(worked.out / "unit"))
    worked.export("units", "--tenant", "acme", "-f", "csv", "--out", str(worked.out / "u.csv"))

    route = "ledger export evidence"
    assert worked.reads() == [
        (USER, "hr", route, "e-zhang", "from=2026-03-01&format=pdf"),
        (USER, "hr", route, "e-li", "format=csv"),
        (USER, "hr", route, "e-wang", "format=csv"),
        (USER, "hr", "ledger export units", "", "format=csv"),
    ]


# --- unit report -----------------------------------------------------------------------


def test_the_unit_report_exports_in_every_format(worked: Cli) -> None:
    for fmt in ("json", "csv", "xlsx", "pdf"):
        worked.export("units", "--tenant", "acme", "--from", "2026-03-01", "--to", "2026-04-30",
                      "-f", fmt, "--out", str(worked.out) + "/")

    report = orjson.loads((worked.out / "units-acme-2026-03-01-2026-04-30.json").read_bytes())
    by_unit = {u["unit_id"]: u for u in report["units"]}
    assert (by_unit["market"]["steps_overdue"], by_unit["product"]["steps_on_time"]) == (1, 1)
    rows = csv_rows(worked.out / "units-acme-2026-03-01-2026-04-30.csv")
    header = rows[0]
    market = dict(zip(header, next(r for r in rows if r[1] == "market"), strict=True))
    assert (market["name"], market["steps_due"], market["steps_overdue"]) == (
        "市场部 Market", "1", "1")
    sheet = load_workbook(worked.out / "units-acme-2026-03-01-2026-04-30.xlsx")["部门"]
    assert sheet.max_row == len(report["units"]) + 1
    assert "市场部" in pdf_text(worked.out / "units-acme-2026-03-01-2026-04-30.pdf")


# --- deriving first ---------------------------------------------------------------------


def test_without_derive_it_warns_and_with_derive_the_liabilities_are_there(store: Cli) -> None:
    record(store.ledger, worked_examples())
    target = store.out / "li.json"

    before = store.export("evidence", "--tenant", "acme", "-e", "e-li", "--out", str(target))
    first = orjson.loads(target.read_bytes())["liabilities"]
    after = store.export("evidence", "--tenant", "acme", "-e", "e-li", "--derive",
                         "--out", str(target))
    second = orjson.loads(target.read_bytes())["liabilities"]

    assert first == [] and "not derived yet" in before
    assert {li["basis"] for li in second} == {"violated_policy"} and "not derived" not in after


def test_a_big_export_gets_a_bar_over_its_rows(
    worked: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_cli, "BIG_EXPORT_ROWS", 0)

    output = worked.export("evidence", "--tenant", "acme", "-e", "e-zhang", "-f", "xlsx",
                           "--out", str(worked.out / "z.xlsx"))

    assert "rows of e-zhang" in output


# --- errors -----------------------------------------------------------------------------


def test_an_unknown_employee_exits_2_and_nothing_is_written_or_recorded(worked: Cli) -> None:
    code, output = worked.run("export", "evidence", "--tenant", "acme", "-e", "e-zhang",
                              "-e", "e-nobody", "-f", "csv", "--out", str(worked.out))

    assert code == 2
    assert "unknown employee e-nobody for tenant 'acme'" in output
    assert not worked.out.exists()
    assert worked.reads() == []


def test_an_unknown_unit_exits_2(worked: Cli) -> None:
    code, output = worked.run("export", "evidence", "--tenant", "acme", "--unit", "nowhere")

    assert code == 2 and "unknown unit 'nowhere'" in output


@pytest.mark.parametrize("args,message", [
    (["-e", "e-li", "--from", "2026-13-01"], "not a date (YYYY-MM-DD) or an RFC 3339 time"),
    (["-e", "e-li", "--to", "2026-03-02T10:00:00"], "a time needs an offset"),
    (["-e", "e-li", "--from", "2026-03-05", "--to", "2026-03-01"], "is after --to"),
    ([], "choose exactly one of --employee"),
    (["-e", "e-li", "--all"], "choose exactly one of --employee"),
    (["-e", "e-li", "-f", "doc"], "'doc' is not one of"),
])
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    env = {"LEDGER_HOME": str(tmp_path / "var"), "LEDGER_DATABASE_URL": "", "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["export", "evidence", "--tenant", "acme", *args], env=env)

    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "var").exists()  # refused before any store was opened


def test_an_unsafe_employee_id_gets_a_safe_distinct_file_name() -> None:
    assert export_cli.evidence_filename("e-zhang", "pdf") == "evidence-e-zhang.pdf"
    assert export_cli.evidence_filename("张伟", "csv") == "evidence-张伟.csv"
    odd, other = (export_cli.evidence_filename(i, "csv") for i in ("../x", "__x"))
    assert "/" not in odd and odd.startswith("evidence-.._x-") and odd != other


def test_a_file_where_a_directory_is_needed_exits_2(worked: Cli) -> None:
    worked.out.parent.mkdir(exist_ok=True)
    worked.out.write_text("not a directory")

    code, output = worked.run("export", "evidence", "--tenant", "acme", "--all",
                              "--out", str(worked.out))

    assert code == 2 and "is a file; several employees need a directory" in output


def test_an_unwritable_target_exits_1_with_the_reason(worked: Cli) -> None:
    blocker = worked.out / "file"
    blocker.parent.mkdir()
    blocker.write_text("x")

    code, output = worked.run("export", "evidence", "--tenant", "acme", "-e", "e-li",
                              "--out", str(blocker / "li.json"))

    assert code == 1 and f"could not write {blocker / 'li.json'}" in output
    assert list(worked.out.iterdir()) == [blocker]
