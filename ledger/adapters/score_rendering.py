"""Scores (docs/domain-rules.md, Scores for appraisal) as CSV, XLSX and PDF: one row per
scored record, so every point is traced to the liability or positive record behind it; the
XLSX and PDF add the sums per employee and per unit. Formula-safe like every export."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ledger.adapters.csv_export import csv_bytes
from ledger.adapters.export_cells import cell
from ledger.adapters.labels import DEFAULT_LANG, Lang, label, word
from ledger.adapters.sheets import Column, pdf, sheet, xlsx_bytes

ITEM_HEADER = ("employee_id", "unit_id", "record", "record_id", "basis_or_kind", "case_id",
               "at", "points", "status", "scheme")
SUM_HEADER = ("penalty", "bonus", "total")


def _item_rows(doc: Mapping[str, Any]) -> Iterator[list[str]]:
    for person in doc.get("employees", []):
        for item in person.get("items", []):
            scheme = (f"{item['scheme_id']} v{item['scheme_version']}"
                      if item.get("scheme_id") else "")
            yield [cell(v) for v in (
                person["employee_id"], item.get("unit_id"), item["record"], item["record_id"],
                item.get("basis") or item.get("kind"), item["case_id"], item["at"],
                item["points"], item["status"], scheme)]


def scores_csv(doc: Mapping[str, Any]) -> bytes:
    return csv_bytes(ITEM_HEADER, _item_rows(doc))


def scores_xlsx(doc: Mapping[str, Any]) -> bytes:
    """The PDF's three tables as sheets of typed cells (points and sums are numbers)."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    lang: Lang = str(doc.get("lang") or DEFAULT_LANG)
    columns = _score_columns(lang)
    sheet(workbook, word("sheet.employees", lang), columns["employees"],
          doc.get("employees", []))
    sheet(workbook, word("sheet.units", lang), columns["units"], doc.get("units", []))
    sheet(workbook, word("sheet.score_items", lang), columns["items"], _items(doc))
    return xlsx_bytes(workbook)


def _items(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{**item, "employee_id": person["employee_id"]}
            for person in doc.get("employees", []) for item in person.get("items", [])]


def _scheme(item: Mapping[str, Any]) -> str:
    return f"{item['scheme_id']} v{item['scheme_version']}" if item.get("scheme_id") else ""


def _field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda record: record.get(name)


def _basis(item: Mapping[str, Any], lang: Lang) -> str:
    if item.get("basis"):
        return label("basis", item["basis"], lang)
    return label("duty", item.get("kind"), lang)


def _score_columns(lang: Lang) -> dict[str, list[Column]]:
    sums: list[Column] = [(word(f"col.{c}", lang), _field(c), "decimal") for c in SUM_HEADER]
    return {
        "employees": [(word("col.employee_id", lang), lambda r: r.get("employee_id"), "text"),
                      (word("col.unit_id", lang), lambda r: r.get("unit_id"), "text"), *sums],
        "units": [(word("col.unit_id", lang), lambda r: r.get("unit_id"), "text"),
                  (word("col.name", lang), lambda r: r.get("name"), "text"),
                  (word("col.members", lang), lambda r: r.get("members"), "int"), *sums],
        "items": [
            (word("col.employee_id", lang), lambda r: r.get("employee_id"), "text"),
            (word("col.record", lang), lambda r: label("record", r.get("record"), lang),
             "text"),
            (word("col.basis", lang), lambda r: _basis(r, lang), "text"),
            (word("col.case_id", lang), lambda r: r.get("case_id"), "text"),
            (word("col.at", lang), lambda r: r.get("at"), "time"),
            (word("col.points", lang), lambda r: r.get("points"), "decimal"),
            (word("col.status", lang), lambda r: label("score", r.get("status"), lang), "text"),
            (word("col.scheme", lang), _scheme, "text"),
            (word("col.record", lang) + " ID", lambda r: r.get("record_id"), "text"),
        ],
    }


def scores_pdf(doc: Mapping[str, Any]) -> bytes:
    """Sums per employee and per unit, then every scored record, in the document's
    language; the look of the other PDFs (ledger/adapters/sheets.py `pdf`)."""
    from ledger.adapters.pdf_export import FONT_NAME, register_font

    register_font()
    lang: Lang = str(doc.get("lang") or DEFAULT_LANG)
    columns = _score_columns(lang)
    items = _items(doc)
    schemes = ", ".join(f"{s['scheme_id']} v{s['version']}" for s in doc.get("schemes") or [])
    summary = [(word("sum.tenant", lang), doc.get("tenant")),
               (word("sum.period", lang), f"{doc.get('from') or ''} – {doc.get('to') or ''}"),
               *([(word("sum.unit", lang), doc["unit_id"])] if doc.get("unit_id") else []),
               (word("sum.schemes", lang), schemes or word("sum.none", lang))]
    tables = [(word("sheet.employees", lang), columns["employees"], doc.get("employees", [])),
              (word("sheet.units", lang), columns["units"], doc.get("units", [])),
              (word("sheet.score_items", lang), columns["items"], items)]
    return pdf(word("title.scores", lang), summary, tables, lang, FONT_NAME)
