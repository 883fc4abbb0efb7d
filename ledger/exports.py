"""HR evidence and unit reports as CSV, XLSX (openpyxl) and PDF (reportlab, CJK font).

Formatting only: the documents come from the read side; these functions turn the same
document into each format, so JSON, CSV, XLSX and PDF can never disagree on content.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FONT_NAME = "LedgerCJK"

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
UNIT_COLUMNS = (
    "rank",
    "unit_id",
    "steps_due",
    "on_time",
    "overdue",
    "completion_rate",
    "violations",
    "liabilities",
)


class FontMissing(RuntimeError):
    """No CJK TrueType font: Chinese names would not render, so no PDF is made."""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _rows(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[list[str]]:
    return [[_cell(record.get(c)) for c in columns] for record in records]


# --- CSV ---------------------------------------------------------------------------------


def evidence_csv(doc: Mapping[str, Any]) -> bytes:
    """One row per record: liabilities, then positive records (UTF-8 with BOM, so that
    spreadsheet programs read the Chinese names right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["record", "employee_id", *LIABILITY_COLUMNS, "duty", "step", "violation_id"])
    for li in doc.get("liabilities", []):
        writer.writerow(
            [
                "liability",
                doc["employee_id"],
                *_rows([li], LIABILITY_COLUMNS)[0],
                "",
                _cell(li.get("step")),
                _cell(li.get("violation_id")),
            ]
        )
    for pr in doc.get("positive_records", []):
        writer.writerow(
            [
                "positive",
                doc["employee_id"],
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
            ]
        )
    return ("\ufeff" + out.getvalue()).encode()


def units_csv(doc: Mapping[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(UNIT_COLUMNS)
    writer.writerows(_rows(doc.get("units", []), UNIT_COLUMNS))
    return ("\ufeff" + out.getvalue()).encode()


# --- XLSX --------------------------------------------------------------------------------


def _sheet(
    workbook: Any, title: str, columns: Sequence[str], records: Iterable[Mapping[str, Any]]
) -> None:
    from openpyxl.styles import Font

    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in _rows(records, columns):
        sheet.append(row)
    sheet.freeze_panes = "A2"
    for column_cells in sheet.columns:
        width = max(len(str(cell.value or "")) for cell in column_cells)
        sheet.column_dimensions[column_cells[0].column_letter].width = min(60, width + 2)


def _summary(workbook: Any, pairs: Sequence[tuple[str, Any]]) -> None:
    sheet = workbook.active
    sheet.title = "Summary"
    for key, value in pairs:
        sheet.append([key, _cell(value)])
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 70


def _xlsx_bytes(workbook: Any) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def evidence_xlsx(doc: Mapping[str, Any]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    _summary(workbook, _evidence_summary(doc))
    _sheet(workbook, "Liabilities", LIABILITY_COLUMNS, doc.get("liabilities", []))
    _sheet(workbook, "Positive records", POSITIVE_COLUMNS, doc.get("positive_records", []))
    _sheet(workbook, "Ledger events", EVENT_COLUMNS, doc.get("events", []))
    return _xlsx_bytes(workbook)


def units_xlsx(doc: Mapping[str, Any]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    _summary(
        workbook, [("tenant", doc.get("tenant")), ("from", doc.get("from")), ("to", doc.get("to"))]
    )
    _sheet(workbook, "Units", UNIT_COLUMNS, doc.get("units", []))
    return _xlsx_bytes(workbook)


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


def _pdf(
    title: str,
    summary: Sequence[tuple[str, Any]],
    tables: Sequence[tuple[str, Sequence[str], list[list[str]]]],
) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = FONT_NAME
    cell_style = styles["BodyText"].clone("cell", fontSize=7, leading=9)
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=landscape(A4), title=title, leftMargin=12 * mm, rightMargin=12 * mm
    )
    story: list[Any] = [Paragraph(title, styles["Title"])]
    for key, value in summary:
        story.append(Paragraph(f"<b>{key}</b>: {_cell(value)}", styles["BodyText"]))
    for heading, columns, rows in tables:
        story += [Spacer(1, 5 * mm), Paragraph(heading, styles["Heading2"])]
        if not rows:
            story.append(Paragraph("—", styles["BodyText"]))
            continue
        data = [[Paragraph(c, cell_style) for c in columns]]
        data += [[Paragraph(c, cell_style) for c in row] for row in rows]
        table = Table(data, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    document.build(story)
    return out.getvalue()


def evidence_pdf(doc: Mapping[str, Any]) -> bytes:
    name = f"{doc.get('employee_id')} {doc.get('name') or ''}".strip()
    return _pdf(
        f"Evidence 证据: {name}",
        _evidence_summary(doc),
        [
            (
                "Liabilities 责任",
                LIABILITY_COLUMNS,
                _rows(doc.get("liabilities", []), LIABILITY_COLUMNS),
            ),
            (
                "Positive records 正面记录",
                POSITIVE_COLUMNS,
                _rows(doc.get("positive_records", []), POSITIVE_COLUMNS),
            ),
            ("Ledger events 账本事件", EVENT_COLUMNS, _rows(doc.get("events", []), EVENT_COLUMNS)),
        ],
    )


def units_pdf(doc: Mapping[str, Any]) -> bytes:
    return _pdf(
        "Unit report 部门报告",
        [("tenant", doc.get("tenant")), ("period / 期间", f"{doc.get('from')} – {doc.get('to')}")],
        [("Units 部门", UNIT_COLUMNS, _rows(doc.get("units", []), UNIT_COLUMNS))],
    )
