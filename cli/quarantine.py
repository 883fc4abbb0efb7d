"""`ledger quarantine list|retry`: cases a stage set aside, and handing them back."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.root import build_ledger, load_settings
from ledger.application.quarantine import Quarantined, open_quarantines, release

quarantine_app = typer.Typer(help="Cases a stage failed on repeatedly, set aside.",
                             no_args_is_help=True)
console = Console()

Tenant = Annotated[str, typer.Option(help="The tenant whose quarantines to read.")]
Case = Annotated[str | None, typer.Option(help="Only this case.")]
Stage = Annotated[str | None, typer.Option(help="Only this stage (derivation, "
                                           "projection:<name>).")]


def _table(title: str, found: list[Quarantined]) -> Table:
    table = Table(title=title)
    for column in ("stage", "case", "position", "event id", "error"):
        table.add_column(column)
    for q in found:
        table.add_row(q.stage, q.case_id, str(q.position), q.event_id or "", q.error)
    return table


@quarantine_app.command("list")
def list_(tenant: Tenant) -> None:
    """The tenant's quarantines in force."""
    ledger = build_ledger(load_settings())
    try:
        found = open_quarantines(ledger.store, tenant)
    finally:
        ledger.store.close()
    console.print(_table(f"{tenant}: {len(found)} quarantined", found))


@quarantine_app.command("retry")
def retry(tenant: Tenant, case: Case = None, stage: Stage = None) -> None:
    """Hand quarantined cases back (after a fix): the workers derive them again, as an
    undisturbed run would have."""
    ledger = build_ledger(load_settings())
    try:
        released = release(ledger, tenant, stage=stage, case_id=case)
    finally:
        ledger.store.close()
    console.print(_table(f"{tenant}: {len(released)} released", released))
