"""File ingest: JSON Lines in, batches through the ledger, rejects written beside the input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledger.adapters import strict_json
from ledger.application.recording import Ledger
from ledger.domain.recording import Outcome, Reason, Status

ProgressCallback = Callable[[int], None]


@dataclass(slots=True)
class IngestReport:
    lines: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Status})
    rejects_path: Path | None = None

    @property
    def rejected(self) -> int:
        return self.counts[Status.REJECTED.value]


def rejects_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".rejected.jsonl")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, line.rstrip(b"\r\n")


def _parse(line: bytes) -> tuple[object, Reason | None]:
    """The line's JSON (strictly read: duplicate keys and inexact integers are refused by
    the validator, for this line alone), or why it is not JSON."""
    try:
        return strict_json.loads(line), None
    except strict_json.InvalidJson as exc:
        return None, Reason("invalid_json", "", f"line is not valid JSON: {exc}")


def ingest_file(
    ledger: Ledger, path: Path, batch_size: int, progress: ProgressCallback | None = None
) -> IngestReport:
    """Record every line; bad lines are kept, with their reasons, in <file>.rejected.jsonl."""
    report = IngestReport(rejects_path=rejects_path_for(path))
    assert report.rejects_path is not None
    report.rejects_path.unlink(missing_ok=True)
    batch: list[tuple[int, bytes, object]] = []
    with report.rejects_path.open("wb") as rejects:

        def flush() -> None:
            parsed = [(n, raw, obj) for n, raw, obj in batch if obj is not _BAD]
            # A line that parsed is UTF-8 (orjson reads nothing else): its text is kept.
            outcomes = ledger.record([obj for _, _, obj in parsed],
                                     texts=[raw.decode() for _, raw, _ in parsed]
                                     ) if parsed else []
            for (number, raw, _), outcome in zip(parsed, outcomes, strict=True):
                _count(report, outcome, number, raw, rejects)
            if progress:
                progress(len(batch))
            batch.clear()

        for number, raw in _lines(path):
            report.lines += 1
            obj, reason = _parse(raw)
            if reason is not None:
                _write_reject(rejects, number, raw, [reason])
                report.counts[Status.REJECTED.value] += 1
                batch.append((number, raw, _BAD))
            else:
                batch.append((number, raw, obj))
            if len(batch) >= batch_size:
                flush()
        flush()
    if report.rejected == 0:
        report.rejects_path.unlink(missing_ok=True)
        report.rejects_path = None
    return report


_BAD = object()


def _count(report: IngestReport, outcome: Outcome, number: int, raw: bytes, rejects: Any) -> None:
    report.counts[outcome.status.value] += 1
    if outcome.status is Status.REJECTED:
        _write_reject(rejects, number, raw, list(outcome.reasons))


def _write_reject(rejects: Any, number: int, raw: bytes, reasons: list[Reason]) -> None:
    record = {
        "line": number,
        "reasons": [r.as_dict() for r in reasons],
        "original": raw.decode("utf-8", errors="replace"),
    }
    rejects.write(orjson.dumps(record) + b"\n")
