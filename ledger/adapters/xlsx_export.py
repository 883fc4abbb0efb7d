"""Evidence and unit reports as XLSX, and the plain sheets the combined and score workbooks
are made of.

Every cell is written as a plain string, never a formula, so an employee id like
`=HYPERLINK(...)` stays text in Excel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger.adapters.export_cells import RowProgress, cell, tick


def as_text(cells: Iterable[Any]) -> None:
    """Make the just-appended XLSX cells plain strings: openpyxl reads a str starting with
    `=` as a formula (and `#N/A` and the like as errors) unless told otherwise."""
    for written in cells:
        if isinstance(written.value, str) and written.data_type != "s":
            written.data_type = "s"


def sheet_rows(
    workbook: Any, title: str, columns: Sequence[str], rows: Iterable[Sequence[str]],
    progress: RowProgress | None = None,
) -> None:
    """A sheet of `rows` under a bold, frozen header, columns as wide as their text."""
    from openpyxl.styles import Font

    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    for header in sheet[1]:
        header.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
        as_text(sheet[sheet.max_row])
        tick(progress)
    sheet.freeze_panes = "A2"
    for column_cells in sheet.columns:
        width = max(len(str(c.value or "")) for c in column_cells)
        sheet.column_dimensions[column_cells[0].column_letter].width = min(60, width + 2)


def summary_sheet(workbook: Any, pairs: Sequence[tuple[str, Any]]) -> None:
    """The workbook's first sheet, renamed Summary: one key and value per row."""
    sheet = workbook.active
    sheet.title = "Summary"
    for key, value in pairs:
        sheet.append([key, cell(value)])
        as_text(sheet[sheet.max_row])
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 70


def evidence_xlsx(doc: Mapping[str, Any], progress: RowProgress | None = None) -> bytes:
    """Localized, explained and typed (ledger/adapters/report_rendering.py)."""
    from ledger.adapters.report_rendering import evidence_xlsx as render

    return render(doc, progress)


def units_xlsx(doc: Mapping[str, Any]) -> bytes:
    from ledger.adapters.report_rendering import units_xlsx as render

    return render(doc)
