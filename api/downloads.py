"""Documents answered as JSON or as a download (CSV, XLSX, PDF), one way for every route.

The formatting itself is ledger/adapters/rendering.py's; here only the media types, the
Content-Disposition header (a safe ASCII `filename` and the exact name as RFC 5987
`filename*`), the one failure a server can have producing a format (no CJK font for
PDFs: 503, since the request was fine) and the read recorded in the tenant's audit trail
once the answer is rendered (`answer_recorded`, as `ledger export` records its files).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

import orjson
from fastapi import Query, Request
from fastapi.responses import Response

from api.problems import ProblemError
from ledger.adapters.pdf_export import FontMissing
from ledger.application.tokens import AuditTrail
from ledger.domain.access import Principal
from projections.documents import record_read

Format = Literal["json", "csv", "xlsx", "pdf"]
FormatParam = Annotated[Format, Query(description="json, csv, xlsx or pdf.")]
MEDIA: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
Exporter = Callable[[Mapping[str, Any]], bytes]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def filename(*parts: str | None, fmt: str) -> str:
    """`evidence-e-zhang-2026-03-01-2026-03-31.pdf`: the parts given, joined by '-'."""
    return "-".join(p for p in parts if p) + f".{fmt}"


def content_disposition(name: str) -> str:
    """An attachment header that no id can break: ASCII fallback plus the exact name."""
    fallback = _UNSAFE.sub("_", name).strip("._") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def answer(document: Mapping[str, Any], fmt: Format, exporters: Mapping[str, Exporter],
           name: str) -> Response:
    """The document as JSON, or rendered by `exporters[fmt]` as a named download."""
    if fmt == "json":
        return Response(orjson.dumps(document), media_type=MEDIA["json"])
    try:
        body = exporters[fmt](document)
    except FontMissing as exc:
        raise ProblemError(503, "Format unavailable", str(exc)) from exc
    return Response(body, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": content_disposition(name)})


@dataclass(frozen=True, slots=True)
class Read:
    """One read as the audit trail records it: who, which route, whose (empty for no
    one's), and the period and format as asked."""

    principal: Principal
    route: str
    subject: str
    from_: str | None
    to: str | None


def audit_trail(request: Request) -> AuditTrail:
    trail: AuditTrail = request.app.state.audit
    return trail


def answer_recorded(request: Request, read: Read, document: Mapping[str, Any], fmt: Format,
                    exporters: Mapping[str, Exporter], name: str) -> Response:
    """`answer`, with the read recorded after it was rendered (a failed one is no read)
    and before it leaves (if the record cannot be written, nothing is served)."""
    response = answer(document, fmt, exporters, name)
    record_read(audit_trail(request), read.principal, read.route, read.subject, read.from_,
                read.to, fmt)
    return response


def download_docs(json_example: Any, text_example: str, what: str) -> dict[str, Any]:
    """The OpenAPI entry of a 200 answered in any of the four formats."""
    return {
        "description": f"{what}, in the format asked for (`format`); other than JSON as an "
                       "attachment named in Content-Disposition.",
        "content": {
            MEDIA["json"]: {"example": json_example},
            MEDIA["csv"]: {"schema": {"type": "string"}, "example": text_example},
            MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"},
                            "example": "(an XLSX workbook)"},
            MEDIA["pdf"]: {"schema": {"type": "string", "format": "binary"},
                           "example": "(a PDF document)"},
        },
    }
