"""HR evidence and unit reports as CSV, XLSX (openpyxl) and PDF (reportlab, CJK font).

Formatting only: the documents come from the read side; these functions turn the same
document into each format, so JSON, CSV, XLSX and PDF can never disagree on content.
`render_evidence` / `render_units` pick the format by name, for the API and the CLI alike.

Spreadsheets never run what the ledger was sent: a CSV cell that begins with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's rule against CSV
injection), and every XLSX cell is written as a plain string, never a formula, so an
employee id like `=HYPERLINK(...)` stays text in Excel.

Renderers of evidence take an optional `progress` callback, called with the number of
rows just rendered, so `ledger export evidence` can show a bar for an employee with tens
of thousands of records; `evidence_rows(doc, fmt)` says how many calls' worth to expect.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from ledger.errors import LedgerError

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FONT_NAME = "LedgerCJK"
FORMATS = ("json", "csv", "xlsx", "pdf")

#: Called with the number of rows just rendered.
RowProgress = Callable[[int], None]

LIABILITY_COLUMNS = (
    "liability_id",
    "kind",
    "basis",
    "case_id",
    "at",
    "status",
    "corrected_reason",
    "replaced_by",
    "event_ids",
)
POSITIVE_COLUMNS = ("duty", "case_id", "at", "step", "violation_id", "event_ids")
EVENT_COLUMNS = ("event_id", "source", "type", "time", "position", "entry_hash")
#: The fields of `ReadModels.unit_report` rows (GET /v1/reports/units), in report order.
UNIT_COLUMNS = (
    "rank",
    "unit_id",
    "name",
    "steps_due",
    "steps_on_time",
    "steps_overdue",
    "completion_rate",
    "violations",
    "liabilities",
)
EMPLOYEE_COLUMNS = (
    "employee_id",
    "name",
    "unit_id",
    "liabilities",
    "corrected",
    "positive_records",
    "events",
)
#: Rows per PDF table: reportlab re-measures the rest of a table at every page break, so
#: one table of 20,000 rows took 67 s where tables of 100 rows took 35 s.
PDF_TABLE_ROWS = 100


class FontMissing(LedgerError, RuntimeError):
    """No CJK TrueType font: Chinese names would not render, so no PDF is made."""

    code = "font-missing"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


#: What makes a spreadsheet program read a CSV cell as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """`text`, prefixed with a single quote when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _as_text(cells: Iterable[Any]) -> None:
    """Make the just-appended XLSX cells plain strings: openpyxl reads a str starting with
    `=` as a formula (and `#N/A` and the like as errors) unless told otherwise."""
    for cell in cells:
        if isinstance(cell.value, str) and cell.data_type != "s":
            cell.data_type = "s"


