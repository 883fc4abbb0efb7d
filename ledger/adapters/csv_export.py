"""Evidence and unit reports as CSV: UTF-8 with a BOM, one row per record.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
(OWASP's rule against CSV injection), so a spreadsheet never runs what the ledger was sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ledger.adapters.export_cells import (
    LIABILITY_COLUMNS,
    UNIT_COLUMNS,
    RowProgress,
    cell,
    rows,
    tick,
)

#: What makes a spreadsheet program read a CSV cell as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

EVIDENCE_CSV_HEADER = (
    "record", "employee_id", *LIABILITY_COLUMNS, "duty", "step", "violation_id", "why",
)


def csv_safe(text: str) -> str:
    """`text`, prefixed with a single quote when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _why(record: Mapping[str, Any]) -> str:
    explanation = record.get("explanation")
    return cell(explanation.get("why")) if isinstance(explanation, Mapping) else ""


def evidence_csv_rows(doc: Mapping[str, Any]) -> Iterator[list[str]]:
    """The CSV rows of one employee's records (shared by the single and combined CSV)."""
    employee = cell(doc.get("employee_id"))
    for li in doc.get("liabilities", []):
        yield [
            "liability",
            employee,
            *rows([li], LIABILITY_COLUMNS)[0],
            "",
            cell(li.get("step")),
            cell(li.get("violation_id")),
            _why(li),
        ]
    for pr in doc.get("positive_records", []):
        yield [
            "positive",
            employee,
            "",
            "",
            "",
            cell(pr.get("case_id")),
            cell(pr.get("at")),
            "",
            "",
            "",
            cell(pr.get("event_ids")),
            cell(pr.get("duty")),
            cell(pr.get("step")),
            cell(pr.get("violation_id")),
            "",
        ]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]],
              progress: RowProgress | None = None) -> bytes:
    """UTF-8 with BOM, so that spreadsheet programs read the Chinese names right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(text) for text in row])
        tick(progress)
    return ("\ufeff" + out.getvalue()).encode()


def evidence_csv(doc: Mapping[str, Any], progress: RowProgress | None = None) -> bytes:
    """One row per record: liabilities, then positive records."""
    return csv_bytes(EVIDENCE_CSV_HEADER, evidence_csv_rows(doc), progress)


def units_csv(doc: Mapping[str, Any]) -> bytes:
    return csv_bytes(UNIT_COLUMNS, rows(doc.get("units", []), UNIT_COLUMNS))
