"""`ledger export evidence|units|report`: HR evidence, unit reports and trace reports to files.

The documents are the API's own (`GET /v1/employees/{id}/evidence`, `GET /v1/reports/units`,
`GET /v1/cases/{id}/report`):
built by the same code from the same read models (`projections.documents`) and formatted
by the same renderers (`ledger.adapters.rendering`), so a file from the CLI and a download
from the API never disagree. Before reading, the views are caught up with the ledger, so
an export reflects everything recorded when it starts (cli/export_session.py).

Every export is recorded in the tenant's evidence-read audit trail, as an API read is:
after it was rendered (a read that failed is not one) and before its file is written (no
file exists whose read was not recorded). The principal is `cli:<os user>`, as
`ledger token` records who issued a token, with HR's role. A unit report is recorded
too, with an empty subject (it is no one's evidence, but it is a read).

Here the commands and their options; file names, places and the manifest are in
cli/export_files.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.progress import TaskID

from cli.export_files import (
    ExportFailed,
    Request,
    Tally,
    Written,
    directory_target,
    evidence_filename,
    finish_directory,
    plural,
    single_target,
    write_file,
    written,
)
from cli.export_session import Session, check_selection, choose, err, os_user, session
from ledger.adapters.combined_export import CombinedEvidence
from ledger.adapters.labels import DEFAULT_LANG, Lang
from ledger.adapters.pdf_export import FontMissing
from ledger.adapters.rendering import evidence_rows, render_evidence, render_units
from ledger.adapters.report_rendering import report_pdf, report_xlsx
from ledger.application.tokens import TENANT_PATTERN
from projections.documents import business_day, evidence_document, unit_report
from projections.reads import Bound, bound_from_text
from projections.trace_report import trace_report

__all__ = ["BIG_EXPORT_ROWS", "evidence_filename", "export_app", "os_user"]

export_app = typer.Typer(
    help="HR evidence and unit reports to files: JSON, CSV, XLSX or PDF.", no_args_is_help=True
)

ROUTE_EVIDENCE = "ledger export evidence"
ROUTE_UNITS = "ledger export units"
ROUTE_REPORT = "ledger export report"
#: Above this many rows, an employee's export gets its own progress bar.
BIG_EXPORT_ROWS = 2000


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


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


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class ReportFormat(StrEnum):
    JSON = "json"
    XLSX = "xlsx"
    PDF = "pdf"


LangOpt = Annotated[
    Language | None,
    typer.Option("--lang", help="Labels, headers and sentences in Chinese (zh, the default) "
                 "or English (en). CSV keeps its column codes unless a language is given."),
]


def chosen(lang: Language | None) -> Lang:
    return lang.value if lang is not None else DEFAULT_LANG


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
    first, last = business_day(start), business_day(end)
    if first is not None and last is not None and first > last:
        raise typer.BadParameter(f"--from {from_} is after --to {to}", param_hint="'--from'")
    return start, end


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


# --- evidence ---------------------------------------------------------------------------


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
    doc = evidence_document(s.reads, s.ledger.store, request.tenant, employee_id,
                            request.start, request.end, s.ledger.clock(),
                            request.lang or DEFAULT_LANG)
    body = render_evidence(doc, request.fmt, _row_progress(s, rows_task, doc, request.fmt),
                           csv_lang=request.lang)
    s.record_read(ROUTE_EVIDENCE, employee_id, request)
    write_file(target, body)
    if combined is not None:
        combined.add(doc)
    return written(doc, target, body)


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


def _scope(employees: Sequence[str], unit: str | None, everyone: bool) -> dict[str, Any]:
    if unit is not None:
        return {"unit": unit}
    if everyone:
        return {"all": True}
    return {"employees": list(employees)}


def _generated_at(s: Session) -> str:
    moment: datetime = s.ledger.clock()
    return moment.isoformat()


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
    lang: LangOpt = None,
) -> None:
    """Every liability and positive record of employees over a period, with the ledger
    events behind them and their proofs: the API's evidence document, as files. Several
    employees give a directory: a file each, manifest.json with their SHA-256 and, for
    CSV and XLSX, one combined file."""
    employees = list(dict.fromkeys(employee or []))
    check_selection(employees, unit, everyone)
    start, end = parse_period(from_, to)
    request = Request(tenant, fmt.value, from_, to, start, end,
                      _scope(employees, unit, everyone), lang.value if lang else None)
    with reported(), session(tenant, derive) as s:
        chosen = choose(s, tenant, employees, unit, everyone)
        if len(employees) == 1:
            where = single_target(out, request.filename(chosen[0]))
            tally = export_all(s, request, chosen, lambda _: where, None)
        else:
            where = directory_target(out, tenant)
            combined = (CombinedEvidence(tenant, from_, to, request.lang)
                        if request.fmt in ("csv", "xlsx") else None)
            tally = export_all(s, request, chosen,
                               lambda e: where / request.filename(e), combined)
            finish_directory(request, where, tally, combined, s.principal.token_id,
                             _generated_at(s))
    if not chosen:
        err.print(f"[yellow]warning:[/yellow] no employees to export for {escape(tenant)}")
    typer.echo(tally.line(f"evidence of {plural(len(chosen), 'employee')}", where))


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
    lang: LangOpt = None,
) -> None:
    """Per unit over the business days from..to: steps due, on time, overdue, violations,
    liabilities, completion rate and rank (the API's unit report), as a file."""
    start, end = parse_period(from_, to)
    request = Request(tenant, fmt.value, from_, to, start, end,
                      lang=lang.value if lang else None)
    with reported(), session(tenant, derive) as s:
        doc = {**unit_report(s.reads, tenant, start, end), "lang": chosen(lang)}
        body = render_units(doc, request.fmt, csv_lang=request.lang)
        s.record_read(ROUTE_UNITS, "", request)
        target = single_target(out, request.units_filename())
        write_file(target, body)
    typer.echo(f"exported the unit report of {tenant}: 1 file, "
               f"{plural(len(doc['units']), 'unit')}, {len(body)} bytes -> {target}")


# --- trace report ---------------------------------------------------------------------

REPORT_RENDERERS = {"xlsx": report_xlsx, "pdf": report_pdf}


@export_app.command("report")
def report(
    tenant: TenantOpt,
    case: Annotated[str, typer.Option("--case", help="The case's id (the events' subject).")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ReportFormat.JSON),
    out: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="The file, or a directory for it (trailing /); "
                     "default ./report-<case>.<fmt>."),
    ] = None,
    derive: DeriveOpt = False,
    lang: LangOpt = None,
) -> None:
    """A case's trace report (责任追溯报告): the chain, the responsibility source, each
    liability explained, violations, missed deadlines, escalations, corrections, the
    entries behind them and their proofs (the API's `GET /v1/cases/{id}/report`), as a
    file. `ledger verify-evidence` checks the JSON."""
    request = Request(tenant, fmt.value, None, None, None, None, {"case": case},
                      lang.value if lang else None)
    with reported(), session(tenant, derive) as s:
        doc = trace_report(s.reads, s.ledger.store, tenant, case, s.ledger.clock(),
                           chosen(lang))
        if doc is None:
            raise ExportFailed(f"unknown case {case!r} for tenant {tenant!r}")
        body = orjson.dumps(doc) if fmt is ReportFormat.JSON else REPORT_RENDERERS[
            fmt.value](doc)
        s.record_read(ROUTE_REPORT, case, request)
        target = single_target(out, request.report_filename(case))
        write_file(target, body)
    count = len(doc["liabilities"])
    liabilities = f"{count} liabilit{'y' if count == 1 else 'ies'}"
    events = plural(len(doc["events"]), "ledger event")
    typer.echo(f"exported the trace report of case {case}: {liabilities}, {events}, "
               f"{len(body)} bytes -> {target}")