def _rows(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[list[str]]:
    return [[_cell(record.get(c)) for c in columns] for record in records]


def _tick(progress: RowProgress | None, rows: int = 1) -> None:
    if progress is not None and rows:
        progress(rows)


def evidence_rows(doc: Mapping[str, Any], fmt: str) -> int:
    """How many rows a renderer reports through `progress` for this document: CSV holds
    the records, XLSX and PDF also a row per ledger event, JSON reports none."""
    records = len(doc.get("liabilities", [])) + len(doc.get("positive_records", []))
    if fmt == "csv":
        return records
    if fmt in ("xlsx", "pdf"):
        return records + len(doc.get("events", []))
    return 0


def render_evidence(
    doc: Mapping[str, Any], fmt: str, progress: RowProgress | None = None,
    csv_lang: str | None = None,
) -> bytes:
    """The evidence document in `fmt` (json, csv, xlsx or pdf); `csv_lang`: a CSV with
    localized headers and labels (ledger/adapters/localized_exports.py)."""
    if fmt == "json":
        import orjson

        return orjson.dumps(doc)
    if fmt == "csv" and csv_lang:
        from ledger.adapters import localized_exports as localized

        return _csv_bytes(localized.evidence_header(doc), localized.evidence_rows(doc),
                          progress)
    renderers = {"csv": evidence_csv, "xlsx": evidence_xlsx, "pdf": evidence_pdf}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return renderers[fmt](doc, progress=progress)


def render_units(doc: Mapping[str, Any], fmt: str, csv_lang: str | None = None) -> bytes:
    """The unit report in `fmt` (json, csv, xlsx or pdf)."""
    if fmt == "json":
        import orjson

        return orjson.dumps(doc)
    if fmt == "csv" and csv_lang:
        from ledger.adapters import localized_exports as localized

        return _csv_bytes(localized.units_header(doc), localized.units_rows(doc))
    renderers = {"csv": units_csv, "xlsx": units_xlsx, "pdf": units_pdf}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return renderers[fmt](doc)


# --- CSV ---------------------------------------------------------------------------------

EVIDENCE_CSV_HEADER = (
    "record", "employee_id", *LIABILITY_COLUMNS, "duty", "step", "violation_id", "why",
)


def _why(record: Mapping[str, Any]) -> str:
    explanation = record.get("explanation")
    return _cell(explanation.get("why")) if isinstance(explanation, Mapping) else ""


def _evidence_csv_rows(doc: Mapping[str, Any]) -> Iterator[list[str]]:
    """The CSV rows of one employee's records (shared by the single and combined CSV)."""
    employee = _cell(doc.get("employee_id"))
    for li in doc.get("liabilities", []):
        yield [
            "liability",
            employee,
            *_rows([li], LIABILITY_COLUMNS)[0],
            "",
            _cell(li.get("step")),
            _cell(li.get("violation_id")),
            _why(li),
        ]
    for pr in doc.get("positive_records", []):
        yield [
            "positive",
            employee,
            "",
            "",
            "",
            _cell(pr.get("case_id")),
            _cell(pr.get("at")),
            "",
            "",
            "",
            _cell(pr.get("event_ids")),
            _cell(pr.get("duty")),
            _cell(pr.get("step")),
            _cell(pr.get("violation_id")),
            "",
        ]


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]],
               progress: RowProgress | None = None) -> bytes:
    """UTF-8 with BOM, so that spreadsheet programs read the Chinese names right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
        _tick(progress)
    return ("\ufeff" + out.getvalue()).encode()


def evidence_csv(doc: Mapping[str, Any], progress: RowProgress | None = None) -> bytes:
    """One row per record: liabilities, then positive records."""
    return _csv_bytes(EVIDENCE_CSV_HEADER, _evidence_csv_rows(doc), progress)


def units_csv(doc: Mapping[str, Any]) -> bytes:
    return _csv_bytes(UNIT_COLUMNS, _rows(doc.get("units", []), UNIT_COLUMNS))


# --- XLSX --------------------------------------------------------------------------------


def _sheet(
    workbook: Any, title: str, columns: Sequence[str], records: Iterable[Mapping[str, Any]],
    progress: RowProgress | None = None,
) -> None:
    _sheet_rows(workbook, title, columns, _rows(records, columns), progress)


def _sheet_rows(
    workbook: Any, title: str, columns: Sequence[str], rows: Iterable[Sequence[str]],
    progress: RowProgress | None = None,
) -> None:
    from openpyxl.styles import Font

    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
        _as_text(sheet[sheet.max_row])
        _tick(progress)
    sheet.freeze_panes = "A2"
    for column_cells in sheet.columns:
        width = max(len(str(cell.value or "")) for cell in column_cells)
        sheet.column_dimensions[column_cells[0].column_letter].width = min(60, width + 2)


def _summary(workbook: Any, pairs: Sequence[tuple[str, Any]]) -> None:
    sheet = workbook.active
    sheet.title = "Summary"
    for key, value in pairs:
        sheet.append([key, _cell(value)])
        _as_text(sheet[sheet.max_row])
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 70


def _xlsx_bytes(workbook: Any) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def evidence_xlsx(doc: Mapping[str, Any], progress: RowProgress | None = None) -> bytes:
    """Localized, explained and typed (ledger/adapters/report_rendering.py)."""
    from ledger.adapters.report_rendering import evidence_xlsx as render

    return render(doc, progress)


def units_xlsx(doc: Mapping[str, Any]) -> bytes:
    from ledger.adapters.report_rendering import units_xlsx as render

    return render(doc)


def _evidence_summary(doc: Mapping[str, Any]) -> list[tuple[str, Any]]:
    liabilities = doc.get("liabilities", [])
    active = [li for li in liabilities if li.get("status", "active") == "active"]
    return [
        ("employee / 员工", f"{doc.get('employee_id')} {doc.get('name') or ''}".strip()),
        ("unit / 部门", doc.get("unit_id")),
        ("tenant", doc.get("tenant")),
        ("period / 期间", f"{doc.get('from') or '…'} – {doc.get('to') or '…'}"),
        ("liabilities / 责任", f"{len(active)} active, {len(liabilities) - len(active)} corrected"),
        ("positive records / 正面记录", len(doc.get("positive_records", []))),
        ("ledger events / 账本事件", len(doc.get("events", []))),
        ("checkpoint / 检查点", _checkpoint_line(doc)),
        ("generated / 生成", doc.get("generated_at")),
    ]


def _checkpoint_line(doc: Mapping[str, Any]) -> str:
    proofs = doc.get("proofs") or {}
    checkpoint = proofs.get("checkpoint") if isinstance(proofs, Mapping) else None
    if not isinstance(checkpoint, Mapping):
        return "none (unsigned)"
    return (
        f"tree size {checkpoint.get('tree_size')}, root {checkpoint.get('root_hash')}, "
        f"key {checkpoint.get('key_id')}"
    )


# --- several employees in one file -------------------------------------------------------


class CombinedEvidence:
    """Several employees' evidence as one CSV or one workbook, for HR to filter and sum
    across people instead of opening a file per person. Each employee's own file stays
    the evidence of record; this is its index. It keeps rendered rows, not documents
    (whose events and proofs are the bulk), so a whole tenant fits in memory.
    """

    def __init__(self, tenant: str, start: str | None, end: str | None,
                 lang: str | None = None) -> None:
        """`lang`: headers, labels and names in that language (localized_exports.py);
        None: the column codes."""
        from ledger.adapters.localized_exports import LocalizedCombined

        self.tenant, self.start, self.end, self.lang = tenant, start, end, lang
        self.localized = LocalizedCombined(tenant, start, end, lang) if lang else None
        self.header: Sequence[str] = EVIDENCE_CSV_HEADER
        self.employees: list[list[str]] = []
        self.csv_rows: list[list[str]] = []
        self.liabilities: list[list[str]] = []
        self.positive: list[list[str]] = []
        self.events: list[list[str]] = []

    def add(self, doc: Mapping[str, Any]) -> None:
        employee = _cell(doc.get("employee_id"))
        liabilities = doc.get("liabilities", [])
        corrected = sum(1 for li in liabilities if li.get("status") == "corrected")
        positive = doc.get("positive_records", [])
        events = doc.get("events", [])
        self.employees.append([employee, _cell(doc.get("name")), _cell(doc.get("unit_id")),
                               str(len(liabilities) - corrected), str(corrected),
                               str(len(positive)), str(len(events))])
        if self.localized is not None:
            from ledger.adapters import localized_exports as localized

            self.localized.add(doc)
            self.header = localized.evidence_header(doc)
            self.csv_rows += localized.evidence_rows(doc)
            return
        self.csv_rows += _evidence_csv_rows(doc)
        self.liabilities += [[employee, *r] for r in _rows(liabilities, LIABILITY_COLUMNS)]
        self.positive += [[employee, *r] for r in _rows(positive, POSITIVE_COLUMNS)]
        self.events += [[employee, *r] for r in _rows(events, EVENT_COLUMNS)]

    def csv(self) -> bytes:
        """The rows of every employee's CSV under one header."""
        return _csv_bytes(self.header, self.csv_rows)

    def xlsx(self) -> bytes:
        """Summary, one row per employee, then every record with its employee's id."""
        from openpyxl import Workbook

        if self.localized is not None:
            return self.localized.xlsx()
        workbook = Workbook()
        _summary(workbook, [("tenant", self.tenant), ("from", self.start), ("to", self.end),
                            ("employees / 员工", len(self.employees))])
        _sheet_rows(workbook, "Employees", EMPLOYEE_COLUMNS, self.employees)
        _sheet_rows(workbook, "Liabilities", ("employee_id", *LIABILITY_COLUMNS),
                    self.liabilities)
        _sheet_rows(workbook, "Positive records", ("employee_id", *POSITIVE_COLUMNS),
                    self.positive)
        _sheet_rows(workbook, "Ledger events", ("employee_id", *EVENT_COLUMNS), self.events)
        return _xlsx_bytes(workbook)


