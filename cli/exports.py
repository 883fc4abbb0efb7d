"""`ledger export evidence|units`: HR evidence and unit reports to files.

The documents are the API's own (`GET /v1/employees/{id}/evidence`, `GET /v1/reports/units`):
built by the same code from the same read models (`api.evidence.evidence_document`,
`ReadModels.unit_report`) and formatted by the same renderers (`ledger.adapters.rendering`), so a
file from the CLI and a download from the API never disagree. Before reading, the views
are caught up with the ledger, so an export reflects everything recorded when it starts.

Every export is recorded in the tenant's evidence-read audit trail, as an API read is:
after it was rendered (a read that failed is not one) and before its file is written (no
file exists whose read was not recorded). The principal is `cli:<os user>`, as
`ledger token` records who issued a token, with HR's role. A unit report is recorded
too, with an empty subject (it is no one's evidence, but it is a read).

`api.evidence` is imported when a command runs, not when `ledger` starts.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from cli.root import build_engine, build_ledger
from ledger.adapters.rendering import (
    CombinedEvidence,
    FontMissing,
    evidence_rows,
    render_evidence,
    render_units,
)
from ledger.application.derivation import ENGINE_READER
from ledger.application.recording import Ledger
from ledger.application.tokens import TENANT_PATTERN, AuditTrail
from ledger.config import Settings
from ledger.domain.access import Principal, Role
from ledger.domain.events import ENTRY_KIND_INBOUND
from projections.reads import Bound, ReadModels, bound_from_text
from projections.runner import Projections
from projections.views import eq

export_app = typer.Typer(
    help="HR evidence and unit reports to files: JSON, CSV, XLSX or PDF.", no_args_is_help=True
)
err = Console(stderr=True, soft_wrap=True)

ROUTE_EVIDENCE = "ledger export evidence"
ROUTE_UNITS = "ledger export units"
#: Above this many rows, an employee's export gets its own progress bar.
BIG_EXPORT_ROWS = 2000
#: Inbound entries looked at when checking whether the engine is behind.
DERIVE_LOOKAHEAD = 1000
MANIFEST = "manifest.json"
COMBINED = "combined-evidence"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


class ExportFailed(Exception):
    """A problem the user can fix, reported as one line and an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --- options --------------------------------------------------------------------------


def _tenant(value: str) -> str:
    if not TENANT_PATTERN.match(value):
        raise typer.BadParameter(f"must match [a-z0-9-]{{1,63}}: {value!r}")
    return value


TenantOpt = Annotated[
    str, typer.Option(callback=_tenant, help="The tenant whose data to export.")
]
FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="Inclusive: a date (business date) or an RFC 3339 time."),
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="Inclusive: a date or an RFC 3339 time.")
]
FormatOpt = Annotated[ExportFormat, typer.Option("--format", "-f", help="Output format.")]
DeriveOpt = Annotated[
    bool,
    typer.Option(
        "--derive/--no-derive",
        help="Run the responsibility engine until idle first (it appends what follows "
        "from events it has not seen yet, as `ledger derive` does).",
    ),
]


