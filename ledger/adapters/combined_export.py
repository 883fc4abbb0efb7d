"""Several employees' evidence in one CSV or one workbook, beside their files of one each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger.adapters.csv_export import EVIDENCE_CSV_HEADER, csv_bytes, evidence_csv_rows
from ledger.adapters.export_cells import (
    EMPLOYEE_COLUMNS,
    EVENT_COLUMNS,
    LIABILITY_COLUMNS,
    POSITIVE_COLUMNS,
    cell,
    rows,
)
from ledger.adapters.sheets import xlsx_bytes
from ledger.adapters.xlsx_export import sheet_rows, summary_sheet


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
        employee = cell(doc.get("employee_id"))
        liabilities = doc.get("liabilities", [])
        corrected = sum(1 for li in liabilities if li.get("status") == "corrected")
        positive = doc.get("positive_records", [])
        events = doc.get("events", [])
        self.employees.append([employee, cell(doc.get("name")), cell(doc.get("unit_id")),
                               str(len(liabilities) - corrected), str(corrected),
                               str(len(positive)), str(len(events))])
        if self.localized is not None:
            from ledger.adapters import localized_exports as localized

            self.localized.add(doc)
            self.header = localized.evidence_header(doc)
            self.csv_rows += localized.evidence_rows(doc)
            return
        self.csv_rows += evidence_csv_rows(doc)
        self.liabilities += [[employee, *r] for r in rows(liabilities, LIABILITY_COLUMNS)]
        self.positive += [[employee, *r] for r in rows(positive, POSITIVE_COLUMNS)]
        self.events += [[employee, *r] for r in rows(events, EVENT_COLUMNS)]

    def csv(self) -> bytes:
        """The rows of every employee's CSV under one header."""
        return csv_bytes(self.header, self.csv_rows)

    def xlsx(self) -> bytes:
        """Summary, one row per employee, then every record with its employee's id."""
        from openpyxl import Workbook

        if self.localized is not None:
            return self.localized.xlsx()
        workbook = Workbook()
        summary_sheet(workbook, [("tenant", self.tenant), ("from", self.start),
                                 ("to", self.end), ("employees / 员工", len(self.employees))])
        sheet_rows(workbook, "Employees", EMPLOYEE_COLUMNS, self.employees)
        sheet_rows(workbook, "Liabilities", ("employee_id", *LIABILITY_COLUMNS),
                   self.liabilities)
        sheet_rows(workbook, "Positive records", ("employee_id", *POSITIVE_COLUMNS),
                   self.positive)
        sheet_rows(workbook, "Ledger events", ("employee_id", *EVENT_COLUMNS), self.events)
        return xlsx_bytes(workbook)
