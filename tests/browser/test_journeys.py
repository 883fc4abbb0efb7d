"""Journeys per role through the console of `make demo`, in Debian's Chromium, in Chinese
(the console's default): the auditor follows a case to its deadlines and trace report, HR
pulls an employee's evidence, the manager works their queue and unit report. Each journey
keeps screenshots in tests/browser/artifacts/, finds the expected Chinese text, logs no
console error, and opens every file it downloads (PDF text with pypdf, XLSX cells with
openpyxl).

The ledger is prepared by `ledger demo --no-serve` itself (worked examples and the section
8 scenario, checkpoints signed with the demo key) and served by `ledger serve` with that key.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Download, Page, expect

from tests.browser.conftest import (
    REPO,
    VIEWPORT,
    _environment,
    _free_port,
    _require_chromium,
    _wait_ready,
    screenshot,
)

pytestmark = pytest.mark.browser
TOKEN = re.compile(r"token: (lt_\S+)")
PERIOD = "from=2026-03-01&to=2026-05-31"


@dataclass
class DemoServer:
    base_url: str
    tokens: dict[str, str]  # auditor, hr, manager: as `ledger demo` printed them
    paths: set[str]  # the API's routes (from its OpenAPI document)
    output: str

    @property
    def console_url(self) -> str:
        return f"{self.base_url}/console/"

    def serves(self, path: str) -> bool:
        return path in self.paths


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    _require_chromium()
    root = tmp_path_factory.mktemp("demo")
    env = _environment(root / "home")
    done = subprocess.run([sys.executable, "-m", "cli", "demo", "--no-serve"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    found = TOKEN.findall(done.stdout)
    assert len(found) == 3, done.stdout
    key = root / "demo-keys" / "demo-key-NOT-FOR-PRODUCTION.key"
    assert key.exists(), "the demo made no demo key"
    env |= {"LEDGER_SIGNING_KEY_FILE": str(key), "LEDGER_SIGNING_KEY_ID": key.stem}
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base_url, process, log)
        paths = set(httpx.get(f"{base_url}/openapi.json", timeout=30).json()["paths"])
        yield DemoServer(base_url, dict(zip(("auditor", "hr", "manager"), found, strict=True)),
                         paths, done.stdout)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Watched:
    """What a tab logged: uncaught errors and console errors both fail a journey."""

    errors: list[str] = field(default_factory=list)


@pytest.fixture
def watched() -> Watched:
    return Watched()


@pytest.fixture
def zh_page(browser: Browser, watched: Watched) -> Iterator[Page]:
    """A tab of a browser with no language preference of its own: the console's default."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: watched.errors.append(f"console: {message.text}")
            if message.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    assert watched.errors == [], f"the console logged errors: {watched.errors}"


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(__file__).resolve().parent / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page: Page, server: DemoServer, role: str, lands: str) -> None:
    page.goto(server.console_url)
    page.get_by_label("API 令牌").fill(server.tokens[role])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**/console/#/{lands}")


def saved(page: Page, button: str, tmp_path: Path, *, exact: bool = True) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=button, exact=exact).first.click()
    download: Download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return target.read_bytes()


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def xlsx_cells(data: bytes) -> list[object]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return [cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
            if cell.value is not None]


# --- auditor ---------------------------------------------------------------------------


def test_an_auditor_lands_on_cases_and_sees_the_review_deadline_and_who_missed_it(
    zh_page: Page, demo_server: DemoServer, shots: Path
) -> None:
    page = zh_page
    sign_in(page, demo_server, "auditor", "case")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("navigation", name="主导航")).to_contain_text("部门报表")

    page.get_by_label("案件编号").fill("SO-1001")
    page.get_by_role("button", name="打开").click()
    expect(page.get_by_role("heading", name="责任源头")).to_be_visible()
    review = page.locator("#deadlines .review[data-violation]")
    expect(review).to_have_count(1)
    expect(review).to_contain_text("复核截止")
    expect(review.locator("[data-review-due]")).to_contain_text("2026-03-03 10:00")
    expect(review).to_contain_text("张伟")
    expect(review).to_contain_text("已逾期")
    expect(page.locator("tr[data-employee=e-zhang]")).to_contain_text("主管未履职")
    expect(page.get_by_role("heading", name="责任追溯报告")).to_be_visible()
    screenshot(page, shots, "auditor-01-case-SO-1001")


