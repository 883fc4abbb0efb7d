"""What `ledger export` writes: file names, where files go, whole-or-nothing writes, and
the manifest a directory of evidence carries."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledger.adapters.combined_export import CombinedEvidence
from projections.reads import Bound

MANIFEST = "manifest.json"
COMBINED = "combined-evidence"


class ExportFailed(Exception):
    """A problem the user can fix, reported as one line and an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Request:
    """One export as asked: the period parsed for the read side and as given (the audit
    trail and the file names keep what was typed, as the API keeps its query)."""

    tenant: str
    fmt: str
    from_: str | None
    to: str | None
    start: Bound | None
    end: Bound | None
    scope: dict[str, Any] = field(default_factory=dict)
    #: The language asked for (--lang); None: Chinese, and CSV with its column codes.
    lang: str | None = None

    def filename(self, employee_id: str) -> str:
        return evidence_filename(employee_id, self.fmt, self.from_, self.to)

    def report_filename(self, case_id: str) -> str:
        """`report-SO-1001.pdf`, as the API names the download."""
        return f"report-{_safe(case_id)}.{self.fmt}"

    def units_filename(self) -> str:
        """`units-acme-2026-03-01-2026-03-31.csv`."""
        parts = ["units", self.tenant, *(_safe(p) for p in (self.from_, self.to) if p)]
        return "-".join(parts) + f".{self.fmt}"


# --- names and places ---------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.-]")


def _safe(part: str) -> str:
    """A name part safe in a file name; one that had to change carries a digest of the
    original, so two ids never share a file."""
    safe = _UNSAFE.sub("_", part)
    if safe != part:
        safe += "-" + hashlib.sha256(part.encode()).hexdigest()[:8]
    return safe


def evidence_filename(employee_id: str, fmt: str, from_: str | None = None,
                      to: str | None = None) -> str:
    """`evidence-e-zhang-2026-03-01-2026-03-31.pdf`, as the API names the download."""
    parts = ["evidence", _safe(employee_id), *(_safe(p) for p in (from_, to) if p)]
    return "-".join(parts) + f".{fmt}"


def write_file(path: Path, body: bytes) -> None:
    """Whole or not at all: a crash never leaves half an evidence file behind."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(body)
        partial.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ExportFailed(f"could not write {path}: {exc.strerror or exc}", code=1) from exc


def single_target(out: str | None, filename: str) -> Path:
    """`--out` for one file: the file itself, or a directory to put it in (one that
    exists, or any path written with a trailing slash)."""
    if not out:
        return Path(filename)
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return Path(out) / filename
    return Path(out)


def directory_target(out: str | None, tenant: str) -> Path:
    directory = Path(out) if out else Path(f"evidence-{tenant}")
    if directory.exists() and not directory.is_dir():
        raise ExportFailed(f"{directory} is a file; several employees need a directory (--out)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportFailed(f"could not create {directory}: {exc.strerror or exc}",
                           code=1) from exc
    return directory


# --- what was written ---------------------------------------------------------------------


@dataclass(slots=True)
class Written:
    employee_id: str
    name: str | None
    path: Path
    liabilities: int
    positive: int
    events: int
    size: int
    sha256: str

    @property
    def records(self) -> int:
        return self.liabilities + self.positive


def written(doc: dict[str, Any], path: Path, body: bytes) -> Written:
    """An evidence document's file, as the summary line and the manifest count it."""
    return Written(doc["employee_id"], doc.get("name"), path, len(doc["liabilities"]),
                   len(doc["positive_records"]), len(doc["events"]), len(body),
                   hashlib.sha256(body).hexdigest())


@dataclass(slots=True)
class Tally:
    written: list[Written] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)
    extra_bytes: int = 0

    def line(self, what: str, where: Path) -> str:
        rows = sum(w.records for w in self.written)
        liabilities = sum(w.liabilities for w in self.written)
        size = sum(w.size for w in self.written) + self.extra_bytes
        files = len(self.written) + len(self.extra)
        return (f"exported {what}: {plural(files, 'file')}, {rows} rows ({liabilities} "
                f"liabilities, {rows - liabilities} positive records), "
                f"{sum(w.events for w in self.written)} ledger events, {size} bytes -> {where}")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def manifest(request: Request, tally: Tally, exported_by: str, generated_at: str) -> bytes:
    """What the directory holds, with each file's SHA-256, for whoever receives it."""
    return orjson.dumps({
        "tenant": request.tenant, "from": request.from_, "to": request.to,
        "format": request.fmt, "scope": request.scope,
        "exported_by": exported_by, "generated_at": generated_at,
        "files": [{"employee_id": w.employee_id, "name": w.name, "file": w.path.name,
                   "liabilities": w.liabilities, "positive_records": w.positive,
                   "events": w.events, "bytes": w.size, "sha256": w.sha256}
                  for w in tally.written],
    }, option=orjson.OPT_INDENT_2)


def finish_directory(request: Request, directory: Path, tally: Tally,
                     combined: CombinedEvidence | None, exported_by: str,
                     generated_at: str) -> None:
    """The combined file (CSV, XLSX) and the manifest, beside the employees' files."""
    extras: list[tuple[Path, bytes]] = []
    if combined is not None:
        body = combined.csv() if request.fmt == "csv" else combined.xlsx()
        extras.append((directory / f"{COMBINED}.{request.fmt}", body))
    extras.append((directory / MANIFEST, manifest(request, tally, exported_by, generated_at)))
    for path, body in extras:
        write_file(path, body)
        tally.extra.append(path)
        tally.extra_bytes += len(body)