# --- PDF ---------------------------------------------------------------------------------


def cjk_font_path() -> Path:
    override = os.environ.get("LEDGER_PDF_FONT")
    for candidate in ([override] if override else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "no CJK TrueType font found for PDF exports: install Debian's fonts-wqy-zenhei "
        "(deploy/local/fonts.sh) or set LEDGER_PDF_FONT to a .ttf/.ttc file"
    )


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(cjk_font_path()), subfontIndex=0))


def _column_widths(available: float, columns: Sequence[str],
                   rows: Sequence[Sequence[str]]) -> list[float]:
    """Widths by content (first rows sampled), the same for every chunk of one table so
    that its columns line up from page to page."""
    weights = []
    for index, column in enumerate(columns):
        longest = max([len(column), *(len(row[index]) for row in rows[:200])])
        weights.append(min(40, max(6, longest)))
    return [available * w / sum(weights) for w in weights]


def _table_style() -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )


def _on_build(rows_of: Sequence[int], progress: RowProgress) -> Callable[[str, int], None]:
    """reportlab's progress hook (flowables placed so far) turned into rows rendered."""
    reported = [0]
    total = sum(rows_of)

    def hook(kind: str, value: int) -> None:
        if kind == "PROGRESS":
            done = sum(rows_of[: max(0, value)])
        elif kind == "FINISHED":
            done = total
        else:
            return
        if done > reported[0]:
            progress(done - reported[0])
            reported[0] = done

    return hook