def parse_bound(option: str, value: str | None) -> Bound | None:
    """`--from`/`--to` as the API reads `from`/`to` (`projections.reads.bound_from_text`)."""
    if value is None or value == "":
        return None
    try:
        return bound_from_text(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def parse_period(from_: str | None, to: str | None) -> tuple[Bound | None, Bound | None]:
    start, end = parse_bound("'--from'", from_), parse_bound("'--to'", to)
    first, last = _day(start), _day(end)
    if first is not None and last is not None and first > last:
        raise typer.BadParameter(f"--from {from_} is after --to {to}", param_hint="'--from'")
    return start, end


def _day(bound: Bound | None) -> date | None:
    """The unit report counts business days: a time bound stands for its date."""
    return bound.date() if isinstance(bound, datetime) else bound


def _iso(bound: Bound | None) -> str | None:
    return bound.isoformat() if bound is not None else None


# --- the session: ledger, progress, read side, audit -----------------------------------


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
        """One read in the tenant's audit trail, its query in the API's form."""
        from api.evidence import audit_query

        self.audit.record(self.principal, route, subject,
                          audit_query(request.from_, request.to, request.fmt))


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
    position = ledger.store.max_tracking_id(ENGINE_READER) or 0
    batch = ledger.store.entry_notifications(position, DERIVE_LOOKAHEAD)
    return sum(1 for _, e in batch if e.tenant == tenant and e.kind == ENTRY_KIND_INBOUND)


@contextlib.contextmanager
def session(tenant: str, derive: bool) -> Iterator[Session]:
    settings = Settings()
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


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turns the problems a user can act on into one line and an exit code."""
    try:
        yield
    except ExportFailed as exc:
        raise fail(str(exc), exc.code) from exc
    except FontMissing as exc:
        raise fail(str(exc), 1) from exc


# --- choosing employees -------------------------------------------------------------------


def _holders(reads: ReadModels, tenant: str) -> set[str]:
    """Everyone the tenant has a record of: in the org history (departed included: their
    evidence stays), or with a liability or a positive record."""
    found: set[str] = set()
    for view, table in (("org_history", "org_assignments"), ("liabilities", "liabilities"),
                        ("duties", "duties")):
        groups = reads.projections.view(view).sums(table, [eq("tenant", tenant)],
                                                   ("employee_id",), ())
        found |= {g["employee_id"] for g in groups if g["employee_id"]}
    return found


def _knows_unit(reads: ReadModels, tenant: str, unit_id: str) -> bool:
    where = [eq("tenant", tenant), eq("unit_id", unit_id)]
    org = reads.projections.view("org_history")
    return any(org.select(table, where, limit=1) for table in ("org_units", "org_assignments"))


def _in_unit(reads: ReadModels, tenant: str, unit_id: str, now: datetime) -> list[str]:
    """Everyone assigned now to the unit or a unit below it (the org chart as it stands
    now, as a manager's scope is drawn)."""
    if not _knows_unit(reads, tenant, unit_id):
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
        return sorted(_holders(s.reads, tenant))
    return _named(s.reads, tenant, employees)


# --- files ------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.-]")


def _safe(part: str) -> str:
    """A name part safe in a file name; one that had to change carries a digest of the
    original, so two ids never share a file."""
    safe = _UNSAFE.sub("_", part)
    if safe != part:
        safe += "-" + hashlib.sha256(part.encode()).hexdigest()[:8]
    return safe


def evidence_filename(employee_id: str, fmt: str, from_: str | None = None,
                      to: str | None = None) -> str:
    """`evidence-e-zhang-2026-03-01-2026-03-31.pdf`, as the API names the download."""
    parts = ["evidence", _safe(employee_id), *(_safe(p) for p in (from_, to) if p)]
    return "-".join(parts) + f".{fmt}"


def write_file(path: Path, body: bytes) -> None:
    """Whole or not at all: a crash never leaves half an evidence file behind."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(body)
        partial.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ExportFailed(f"could not write {path}: {exc.strerror or exc}", code=1) from exc


def single_target(out: str | None, filename: str) -> Path:
    """`--out` for one file: the file itself, or a directory to put it in (one that
    exists, or any path written with a trailing slash)."""
    if not out:
        return Path(filename)
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return Path(out) / filename
    return Path(out)


def directory_target(out: str | None, tenant: str) -> Path:
    directory = Path(out) if out else Path(f"evidence-{tenant}")
    if directory.exists() and not directory.is_dir():
        raise ExportFailed(f"{directory} is a file; several employees need a directory (--out)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportFailed(f"could not create {directory}: {exc.strerror or exc}",
                           code=1) from exc
    return directory


# --- evidence ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One export as asked: the period parsed for the read side and as given (the audit
    trail and the file names keep what was typed, as the API keeps its query)."""

    tenant: str
    fmt: str
    from_: str | None
    to: str | None
    start: Bound | None
    end: Bound | None
    scope: dict[str, Any] = field(default_factory=dict)

    def filename(self, employee_id: str) -> str:
        return evidence_filename(employee_id, self.fmt, self.from_, self.to)


@dataclass(slots=True)
class Written:
    employee_id: str
    name: str | None
    path: Path
    liabilities: int
    positive: int
    events: int
    size: int
    sha256: str

    @property
    def records(self) -> int:
        return self.liabilities + self.positive


@dataclass(slots=True)
class Tally:
    written: list[Written] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)
    extra_bytes: int = 0

    def line(self, what: str, where: Path) -> str:
        rows = sum(w.records for w in self.written)
        liabilities = sum(w.liabilities for w in self.written)
        size = sum(w.size for w in self.written) + self.extra_bytes
        files = len(self.written) + len(self.extra)
        return (f"exported {what}: {_n(files, 'file')}, {rows} rows ({liabilities} "
                f"liabilities, {rows - liabilities} positive records), "
                f"{sum(w.events for w in self.written)} ledger events, {size} bytes -> {where}")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _row_progress(s: Session, task: TaskID, doc: dict[str, Any], fmt: str
                  ) -> Callable[[int], None] | None:
    """A bar over rows for a big employee; None (no bar) for the usual few. Once shown,
    the bar stays, with the latest big employee's rows."""
    total = evidence_rows(doc, fmt)
    if total <= BIG_EXPORT_ROWS:
        return None
    s.progress.reset(task, total=total, visible=True,
                     description=f"rows of {escape(doc['employee_id'])}")

    def advance(rows: int) -> None:
        s.progress.advance(task, rows)

    return advance


def export_one(
    s: Session, request: Request, employee_id: str, target: Path, rows_task: TaskID,
    combined: CombinedEvidence | None,
) -> Written:
    """Read, render, record the read, write: in that order (see the module's docstring)."""
    from api.evidence import evidence_document

    doc = evidence_document(s.reads, s.ledger.store, request.tenant, employee_id,
                            request.start, request.end, s.ledger.clock())
    body = render_evidence(doc, request.fmt, _row_progress(s, rows_task, doc, request.fmt))
    s.record_read(ROUTE_EVIDENCE, employee_id, request)
    write_file(target, body)
    if combined is not None:
        combined.add(doc)
    return Written(employee_id, doc.get("name"), target, len(doc["liabilities"]),
                   len(doc["positive_records"]), len(doc["events"]), len(body),
                   hashlib.sha256(body).hexdigest())


def export_all(
    s: Session, request: Request, employees: Sequence[str], place: Callable[[str], Path],
    combined: CombinedEvidence | None,
) -> Tally:
    tally = Tally()
    task = s.progress.add_task("employees", total=len(employees))
    rows_task = s.progress.add_task("rows", total=None, visible=False)
    for employee_id in employees:
        s.progress.update(task, description=f"evidence of {escape(employee_id)}")
        tally.written.append(
            export_one(s, request, employee_id, place(employee_id), rows_task, combined))
        s.progress.advance(task)
    s.progress.update(task, description="employees")
    return tally


def _manifest(s: Session, request: Request, tally: Tally) -> bytes:
    """What the directory holds, with each file's SHA-256, for whoever receives it."""
    return orjson.dumps({
        "tenant": request.tenant, "from": request.from_, "to": request.to,
        "format": request.fmt, "scope": request.scope,
        "exported_by": s.principal.token_id, "generated_at": s.ledger.clock().isoformat(),
        "files": [{"employee_id": w.employee_id, "name": w.name, "file": w.path.name,
                   "liabilities": w.liabilities, "positive_records": w.positive,
                   "events": w.events, "bytes": w.size, "sha256": w.sha256}
                  for w in tally.written],
    }, option=orjson.OPT_INDENT_2)


def finish_directory(s: Session, request: Request, directory: Path, tally: Tally,
                     combined: CombinedEvidence | None) -> None:
    """The combined file (CSV, XLSX) and the manifest, beside the employees' files."""
    extras: list[tuple[Path, bytes]] = []
    if combined is not None:
        body = combined.csv() if request.fmt == "csv" else combined.xlsx()
        extras.append((directory / f"{COMBINED}.{request.fmt}", body))
    extras.append((directory / MANIFEST, _manifest(s, request, tally)))
    for path, body in extras:
        write_file(path, body)
        tally.extra.append(path)
        tally.extra_bytes += len(body)


def _scope(employees: Sequence[str], unit: str | None, everyone: bool) -> dict[str, Any]:
    if unit is not None:
        return {"unit": unit}
    if everyone:
        return {"all": True}
    return {"employees": list(employees)}


@export_app.command("evidence")
def evidence(
    tenant: TenantOpt,
    employee: Annotated[
        list[str] | None,
        typer.Option("--employee", "-e", help="An employee's id; repeat for several."),
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(help="Everyone now in this unit or a unit below it (a file each)."),
    ] = None,
    everyone: Annotated[
        bool, typer.Option("--all", help="Every employee the tenant has a record of.")
    ] = False,
    from_: FromOpt = None,
    to: ToOpt = None,
    fmt: FormatOpt = ExportFormat.JSON,
    out: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="One employee: the file, or a directory for it "
                     "(trailing /); several: the directory (default ./evidence-<tenant>)."),
    ] = None,
    derive: DeriveOpt = False,
) -> None:
    """Every liability and positive record of employees over a period, with the ledger
    events behind them and their proofs: the API's evidence document, as files. Several
    employees give a directory: a file each, manifest.json with their SHA-256 and, for
    CSV and XLSX, one combined file."""
    employees = list(dict.fromkeys(employee or []))
    check_selection(employees, unit, everyone)
    start, end = parse_period(from_, to)
    request = Request(tenant, fmt.value, from_, to, start, end,
                      _scope(employees, unit, everyone))
    with reported(), session(tenant, derive) as s:
        chosen = choose(s, tenant, employees, unit, everyone)
        if len(employees) == 1:
            where = single_target(out, request.filename(chosen[0]))
            tally = export_all(s, request, chosen, lambda _: where, None)
        else:
            where = directory_target(out, tenant)
            combined = (CombinedEvidence(tenant, from_, to)
                        if request.fmt in ("csv", "xlsx") else None)
            tally = export_all(s, request, chosen,
                               lambda e: where / request.filename(e), combined)
            finish_directory(s, request, where, tally, combined)
    if not chosen:
        err.print(f"[yellow]warning:[/yellow] no employees to export for {escape(tenant)}")
    typer.echo(tally.line(f"evidence of {_n(len(chosen), 'employee')}", where))


