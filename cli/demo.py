"""`make demo`: the worked examples E1-E4 (docs/domain-rules.md) and the section 8 scenario
recorded in the embedded store, the responsibility engine run over them, each case's chain
shown in the terminal, a checkpoint signed, and where to click printed per role.

Without a configured signing key (LEDGER_SIGNING_KEY_FILE / LEDGER_SIGNING_KEY) the demo
signs with a demo key it generates once under `demo-keys/` beside LEDGER_HOME (outside it,
so the store never holds its own key), clearly named as one: the proofs and exports then
show a signed checkpoint. A configured key is always used as is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cli.root import build_engine, build_sealed_ledger
from ledger.adapters.signing import generate_keypair, signer_configured
from ledger.application.file_ingest import ingest_file
from ledger.application.recording import Ledger
from ledger.application.tokens import TokenService
from ledger.config import Settings
from ledger.domain.access import Role
from ledger.domain.responsibility.verdicts import CaseAssessment
from ledger.resources import EXAMPLES_DIR, WORKED_EXAMPLES

SECTION_8_EXAMPLES = EXAMPLES_DIR / "section-8.jsonl"
DEMO_KEY_ID = "demo-key-NOT-FOR-PRODUCTION"
DEMO_KEY_README = """DEMO KEY - NOT FOR PRODUCTION.
`make demo` generated this Ed25519 key to sign the demo ledger's checkpoints, because no
LEDGER_SIGNING_KEY_FILE or LEDGER_SIGNING_KEY was set. Anyone with this folder can sign
checkpoints of the demo ledger. Never use it for real data: generate a key with
`ledger keys generate --dir /a/secret/mount` and set LEDGER_SIGNING_KEY_FILE.
"""
TENANT = "acme"
BASE_URL = "http://127.0.0.1:8000"
CASES = {
    "SO-1001": "E1 retail: return promise of 7 days, supervisor never reviews",
    "LAUNCH-1": "E2 product launch: research completed on day 9 of 7",
    "B-77": "E3 manufacturing: inspected batch, later a complaint",
    "SO-1005": "E4 transfer: violation of 03-05, Li moved to Wang's team on 03-10",
    "FIX-1": "8.2/8.3 rectification: plan never done, escalated; market never cooperates",
    "SO-2001": "8.4 discount approved by Zhang the day after his approver role was revoked",
}


def run_demo(console: Console, settings: Settings, path: Path = WORKED_EXAMPLES,
             base: str = BASE_URL) -> Settings:
    """Record, derive, show, seal and print the URLs; returns the settings the demo ran
    with (the demo key's, when it made one), for the server it starts next."""
    settings = with_demo_key(console, settings)
    ledger, sealer = build_sealed_ledger(settings)
    console.rule("[bold]Accountability ledger: worked examples E1-E4 and section 8")
    store = "PostgreSQL" if settings.database_url else str(settings.sqlite_path)
    console.print(f"store: {store}")
    first = ingest_file(ledger, path, settings.ingest_batch_size)
    console.print(f"delivery of {first.lines} events: {first.counts}")
    again = ingest_file(ledger, path, settings.ingest_batch_size)
    console.print(f"the same file again (idempotent redelivery): {again.counts}")
    if path == WORKED_EXAMPLES and SECTION_8_EXAMPLES.exists():
        more = ingest_file(ledger, SECTION_8_EXAMPLES, settings.ingest_batch_size)
        console.print(f"section 8 scenario ({more.lines} events): {more.counts}")
    engine = build_engine(ledger, settings)
    engine.run_until_idle()
    liabilities = _liabilities(ledger)
    for case_id, title in CASES.items():
        assessment = engine.assess(TENANT, case_id)
        if assessment is not None:
            _show_case(console, title, assessment, liabilities.get(case_id, []))
    head = ledger.store.head(TENANT)
    console.print(f"\nledger of '{TENANT}': {head.position} entries, head hash {head.entry_hash}")
    if sealer is not None:
        signed = sealer.seal(TENANT)
        size = signed.tree_size if signed is not None else head.position
        console.print(f"checkpoint signed at {size} entries with key {sealer_key_id(settings)}")
    _show_access(console, TokenService(ledger.store, ledger.clock), base)
    ledger.store.close()
    return settings


def sealer_key_id(settings: Settings) -> str:
    return settings.signing_key_id or "(the key's fingerprint)"


def demo_key_folder(settings: Settings) -> Path:
    """Beside LEDGER_HOME, never inside it: a key stored with the data signs nothing."""
    return settings.home.resolve().parent / "demo-keys"


def with_demo_key(console: Console, settings: Settings) -> Settings:
    """The settings as given when a signing key is configured; else the demo key's (made
    once, then reused), also put in this process's environment so the server that
    `ledger demo` starts next signs with it too."""
    if signer_configured(settings):
        return settings
    folder = demo_key_folder(settings)
    private = folder / f"{DEMO_KEY_ID}.key"
    if not private.exists():
        generate_keypair(folder, DEMO_KEY_ID)
        (folder / "README.txt").write_text(DEMO_KEY_README, encoding="utf-8")
    os.environ["LEDGER_SIGNING_KEY_FILE"] = str(private)
    os.environ["LEDGER_SIGNING_KEY_ID"] = DEMO_KEY_ID
    console.print(f"[bold yellow]DEMO KEY[/]: checkpoints are signed with {private} "
                  f"(key id {DEMO_KEY_ID}); never use it for real data")
    return settings.model_copy(update={"signing_key_file": private,
                                       "signing_key_id": DEMO_KEY_ID})


#: Where each role's work is in the console, for the worked examples' period.
PERIOD = "from=2026-03-01&to=2026-05-31"
MANAGER_UNIT = "sales"


def _show_access(console: Console, tokens: TokenService, base: str = BASE_URL) -> None:
    """Tokens per role, where each one's work is in the console, and curl lines that work
    as printed."""
    auditor = tokens.create(TENANT, Role.AUDITOR, None, "demo")
    hr = tokens.create(TENANT, Role.HR, None, "demo")
    manager = tokens.create(TENANT, Role.MANAGER, MANAGER_UNIT, "demo")
    console.print(f"\nAPI tokens of tenant '{TENANT}' (shown once; `ledger token list` names them)")
    console.print("Where to click: open the URL, sign in with the token (中文 by default; EN "
                  "switches to English):", markup=False)
    for line in click_lines(auditor, hr, manager, base):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"API docs: {base}/docs  (Authorize with a token)\n", markup=False)
    for line in curl_lines(auditor, hr, base):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def click_lines(auditor: str, hr: str, manager: str, base: str = BASE_URL) -> list[str]:
    """One block per role: the console page where its work is, and its token."""
    console_url = f"{base}/console/"
    return [
        f"  auditor (审计): {console_url}#/case/SO-1001  (chain, deadlines, trace report)",
        f"      token: {auditor}",
        f"  HR (人事):      {console_url}#/evidence/e-zhang?{PERIOD}  (evidence, scores)",
        f"      token: {hr}",
        f"  manager (主管, unit {MANAGER_UNIT}): {console_url}#/queue  (open reviews, due soon)",
        f"      token: {manager}",
    ]


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
        curl(auditor, "/v1/cases/SO-1001/report?format=pdf", " -OJ"),
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