def _pdf(
    title: str,
    summary: Sequence[tuple[str, Any]],
    tables: Sequence[tuple[str, Sequence[str], list[list[str]]]],
    progress: RowProgress | None = None,
) -> bytes:
    """Text goes in escaped (names and reasons may hold '<' or '&'); CJK word wrapping
    breaks Chinese text and long hashes inside their cells."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    _register_font()
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = FONT_NAME
    cell_style = styles["BodyText"].clone("cell", fontSize=7, leading=9, wordWrap="CJK")
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=landscape(A4), title=title, leftMargin=12 * mm, rightMargin=12 * mm
    )
    story: list[Any] = [Paragraph(escape(title), styles["Title"])]
    for key, value in summary:
        story.append(Paragraph(f"<b>{escape(key)}</b>: {escape(_cell(value))}",
                               styles["BodyText"]))
    rows_of = [0] * len(story)  # data rows each flowable carries, for progress
    for heading, columns, rows in tables:
        story += [Spacer(1, 5 * mm), Paragraph(escape(heading), styles["Heading2"])]
        rows_of += [0, 0]
        if not rows:
            story.append(Paragraph("—", styles["BodyText"]))
            rows_of.append(0)
            continue
        widths = _column_widths(document.width, columns, rows)
        for start in range(0, len(rows), PDF_TABLE_ROWS):
            chunk = [list(columns), *rows[start : start + PDF_TABLE_ROWS]]
            data = [[Paragraph(escape(c), cell_style) for c in row] for row in chunk]
            table = Table(data, colWidths=widths, repeatRows=1)
            table.setStyle(_table_style())
            story.append(table)
            rows_of.append(len(chunk) - 1)
    if progress is not None:
        document.setProgressCallBack(_on_build(rows_of, progress))
    document.build(story)
    return out.getvalue()


def evidence_pdf(doc: Mapping[str, Any], progress: RowProgress | None = None) -> bytes:
    """Localized, explained, paginated (ledger/adapters/report_rendering.py)."""
    from ledger.adapters.report_rendering import evidence_pdf as render

    return render(doc, progress)


def units_pdf(doc: Mapping[str, Any]) -> bytes:
    from ledger.adapters.report_rendering import units_pdf as render

    return render(doc)