def test_an_auditor_sees_a_missed_step_climb_to_the_supervisor_and_the_cooperating_parties(
    zh_page: Page, demo_server: DemoServer, shots: Path
) -> None:
    page = zh_page
    sign_in(page, demo_server, "auditor", "case")
    page.goto(f"{demo_server.console_url}#/case/FIX-1")

    path = page.locator("#deadlines .escalation-path li")
    expect(path.first).to_contain_text("林涛")
    expect(path.first).to_contain_text("周杰")
    steps = page.locator("#steps tr[data-step=plan]")
    expect(steps).to_contain_text("林涛")  # the lead (牵头)
    expect(steps.locator("li[data-party]")).to_have_count(2)  # QA and market (配合)
    expect(steps).to_contain_text("已于")  # QA contributed
    expect(steps).to_contain_text("未配合")  # market never did
    liabilities = page.locator("table.liabilities-table")
    expect(liabilities).to_contain_text("升级后未处理")
    expect(liabilities).to_contain_text("未按时配合")
    screenshot(page, shots, "auditor-02-case-FIX-1")


def test_an_auditor_downloads_the_trace_report_in_one_click(
    zh_page: Page, demo_server: DemoServer, shots: Path, tmp_path: Path
) -> None:
    if not demo_server.serves("/v1/cases/{case_id}/report"):
        pytest.skip("GET /v1/cases/{case_id}/report is not served yet")
    page = zh_page
    sign_in(page, demo_server, "auditor", "case")
    page.goto(f"{demo_server.console_url}#/case/SO-1001")

    pdf = pdf_text(saved(page, "追溯报告 PDF", tmp_path))
    assert "SO-1001" in pdf and "责任追溯报告" in pdf
    cells = xlsx_cells(saved(page, "追溯报告 XLSX", tmp_path))
    assert "SO-1001" in {str(c) for c in cells}
    assert any(isinstance(c, datetime) for c in cells), "no date cell in the trace report"
    report = json.loads(saved(page, "追溯报告 JSON", tmp_path))
    assert report["case_id"] == "SO-1001"
    expect(page.locator(".report-panel .export-message")).to_contain_text("已保存")
    screenshot(page, shots, "auditor-03-trace-report")


# --- HR ----------------------------------------------------------------------------------


def test_hr_lands_on_evidence_and_never_on_a_case_chain_it_may_not_read(
    zh_page: Page, demo_server: DemoServer, shots: Path, tmp_path: Path
) -> None:
    page = zh_page
    sign_in(page, demo_server, "hr", "evidence")
    nav = page.get_by_role("navigation", name="主导航")
    expect(nav).to_contain_text("员工证据")
    expect(nav.locator("[data-nav=case]")).to_have_count(0)
    page.goto(f"{demo_server.console_url}#/case/SO-1001")
    page.wait_for_url("**/console/#/evidence")  # sent back to its own page

    page.goto(f"{demo_server.console_url}#/evidence/e-zhang?{PERIOD}")
    rows = page.locator("table.liabilities-table tr[data-liability]")
    expect(rows.first).to_be_visible()
    expect(page.locator("table.liabilities-table")).to_contain_text("主管未履职")
    expect(page.locator("h2.subject")).to_contain_text("张伟")
    expect(rows.first.locator("a[href^='#/case/']")).to_have_count(0)  # no chain link for HR
    expect(rows.first.get_by_role("button", name="追溯报告 PDF")).to_be_visible()
    screenshot(page, shots, "hr-01-evidence-e-zhang")

    pdf = pdf_text(saved(page, "下载 PDF", tmp_path))
    assert "e-zhang" in pdf or "张伟" in pdf
    cells = xlsx_cells(saved(page, "下载 XLSX", tmp_path))
    assert any("SO-1001" in str(c) for c in cells)
    evidence = json.loads(saved(page, "下载 JSON", tmp_path))
    assert evidence["employee_id"] == "e-zhang"
    assert evidence.get("proofs"), "the demo's evidence carries no proofs: no checkpoint signed"
    expect(page.locator(".export-panel .export-message")).to_contain_text("已保存")


