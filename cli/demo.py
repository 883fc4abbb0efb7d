"""`make demo`: the worked examples E1-E4 (docs/domain-rules.md) recorded in the embedded
store, the responsibility engine run over them, and each case's chain shown in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cli.root import build_engine, build_ledger
from ledger.application.file_ingest import ingest_file
from ledger.application.recording import Ledger
from ledger.application.tokens import TokenService
from ledger.config import Settings
from ledger.domain.access import Role
from ledger.domain.responsibility.verdicts import CaseAssessment
from ledger.resources import WORKED_EXAMPLES

TENANT = "acme"
BASE_URL = "http://127.0.0.1:8000"
CASES = {
    "SO-1001": "E1 retail: return promise of 7 days, supervisor never reviews",
    "LAUNCH-1": "E2 product launch: research completed on day 9 of 7",
    "B-77": "E3 manufacturing: inspected batch, later a complaint",
    "SO-1005": "E4 transfer: violation of 03-05, Li moved to Wang's team on 03-10",
}


def run_demo(console: Console, settings: Settings, path: Path = WORKED_EXAMPLES) -> None:
    ledger = build_ledger(settings)
    console.rule("[bold]Accountability ledger: worked examples E1-E4")
    store = "PostgreSQL" if settings.database_url else str(settings.sqlite_path)
    console.print(f"store: {store}")
    first = ingest_file(ledger, path, settings.ingest_batch_size)
    console.print(f"delivery of {first.lines} events: {first.counts}")
    again = ingest_file(ledger, path, settings.ingest_batch_size)
    console.print(f"the same file again (idempotent redelivery): {again.counts}")
    engine = build_engine(ledger, settings)
    engine.run_until_idle()
    liabilities = _liabilities(ledger)
    for case_id, title in CASES.items():
        assessment = engine.assess(TENANT, case_id)
        if assessment is not None:
            _show_case(console, title, assessment, liabilities.get(case_id, []))
    head = ledger.store.head(TENANT)
    console.print(f"\nledger of '{TENANT}': {head.position} entries, head hash {head.entry_hash}")
    _show_access(console, TokenService(ledger.store, ledger.clock))
    ledger.store.close()


def _show_access(console: Console, tokens: TokenService, base: str = BASE_URL) -> None:
    """Tokens to try the API and the console with, and curl lines that work as printed."""
    auditor = tokens.create(TENANT, Role.AUDITOR, None, "demo")
    hr = tokens.create(TENANT, Role.HR, None, "demo")
    console.print(
        f"\nAPI tokens of tenant '{TENANT}' (shown once; `ledger token list` names them):\n"
        f"  auditor: {auditor}\n  hr:      {hr}\n"
        f"web console: {base}/console/  (sign in with the auditor token)\n"
        f"API docs:    {base}/docs  (Authorize with a token)\n"
    )
    for line in curl_lines(auditor, hr, base):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def curl_lines(auditor: str, hr: str, base: str = BASE_URL) -> list[str]:
    """Requests to paste into a shell while `make demo` serves: each sends the token."""
    def curl(token: str, path: str, extra: str = "") -> str:
        return f"curl -sS{extra} -H 'Authorization: Bearer {token}' '{base}{path}'"

    return [
        curl(auditor, "/v1/cases/SO-1001/chain"),
        curl(auditor, "/v1/violations?status=missed"),
        curl(hr, "/v1/liabilities?employee_id=e-zhang"),
        curl(hr, "/v1/employees/e-zhang/evidence?format=pdf", " -OJ"),
        curl(hr, "/v1/reports/units?from=2026-03-01&to=2026-05-31"),
        curl(auditor, "/v1/audit/evidence-reads"),
    ]


def _liabilities(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    corrected: dict[str, dict[str, Any]] = {}
    assigned: list[dict[str, Any]] = []
    for entry in ledger.store.iter_entries(TENANT):
        if entry.envelope["type"] == "liability.assigned":
            assigned.append(entry.envelope["data"])
        elif entry.envelope["type"] == "liability.corrected":
            corrected[entry.envelope["data"]["liability_id"]] = entry.envelope["data"]
    by_case: dict[str, list[dict[str, Any]]] = {}
    for liability in assigned:
        row = {**liability, "corrected": corrected.get(liability["liability_id"])}
        by_case.setdefault(liability["case_id"], []).append(row)
    return by_case


def _show_case(
    console: Console, title: str, a: CaseAssessment, liabilities: list[dict[str, Any]]
) -> None:
    console.print()
    console.rule(f"[bold]{a.case_id}[/bold]: {title}")
    chain = Table(title="responsibility chain (business-time order)", expand=True)
    for column in ("at", "event", "step", "actor", "unit", "lead", "due", "on time", "flags"):
        chain.add_column(column, overflow="fold")
    source_id = a.source.event_id if a.source else None
    for link in a.links:
        style = "bold red" if link.event_id == source_id else None
        chain.add_row(
            link.at.strftime("%m-%d %H:%M"),
            link.type.removeprefix("ledger."),
            link.step or "",
            link.actor_id or "",
            link.unit_id or "",
            link.expected_lead or "",
            link.due.strftime("%m-%d %H:%M") if link.due else "",
            {True: "yes", False: "NO", None: ""}[link.on_time],
            ", ".join(link.flags),
            style=style,
        )
    console.print(chain)
    if a.source:
        console.print(
            f"[bold red]responsibility source[/]: {a.source.event_id} "
            f"({a.source.reason}) -> {a.source.employee_id} of {a.source.unit_id}"
        )
    table = Table(title="liabilities", expand=True)
    for column in ("employee", "kind", "basis", "events", "status"):
        table.add_column(column, overflow="fold")
    for li in liabilities:
        status = "corrected" if li["corrected"] else "active"
        table.add_row(
            li["employee_id"],
            li["kind"],
            li["basis"] + (f" ({li['role']})" if li.get("role") else ""),
            ", ".join(li["event_ids"]),
            status,
        )
    console.print(table)