# --- unit report ----------------------------------------------------------------------


@export_app.command("units")
def units(
    tenant: TenantOpt,
    from_: FromOpt = None,
    to: ToOpt = None,
    fmt: FormatOpt = ExportFormat.JSON,
    out: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="The file, or a directory for it (trailing /); "
                     "default ./units-<tenant>.<fmt>."),
    ] = None,
    derive: DeriveOpt = False,
) -> None:
    """Per unit over the business days from..to: steps due, on time, overdue, violations,
    liabilities, completion rate and rank (the API's unit report), as a file."""
    start, end = parse_period(from_, to)
    first, last = _day(start), _day(end)
    request = Request(tenant, fmt.value, from_, to, first, last)
    with reported(), session(tenant, derive) as s:
        rows = s.reads.unit_report(tenant, first, last)
        doc = {"tenant": tenant, "from": _iso(first), "to": _iso(last), "units": rows}
        body = render_units(doc, request.fmt)
        s.record_read(ROUTE_UNITS, "", request)
        target = single_target(out, "-".join(
            ["units", tenant, *(_safe(p) for p in (from_, to) if p)]) + f".{request.fmt}")
        write_file(target, body)
    typer.echo(f"exported the unit report of {tenant}: 1 file, {_n(len(rows), 'unit')}, "
               f"{len(body)} bytes -> {target}")