def test_hr_opens_the_trace_report_of_a_case_where_an_employee_holds_a_liability(
    zh_page: Page, demo_server: DemoServer, shots: Path, tmp_path: Path
) -> None:
    if not demo_server.serves("/v1/cases/{case_id}/report"):
        pytest.skip("GET /v1/cases/{case_id}/report is not served yet")
    page = zh_page
    sign_in(page, demo_server, "hr", "evidence")
    page.goto(f"{demo_server.console_url}#/evidence/e-li?{PERIOD}")
    row = page.locator("table.liabilities-table tr[data-liability]").first

    with page.expect_download() as info:
        row.get_by_role("button", name="追溯报告 PDF").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert "责任追溯报告" in pdf_text(target.read_bytes())
    screenshot(page, shots, "hr-02-trace-report-from-evidence")


def test_hr_reads_the_scores_of_the_period(
    zh_page: Page, demo_server: DemoServer, shots: Path, tmp_path: Path
) -> None:
    if not demo_server.serves("/v1/scores"):
        pytest.skip("GET /v1/scores is not served yet")
    page = zh_page
    sign_in(page, demo_server, "hr", "evidence")
    page.goto(f"{demo_server.console_url}#/scores?{PERIOD}")
    expect(page.get_by_role("heading", name="绩效积分").first).to_be_visible()
    expect(page.locator("table.scores-table tr[data-employee=e-li]")).to_be_visible()
    cells = xlsx_cells(saved(page, "下载 XLSX", tmp_path))
    assert any(isinstance(c, int | float) for c in cells), "no number cell in the scores"
    screenshot(page, shots, "hr-03-scores")


# --- manager -------------------------------------------------------------------------------


def test_a_manager_lands_on_the_queue_of_their_units(
    zh_page: Page, demo_server: DemoServer, shots: Path
) -> None:
    if not demo_server.serves("/v1/obligations"):
        pytest.skip("GET /v1/obligations is not served yet")
    page = zh_page
    sign_in(page, demo_server, "manager", "queue")
    expect(page.get_by_role("heading", name="我的待办", exact=True)).to_be_visible()
    expect(page.locator("#queue-review")).to_be_visible()
    expect(page.locator("#queue-step")).to_be_visible()
    page.get_by_label("状态").select_option("missed")
    page.get_by_role("button", name="查看待办").click()
    expect(page.locator("table.obligations-table tr[data-kind=review]").first).to_be_visible()
    screenshot(page, shots, "manager-01-queue")


def test_a_manager_downloads_the_unit_report_of_their_units(
    zh_page: Page, demo_server: DemoServer, shots: Path, tmp_path: Path, watched: Watched
) -> None:
    page = zh_page
    sign_in(page, demo_server, "manager", "queue")
    if not demo_server.serves("/v1/obligations"):
        expect(page.get_by_role("alert")).to_be_visible()
        watched.errors.clear()  # the queue it lands on answers 404 until the route is served
    page.goto(f"{demo_server.console_url}#/units?{PERIOD}&bucket=month")
    table = page.locator("table.ranking-table")
    expect(table.locator("tr[data-unit=sales]")).to_be_visible()
    expect(table.locator("tr[data-unit=plant]")).to_have_count(0)  # not the manager's
    pdf = pdf_text(saved(page, "下载 PDF", tmp_path))
    assert "sales" in pdf or "销售" in pdf
    cells = xlsx_cells(saved(page, "下载 XLSX", tmp_path))
    assert any("sales" in str(c) or "销售" in str(c) for c in cells)
    expect(page.locator(".export-panel .export-message")).to_contain_text("已保存")
    screenshot(page, shots, "manager-02-unit-report")


def test_the_demo_signed_its_checkpoint_with_a_key_labelled_as_a_demo_key(
    demo_server: DemoServer,
) -> None:
    assert "DEMO KEY" in demo_server.output
    assert "checkpoint signed at" in demo_server.output
    assert "#/queue" in demo_server.output and "#/evidence/e-zhang" in demo_server.output
