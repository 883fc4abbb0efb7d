"""Workbooks and PDFs people work with: typed cells, filters, page numbers.

XLSX: numbers stay numbers, times become Excel dates (the business time's own wall clock:
Excel has no time zones), rates are numbers with a `0.0%` format, every header is frozen
and filtered and columns are sized to their content. Text cells are always plain strings
(never formulas), so a hostile id stays text.
PDF: a CJK font, each heading kept on the page of its table's first rows, and
"第 N 页 / 共 M 页" (or "Page N of M") at the foot of every page.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape

from ledger.adapters.labels import Lang, word

#: A column: (header, how to read its cell from a record, kind: text|int|time|rate).
Column = tuple[str, Callable[[Mapping[str, Any]], Any], str]
PDF_TABLE_ROWS = 100


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(text_of(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k} = {text_of(v)}" for k, v in value.items())
    return str(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=None)


def _decimal(value: Any) -> int | float | None:
    """Points are exact decimals in documents ("12.5"); a spreadsheet holds them as numbers."""
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        return None
    if not exact.is_finite():
        return None
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def typed(value: Any, kind: str) -> Any:
    """The cell value of `kind`: a number, a naive datetime, or text."""
    if value is None:
        return None
    if kind in ("int", "rate") and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "decimal" and not isinstance(value, bool):
        number = _decimal(value)
        if number is not None:
            return number
    if kind == "time":
        moment = _time(value)
        if moment is not None:
            return moment
    return text_of(value)


def sheet(workbook: Any, title: str, columns: Sequence[Column],
          records: Iterable[Mapping[str, Any]],
          progress: Callable[[int], None] | None = None) -> Any:
    """A sheet of typed rows under a bold, frozen, filtered header."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = workbook.create_sheet(title[:31])
    ws.append([header for header, _, _ in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    widths = [len(header) * 2 for header, _, _ in columns]
    for record in records:
        ws.append([typed(read(record), kind) for _, read, kind in columns])
        for index, (cell, (_, _, kind)) in enumerate(zip(ws[ws.max_row], columns, strict=True)):
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula
                widths[index] = max(widths[index], len(cell.value))
            elif kind == "time" and cell.value is not None:
                cell.number_format = "yyyy-mm-dd hh:mm"
                widths[index] = max(widths[index], 16)
            elif kind == "rate":
                cell.number_format = "0.0%"
        if progress is not None:
            progress(1)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(ws.max_row, 1)}"
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = min(60, width + 2)
    return ws


def summary_sheet(workbook: Any, title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    ws = workbook.active
    ws.title = title[:31]
    for key, value in pairs:
        ws.append([key, text_of(value)])
        for cell in ws[ws.max_row]:
            cell.data_type = "s"
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 90


def xlsx_bytes(workbook: Any) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pdf(title: str, summary: Sequence[tuple[str, Any]],
        tables: Sequence[tuple[str, Sequence[Column], Sequence[Mapping[str, Any]]]],
        lang: Lang, font: str, progress: Callable[[int], None] | None = None,
        figures: Sequence[Any] = ()) -> bytes:
    """A landscape A4 PDF: title, summary lines, `figures` (flowables such as charts),
    then each table under its heading."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = font
    cell_style = styles["BodyText"].clone("cell", fontSize=7, leading=9, wordWrap="CJK")
    body = styles["BodyText"].clone("body", wordWrap="CJK")
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=landscape(A4), title=title,
                                 leftMargin=12 * mm, rightMargin=12 * mm)
    story: list[Any] = [Paragraph(escape(title), styles["Title"])]
    story += [Paragraph(f"<b>{escape(k)}</b>: {escape(text_of(v))}", body) for k, v in summary]
    story += list(figures)
    rows_of = [0] * len(story)  # data rows each flowable carries, for progress
    style = TableStyle([("FONTNAME", (0, 0), (-1, -1), font),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                        ("VALIGN", (0, 0), (-1, -1), "TOP")])
    for heading, columns, records in tables:
        head = [Spacer(1, 5 * mm), Paragraph(escape(heading), styles["Heading2"])]
        rows = [[_pdf_text(read(r), kind) for _, read, kind in columns] for r in records]
        if not rows:
            story.append(KeepTogether([*head, Paragraph("—", body)]))
            rows_of.append(0)
            continue
        headers = [h for h, _, _ in columns]
        weights = [min(40, max(6, _width(h), *(_width(row[i]) for row in rows[:200])))
                   for i, h in enumerate(headers)]
        widths = [document.width * w / sum(weights) for w in weights]
        for start in range(0, len(rows), PDF_TABLE_ROWS):
            chunk = [headers, *rows[start:start + PDF_TABLE_ROWS]]
            table = Table([[Paragraph(escape(c), cell_style) for c in row] for row in chunk],
                          colWidths=widths, repeatRows=1)
            table.setStyle(style)
            # The heading stays with the first rows of its table, never alone at a page foot.
            story.append(KeepTogether([*head, table]) if start == 0 else table)
            rows_of.append(len(chunk) - 1)
    if progress is not None:
        document.setProgressCallBack(_on_build(rows_of, progress))
    document.build(story, canvasmaker=_numbered(lang, font))
    return out.getvalue()


def _on_build(rows_of: Sequence[int], progress: Callable[[int], None]) -> Any:
    """reportlab's progress hook (flowables placed so far) turned into rows rendered."""
    reported = [0]

    def hook(kind: str, value: int) -> None:
        if kind not in ("PROGRESS", "FINISHED"):
            return
        done = sum(rows_of) if kind == "FINISHED" else sum(rows_of[: max(0, value)])
        if done > reported[0]:
            progress(done - reported[0])
            reported[0] = done

    return hook


def _width(text: str) -> int:
    """Display width: a CJK character takes two Latin ones."""
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


def _pdf_text(value: Any, kind: str) -> str:
    if kind == "rate" and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    return text_of(value)


def _numbered(lang: Lang, font: str) -> Any:
    """A canvas that writes "page N of M" on every page once the page count is known."""
    from reportlab.pdfgen.canvas import Canvas

    class Numbered(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont(font, 8)
                self.drawRightString(self._pagesize[0] - 34, 20,
                                     word("page", lang, page=number, pages=total))
                super().showPage()
            super().save()

    return Numbered
