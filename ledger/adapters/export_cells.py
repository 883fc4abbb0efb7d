"""What the evidence and unit exports share: their columns, how a value becomes a cell,
and the progress callback (rendering.py and the csv/xlsx/combined exports use them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def rows(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[list[str]]:
    return [[cell(record.get(c)) for c in columns] for record in records]


def tick(progress: RowProgress | None, count: int = 1) -> None:
    if progress is not None and count:
        progress(count)
