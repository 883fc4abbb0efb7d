"""Scores (docs/domain-rules.md, Scores for appraisal) as CSV and XLSX: one row per scored
record, so every point is traced to the liability or positive record behind it; the XLSX
adds a sheet per employee and per unit with the sums. Formula-safe like every export."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ledger.adapters.rendering import _cell, _csv_bytes, _sheet_rows, _xlsx_bytes

ITEM_HEADER = ("employee_id", "unit_id", "record", "record_id", "basis_or_kind", "case_id",
               "at", "points", "status", "scheme")
SUM_HEADER = ("penalty", "bonus", "total")


def _item_rows(doc: Mapping[str, Any]) -> Iterator[list[str]]:
    for person in doc.get("employees", []):
        for item in person.get("items", []):
            scheme = (f"{item['scheme_id']} v{item['scheme_version']}"
                      if item.get("scheme_id") else "")
            yield [_cell(v) for v in (
                person["employee_id"], item.get("unit_id"), item["record"], item["record_id"],
                item.get("basis") or item.get("kind"), item["case_id"], item["at"],
                item["points"], item["status"], scheme)]


def scores_csv(doc: Mapping[str, Any]) -> bytes:
    return _csv_bytes(ITEM_HEADER, _item_rows(doc))


def scores_xlsx(doc: Mapping[str, Any]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    people = [[_cell(p.get(c)) for c in ("employee_id", "unit_id", *SUM_HEADER)]
              for p in doc.get("employees", [])]
    units = [[_cell(u.get(c)) for c in ("unit_id", "name", "members", *SUM_HEADER)]
             for u in doc.get("units", [])]
    _sheet_rows(workbook, "Employees", ("employee_id", "unit_id", *SUM_HEADER), people)
    _sheet_rows(workbook, "Units", ("unit_id", "name", "members", *SUM_HEADER), units)
    _sheet_rows(workbook, "Items", ITEM_HEADER, _item_rows(doc))
    return _xlsx_bytes(workbook)
