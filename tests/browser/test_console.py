"""The web console, as an auditor and HR use it, in a real headless Chromium.

Each test drives the pages the way a person would (labels, buttons, links) against the
real API server holding the worked examples (see conftest.py), and keeps a
screenshot of what it saw in test-artifacts/console/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ConsoleServer, screenshot, sign_in

pytestmark = pytest.mark.browser

#: The period of the worked examples (March and April 2026) with room on both sides.
PERIOD_FROM, PERIOD_TO = "2026-03-01", "2026-05-31"


def test_the_api_serves_the_console_with_its_own_assets_and_no_third_party_requests(
    page: Page, console_server: ConsoleServer, artifacts: Path
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{console_server.base_url}/console")  # redirected to /console/

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("API token")).to_be_visible()
    expect(page.get_by_label("Tenant")).to_have_count(0)  # the token says whose data
    screenshot(page, artifacts, "01-sign-in")
    outside = [url for url in requested
               if not url.startswith((console_server.base_url, "data:", "blob:"))]
    assert outside == [], f"the console fetched from elsewhere: {outside}"


def test_signing_in_keeps_the_token_in_the_tab_and_sends_it_as_a_bearer_header(
    page: Page, console_server: ConsoleServer
) -> None:
    seen: list[dict[str, str]] = []
    page.on("request", lambda request: seen.append(request.headers)
            if "/v1/" in request.url else None)
    sign_in(page, console_server)

    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Unit report")
    expect(page.locator("#tenant-badge")).to_contain_text("acme")
    expect(page.locator("#tenant-badge")).to_contain_text("auditor")
    stored = page.evaluate("sessionStorage.getItem('ledger.console.session')")
    assert json.loads(stored) == {"token": console_server.token, "tenant": "acme",
                                  "role": "auditor", "unit_id": None}
    assert seen, "signing in called no API route"
    assert all(h.get("authorization") == f"Bearer {console_server.token}" for h in seen)
    assert not any("x-ledger-tenant" in h for h in seen)


@pytest.mark.parametrize("token", ["lt_000000000000_not-a-real-secret", "not-a-token"])
def test_an_unknown_token_is_refused_at_sign_in(
    page: Page, console_server: ConsoleServer, token: str
) -> None:
    probe = httpx.get(f"{console_server.base_url}/v1/employees",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert probe.status_code == 401
    page.goto(console_server.console_url)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("rejected")
    assert page.evaluate("sessionStorage.getItem('ledger.console.session')") is None
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Unit report")


def test_a_manager_picks_only_from_the_employees_of_their_units(
    page: Page, console_server: ConsoleServer, artifacts: Path
) -> None:
    sign_in(page, console_server, console_server.manager_token)
    page.get_by_role("link", name="Employee evidence").click()

    picker = page.get_by_label("Employee", exact=True)
    expect(picker.locator("option[value=e-wu]")).to_have_count(1)
    expect(picker.locator("option[value=e-zhang]")).to_have_count(0)
    expect(page.locator("#tenant-badge")).to_contain_text("manager (plant)")
    screenshot(page, artifacts, "10-manager-evidence-picker")


def test_a_violation_case_names_li_as_its_responsibility_source_and_lists_zhangs_missed_review(
    signed_in: Page, artifacts: Path
) -> None:
    page = signed_in
    page.get_by_label("Case id").fill("SO-1001")
    page.get_by_role("button", name="Open").click()

    source = page.locator("#responsibility-source")
    expect(source).to_contain_text("SO-1001-submitted")
    expect(source).to_contain_text("e-li")
    expect(source).to_contain_text("李娜")
    expect(source.locator("[data-flag]")).to_have_text("violation")
    highlighted = page.locator(".timeline .link.is-source")
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_have_attribute("data-event", "SO-1001-submitted")
    expect(highlighted).to_contain_text("operation submitted")
    expect(highlighted.locator("[data-flag=violation]")).to_be_visible()

    zhang = page.locator("tr[data-employee=e-zhang]")
    expect(zhang).to_have_attribute("data-basis", "review_missed")
    expect(zhang).to_contain_text("supervisor")
    expect(zhang).to_contain_text("review missed")
    expect(page.locator("tr[data-employee=e-li]")).to_have_attribute("data-basis",
                                                                    "violated_policy")
    screenshot(page, artifacts, "02-case-SO-1001")


def test_a_late_launch_names_the_research_link_as_its_source_though_later_steps_were_late(
    signed_in: Page, artifacts: Path
) -> None:
    page = signed_in
    page.goto(page.url.split("#")[0] + "#/case/LAUNCH-1")

    source = page.locator("#responsibility-source")
    expect(source).to_contain_text("LAUNCH-1-research-done")
    expect(source).to_contain_text("e-zhao")
    expect(source.locator("[data-flag]")).to_have_text("missed deadline")
    highlighted = page.locator(".timeline .link.is-source")
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_contain_text("research")
    expect(highlighted.locator("[data-on-time=false]")).to_be_visible()
    later_failures = page.locator(".timeline .link.has-flags:not(.is-source)")
    expect(later_failures.first).to_contain_text("build")
    expect(page.locator("tr[data-liability]")).to_have_count(2)
    screenshot(page, artifacts, "03-case-LAUNCH-1")


def test_an_unknown_case_says_so(signed_in: Page) -> None:
    page = signed_in
    page.get_by_label("Case id").fill("NO-SUCH-CASE")
    page.get_by_role("button", name="Open").click()

    expect(page.get_by_text("No case NO-SUCH-CASE in this tenant.")).to_be_visible()


def test_zhangs_evidence_lists_his_missed_reviews_and_each_export_downloads_a_real_file(
    signed_in: Page, console_server: ConsoleServer, artifacts: Path, tmp_path: Path
) -> None:
    page = signed_in
    page.get_by_role("link", name="Employee evidence").click()
    page.get_by_label("Employee", exact=True).select_option("e-zhang")
    page.get_by_label("From", exact=True).fill(PERIOD_FROM)
    page.get_by_label("To", exact=True).fill(PERIOD_TO)
    page.get_by_role("button", name="Show evidence").click()

    rows = page.locator("table.liabilities-table tr[data-liability]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("review missed")
    expect(rows.first).to_contain_text("SO-1001")
    expect(page.locator("h2.subject")).to_contain_text("张伟 Zhang Wei")
    for label in ("JSON", "CSV", "XLSX", "PDF"):
        expect(page.get_by_role("button", name=f"Download {label}")).to_be_visible()

    downloaded: dict[str, bytes] = {}
    for fmt in ("json", "csv", "xlsx", "pdf"):
        with page.expect_download() as info:
            page.get_by_role("button", name=f"Download {fmt.upper()}").click()
        target = tmp_path / f"{fmt}-{info.value.suggested_filename}"
        info.value.save_as(target)
        downloaded[fmt] = target.read_bytes()
        expect(page.locator(".export-message")).to_contain_text("Saved")
    screenshot(page, artifacts, "04-evidence-e-zhang")

    assert all(downloaded.values()), "an export downloaded an empty file"
    document = json.loads(downloaded["json"])
    assert document["employee_id"] == "e-zhang"
    assert {li["basis"] for li in document["liabilities"]} == {"review_missed"}
    assert b"review missed" in downloaded["csv"]  # the console's language: labels, not codes
    assert downloaded["xlsx"].startswith(b"PK")  # a zip: the OOXML container
    assert downloaded["pdf"].startswith(b"%PDF")


def test_the_unit_report_ranks_units_in_a_table_and_a_bar_chart_and_draws_the_overdue_trend(
    signed_in: Page, artifacts: Path
) -> None:
    page = signed_in
    page.get_by_role("link", name="Unit report").click()
    page.get_by_label("From", exact=True).fill(PERIOD_FROM)
    page.get_by_label("To", exact=True).fill(PERIOD_TO)
    page.get_by_label("Trend by").select_option("week")
    page.get_by_role("button", name="Show report").click()

    table = page.get_by_role("table")
    expect(table.locator("tr[data-unit]")).to_have_count(6)
    expect(table.locator("tr[data-unit=product]")).to_contain_text("100%")
    expect(table.locator("tr[data-unit=market]")).to_contain_text("0%")

    ranking = page.get_by_role("img", name="Completion rate per unit")
    expect(ranking).to_be_visible()
    assert ranking.evaluate("e => e.tagName") == "svg"
    expect(ranking.locator("rect.bar")).to_have_count(5)  # sales had nothing due: no bar
    best = ranking.locator("g.bar-row").first
    expect(best).to_have_attribute("data-label", re.compile("Product"))

    trend = page.get_by_role("img", name="Overdue steps per week")
    expect(trend).to_be_visible()
    overdue = trend.locator("g.column:not([data-value='0'])")
    expect(overdue).to_have_count(2)  # research (week of 6 April) and build (week of 20 April)
    expect(overdue.first).to_have_attribute("data-label", re.compile("2026-04-06"))
    screenshot(page, artifacts, "05-unit-report")


def test_switching_to_chinese_relabels_the_console_and_renders_chinese_names(
    signed_in: Page, artifacts: Path
) -> None:
    page = signed_in
    page.goto(page.url.split("#")[0] + "#/case/SO-1001")
    expect(page.locator("#responsibility-source")).to_contain_text("Responsibility source")
    page.get_by_role("button", name="切换到中文").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="责任源头")).to_be_visible()
    expect(page.get_by_role("navigation")).to_contain_text("部门报表")
    expect(page.locator("#responsibility-source")).to_contain_text("李娜")
    expect(page.locator("tr[data-employee=e-zhang]")).to_contain_text("主管未履职")
    screenshot(page, artifacts, "06-case-SO-1001-zh")

    page.get_by_role("link", name="部门报表").click()
    page.get_by_label("起始", exact=True).fill(PERIOD_FROM)
    page.get_by_label("截止", exact=True).fill(PERIOD_TO)
    page.get_by_role("button", name="查看报表").click()
    expect(page.get_by_role("img", name="各部门完成率")).to_be_visible()
    expect(page.get_by_role("img", name="每周逾期步骤数")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("销售部")
    screenshot(page, artifacts, "07-unit-report-zh")

    page.get_by_role("link", name="员工证据").click()
    page.get_by_label("员工", exact=True).select_option("e-li")
    page.get_by_label("起始", exact=True).fill(PERIOD_FROM)
    page.get_by_label("截止", exact=True).fill(PERIOD_TO)
    page.get_by_role("button", name="查看证据").click()
    expect(page.locator("table.liabilities-table")).to_contain_text("违反制度")
    expect(page.locator("h2.subject")).to_contain_text("李娜")
    screenshot(page, artifacts, "08-evidence-e-li-zh")

    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("heading", name="Employee evidence")).to_be_visible()


def test_a_chinese_browser_gets_the_chinese_console_without_asking(
    chinese_page: Page, console_server: ConsoleServer
) -> None:
    chinese_page.goto(console_server.console_url)

    expect(chinese_page.get_by_role("heading", name="登录")).to_be_visible()
    expect(chinese_page.get_by_label("API 令牌")).to_be_visible()
    expect(chinese_page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_every_label_exists_in_english_and_in_chinese(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(console_server.console_url)
    keys = page.evaluate("""async () => {
        const { LABELS } = await import('/console/js/i18n.js');
        return { en: Object.keys(LABELS.en).sort(), zh: Object.keys(LABELS.zh).sort() };
    }""")

    assert set(keys["en"]) ^ set(keys["zh"]) == set()
    assert len(keys["en"]) > 100


def test_a_corrected_liability_stays_visible_struck_through_with_the_reason_for_it(
    signed_in: Page, console_server: ConsoleServer, artifacts: Path
) -> None:
    # No worked example corrects a liability, so the real chain is served with one marked
    # corrected the way `liability.corrected` marks it in the views.
    chain = console_server.get("/v1/cases/SO-1001/chain").json()
    zhang = next(li for li in chain["liabilities"] if li["employee_id"] == "e-zhang")
    zhang.update(corrected=True, corrected_reason="org history corrected: e-li reported to "
                 "e-wang on 2026-03-02", replaced_by="L-replacement", corrected_at=zhang["at"])
    page = signed_in
    page.route("**/v1/cases/SO-1001/chain", lambda route: route.fulfill(json=chain))
    page.goto(page.url.split("#")[0] + "#/case/SO-1001")

    row = page.locator("tr[data-employee=e-zhang]")
    expect(row).to_have_class(re.compile("corrected"))
    expect(row.locator("s").first).to_contain_text("张伟")
    expect(row).to_contain_text("Corrected: org history corrected: e-li reported to e-wang")
    expect(row).to_contain_text("replaced by L-replacement")
    expect(page.locator("tr[data-employee=e-li]")).not_to_have_class(re.compile("corrected"))
    screenshot(page, artifacts, "09-case-corrected-liability")
