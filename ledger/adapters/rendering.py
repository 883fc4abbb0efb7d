"""HR evidence and unit reports in every format, picked by name, for the API and the CLI.

Formatting only: the documents come from the read side; these functions turn the same
document into each format, so JSON, CSV, XLSX and PDF can never disagree on content.
`render_evidence` / `render_units` pick the format by name: csv_export.py, xlsx_export.py
and pdf_export.py hold the formats, combined_export.py several employees in one file.

Spreadsheets never run what the ledger was sent: a CSV cell that begins with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's rule against CSV
injection), and every XLSX cell is written as a plain string, never a formula, so an
employee id like `=HYPERLINK(...)` stays text in Excel.

Renderers of evidence take an optional `progress` callback, called with the number of
rows just rendered, so `ledger export evidence` can show a bar for an employee with tens
of thousands of records; `evidence_rows(doc, fmt)` says how many calls' worth to expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.adapters.csv_export import csv_bytes, evidence_csv, units_csv
from ledger.adapters.export_cells import RowProgress
from ledger.adapters.pdf_export import evidence_pdf, units_pdf
from ledger.adapters.xlsx_export import evidence_xlsx, units_xlsx

FORMATS = ("json", "csv", "xlsx", "pdf")


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

        return csv_bytes(localized.evidence_header(doc), localized.evidence_rows(doc),
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

        return csv_bytes(localized.units_header(doc), localized.units_rows(doc))
    renderers = {"csv": units_csv, "xlsx": units_xlsx, "pdf": units_pdf}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return renderers[fmt](doc)
