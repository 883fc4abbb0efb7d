"""An export's session: the ledger, the read models caught up with it, progress on the
terminal, who exports (for the audit trail), and whose evidence to export."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.export_files import ExportFailed, Request
from cli.root import build_engine, build_ledger, load_settings
from ledger.application.derivation import derived_position
from ledger.application.recording import Ledger
from ledger.application.tokens import AuditTrail
from ledger.config import Settings
from ledger.domain.access import Principal, Role
from ledger.domain.events import ENTRY_KIND_INBOUND
from projections.documents import record_read
from projections.reads import ReadModels
from projections.runner import Projections

err = Console(stderr=True, soft_wrap=True)

#: Inbound entries looked at when checking whether the engine is behind.
DERIVE_LOOKAHEAD = 1000


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return f"uid{os.getuid()}"


def cli_principal(tenant: str) -> Principal:
    """Who exports, as the audit trail records it: the OS user; HR's role, the role
    that pulls evidence and reports."""
    return Principal(f"cli:{os_user()}", tenant, Role.HR)


@dataclass(slots=True)
class Session:
    ledger: Ledger
    progress: Progress
    reads: ReadModels
    audit: AuditTrail
    principal: Principal

    def record_read(self, route: str, subject: str, request: Request) -> None:
        """One read in the tenant's audit trail, recorded as the API records its reads."""
        record_read(self.audit, self.principal, route, subject, request.from_, request.to,
                    request.fmt)


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    return Progress(*columns, console=err, transient=False)


def _caught_up(ledger: Ledger, settings: Settings, progress: Progress) -> ReadModels:
    """The read models on the ledger's own store (as the API's read side builds them),
    with every view brought up to the ledger's head."""
    projections = Projections(ledger.store, store_name=settings.store_name,
                              lateness=settings.allowed_lateness)
    task = progress.add_task("catching up views", total=None)

    def advance(reached: int, head: int) -> None:
        progress.update(task, completed=reached, total=head)

    projections.catch_up(progress=advance)
    return ReadModels(projections)


def _derive(ledger: Ledger, settings: Settings, progress: Progress) -> None:
    task = progress.add_task("deriving responsibility", total=None)
    read = build_engine(ledger, settings).run_until_idle()
    progress.update(task, total=read, completed=read)


def underived(ledger: Ledger, tenant: str) -> int:
    """Inbound entries of the tenant the responsibility engine has not read yet (counted
    in the next DERIVE_LOOKAHEAD entries): their liabilities cannot be in an export."""
    position = derived_position(ledger.store, tenant)
    batch = ledger.store.entries(tenant, position, DERIVE_LOOKAHEAD)
    return sum(1 for e in batch if e.kind == ENTRY_KIND_INBOUND)


@contextlib.contextmanager
def session(tenant: str, derive: bool) -> Iterator[Session]:
    settings = load_settings()
    ledger = build_ledger(settings)
    try:
        with _progress() as progress:
            if derive:
                _derive(ledger, settings, progress)
            reads = _caught_up(ledger, settings, progress)
            pending = underived(ledger, tenant)
            if pending:
                progress.console.print(
                    f"[yellow]warning:[/yellow] {pending} event(s) of {tenant} are not derived "
                    "yet: liabilities that follow from them are missing. Run `ledger derive` "
                    "or pass --derive."
                )
            yield Session(ledger, progress, reads, AuditTrail(ledger.store, ledger.clock),
                          cli_principal(tenant))
    finally:
        ledger.store.close()


# --- choosing employees -------------------------------------------------------------------


def check_selection(employees: Sequence[str], unit: str | None, everyone: bool) -> None:
    """Before anything is opened: who to export must be said exactly one way."""
    if (bool(employees), unit is not None, everyone).count(True) != 1:
        raise typer.BadParameter("choose exactly one of --employee (repeatable), --unit, --all",
                                 param_hint="'--employee' / '--unit' / '--all'")


def choose(
    s: Session, tenant: str, employees: Sequence[str], unit: str | None, everyone: bool
) -> list[str]:
    if unit is not None:
        return _in_unit(s.reads, tenant, unit, s.ledger.clock())
    if everyone:
        return sorted(s.reads.employee_ids(tenant))
    return _named(s.reads, tenant, employees)


def _in_unit(reads: ReadModels, tenant: str, unit_id: str, now: datetime) -> list[str]:
    """Everyone assigned now to the unit or a unit below it (the org chart as it stands
    now, as a manager's scope is drawn)."""
    if not reads.knows_unit(tenant, unit_id):
        raise ExportFailed(f"unknown unit {unit_id!r} for tenant {tenant!r}")
    return sorted(reads.unit_scope(tenant, unit_id, now).employees)


def _named(reads: ReadModels, tenant: str, employees: Sequence[str]) -> list[str]:
    """The employees asked for, if the tenant knows every one (as the API's 404 does)."""
    unknown = [e for e in employees if not reads.knows_employee(tenant, e)]
    if unknown:
        raise ExportFailed(
            f"unknown employee{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
            f"tenant {tenant!r}: not in the org history and without evidence"
        )
    return list(employees)
