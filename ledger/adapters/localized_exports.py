"""CSV files and the combined evidence workbook in a language: labels, names and why.

Asked for in a language (`ledger export --lang zh|en`), a CSV has the same columns as the
XLSX (report_rendering.py): localized headers, every code by its label, people and units
by name beside their id, and each liability's "why" in words. Without a language the CSV
keeps its column codes (rendering.py), for programs that read it by header.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ledger.adapters.labels import Lang, label, word
from ledger.adapters.report_rendering import (
    event_columns,
    liability_columns,
    unit_columns,
)
from ledger.adapters.sheets import Column, sheet, summary_sheet, text_of, xlsx_bytes

Doc = Mapping[str, Any]


def _pdf_free_text(value: Any, kind: str) -> str:
    if kind == "rate" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * 100:.1f}%"
    return text_of(value)


def evidence_header(doc: Doc) -> list[str]:
    lang = _lang(doc)
    return [word("col.record", lang), *(h for h, _, _ in liability_columns(doc)),
            word("col.duty", lang)]


def evidence_rows(doc: Doc) -> Iterator[list[str]]:
    """A row per liability, then per positive record, under `evidence_header`."""
    lang = _lang(doc)
    columns = liability_columns(doc)
    for li in doc.get("liabilities", []):
        yield [label("record", "liability", lang), *_cells(columns, li), ""]
    for record in doc.get("positive_records", []):
        mine = {**record, "employee_id": doc.get("employee_id")}
        yield [label("record", "positive", lang), *_cells(columns, mine),
               label("duty", record.get("duty"), lang)]


def units_header(doc: Doc) -> list[str]:
    return [h for h, _, _ in unit_columns(doc)]


def units_rows(doc: Doc) -> list[list[str]]:
    return [_cells(unit_columns(doc), unit) for unit in doc.get("units", [])]


def _cells(columns: Sequence[Column], record: Mapping[str, Any]) -> list[str]:
    return [_pdf_free_text(read(record), kind) for _, read, kind in columns]


def _lang(doc: Doc) -> Lang:
    return str(doc.get("lang") or "zh")


class LocalizedCombined:
    """Several employees' evidence as one workbook in a language, typed like the
    employees' own (a summary, one row per employee, their liabilities and events)."""

    def __init__(self, tenant: str, start: str | None, end: str | None, lang: Lang) -> None:
        self.tenant, self.start, self.end, self.lang = tenant, start, end, lang
        self.employees: list[dict[str, Any]] = []
        self.liabilities: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.names: dict[str, dict[str, str]] = {}

    def add(self, doc: Doc) -> None:
        liabilities = doc.get("liabilities", [])
        corrected = sum(1 for li in liabilities if li.get("status") == "corrected")
        self.names = doc.get("names") or self.names
        self.employees.append({
            "employee_id": doc.get("employee_id"), "name": doc.get("name"),
            "unit_id": doc.get("unit_id"), "liabilities": len(liabilities) - corrected,
            "corrected": corrected, "positive_records": len(doc.get("positive_records", [])),
            "events": len(doc.get("events", []))})
        self.liabilities += [dict(li) for li in liabilities]
        keep = ("event_id", "source", "type", "time", "position", "entry_hash")
        self.events += [{"employee_id": doc.get("employee_id"), **{k: e.get(k) for k in keep}}
                        for e in doc.get("events", [])]

    def xlsx(self) -> bytes:
        from openpyxl import Workbook

        doc = {"lang": self.lang, "names": self.names}
        lang = self.lang
        workbook = Workbook()
        period = f"{self.start or '…'} – {self.end or '…'}"
        summary_sheet(workbook, word("sheet.summary", lang), [
            (word("sum.tenant", lang), self.tenant), (word("sum.period", lang), period),
            (word("sum.employees", lang), len(self.employees))])
        sheet(workbook, word("sheet.employees", lang), self._employee_columns(),
              self.employees)
        sheet(workbook, word("sheet.liabilities", lang), liability_columns(doc),
              self.liabilities)
        employee = (word("col.employee_id", lang), lambda r: r.get("employee_id"), "text")
        sheet(workbook, word("sheet.events", lang), [employee, *event_columns(doc)],
              self.events)
        return xlsx_bytes(workbook)

    def _employee_columns(self) -> list[Column]:
        lang = self.lang
        ints = ("liabilities", "corrected", "positive_records", "events")
        return [(word("col.employee_id", lang), lambda r: r.get("employee_id"), "text"),
                (word("col.name", lang), lambda r: r.get("name"), "text"),
                (word("col.unit", lang), lambda r: self._unit(r.get("unit_id")), "text"),
                *[(word(f"col.{n}", lang), (lambda r, n=n: r.get(n)), "int") for n in ints]]

    def _unit(self, unit_id: Any) -> str:
        name = (self.names.get("units") or {}).get(unit_id) if unit_id else None
        return f"{name}（{unit_id}）" if name else text_of(unit_id)
