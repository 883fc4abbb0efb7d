"""HR evidence: `GET /v1/employees/{employee_id}/evidence?from=&to=&format=`.

Every liability and every positive record of the employee over the period, the ledger
events behind them and the proofs that those events are in the ledger as recorded. The
same document is rendered as JSON, CSV, XLSX or PDF (ledger/exports.py), and every read
of it is itself recorded (who, what, when) in the tenant's audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.queries import From, Reads, Tenant, To, _bound
from ledger.adapters.eventstore import EventStore
from ledger.domain.events import EntryRecorded
from ledger.evidence import NotSealedError, bundle_for, entry_json, resolve_event
from ledger.exports import evidence_csv, evidence_pdf, evidence_xlsx
from projections.reads import Bound, ReadModels
from projections.views import eq

Format = Literal["json", "csv", "xlsx", "pdf"]
MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _all_liabilities(
    reads: ReadModels, tenant: str, employee_id: str, start: Bound | None, end: Bound | None
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = reads.liabilities(
            tenant, employee_id=employee_id, start=start, end=end, limit=1000, after=after
        )
        found += page.items
        if page.after is None:
            return found
        after = page.after


def _positive_records(
    reads: ReadModels, tenant: str, employee_id: str, start: Bound | None, end: Bound | None
) -> list[dict[str, Any]]:
    from projections.reads import _bounds  # the read side's own period semantics

    rows = reads.projections.view("duties").select(
        "duties",
        [eq("tenant", tenant), eq("employee_id", employee_id), *_bounds(start, end)],
        order_by=("at_utc", "duty_key"),
    )
    fields = ("duty", "case_id", "at", "step", "violation_id", "unit_id", "event_ids",
              "event_refs")
    return [{name: row.get(name) for name in fields} for row in rows]


def _entries_behind(
    store: EventStore, tenant: str, records: Iterable[dict[str, Any]]
) -> list[EntryRecorded]:
    refs: dict[str, None] = {}
    for record in records:
        for ref in record.get("event_refs") or record.get("event_ids") or []:
            refs[ref] = None
    entries: dict[int, EntryRecorded] = {}
    for ref in refs:
        for entry in resolve_event(store, tenant, ref):
            entries[entry.position] = entry
    return [entries[p] for p in sorted(entries)]


def evidence_document(
    reads: ReadModels, store: EventStore, tenant: str, employee_id: str,
    start: Bound | None, end: Bound | None, now: datetime,
) -> dict[str, Any]:
    liabilities = _all_liabilities(reads, tenant, employee_id, start, end)
    for liability in liabilities:
        liability["status"] = "corrected" if liability.get("corrected") else "active"
    positive = _positive_records(reads, tenant, employee_id, start, end)
    entries = _entries_behind(store, tenant, [*liabilities, *positive])
    assignments = reads.org_assignments(tenant, employee_id)
    latest = assignments[-1] if assignments else {}
    try:
        proofs: dict[str, Any] | None = bundle_for(store, tenant, entries) if entries else None
    except NotSealedError:
        proofs = None  # no signing key configured: chained but not yet checkpointed
    return {
        "tenant": tenant, "employee_id": employee_id, "name": latest.get("name"),
        "unit_id": latest.get("unit_id"),
        "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
        "generated_at": now.isoformat(),
        "liabilities": liabilities, "positive_records": positive,
        "events": [{**entry_json(e), "event_id": e.event_id, "source": e.source,
                    "type": e.envelope["type"], "time": e.envelope["time"]} for e in entries],
        "proofs": proofs,
    }


def render(document: dict[str, Any], fmt: Format) -> bytes:
    import orjson

    if fmt == "json":
        return orjson.dumps(document)
    return {"csv": evidence_csv, "xlsx": evidence_xlsx, "pdf": evidence_pdf}[fmt](document)


def evidence_response(document: dict[str, Any], fmt: Format) -> Response:
    body = render(document, fmt)
    headers = {}
    if fmt != "json":
        name = f"evidence-{document['employee_id']}.{fmt}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(body, media_type=MEDIA[fmt], headers=headers)


FormatParam = Annotated[Format, Query(description="json, csv, xlsx or pdf.")]
EmployeeParam = Annotated[str, Path(description="The employee's id.")]

router = APIRouter(tags=["evidence"])


@router.get(
    "/v1/employees/{employee_id}/evidence",
    responses={200: {"content": {m: {} for m in MEDIA.values()},
                     "description": "The evidence, in the asked format."}},
)
def get_evidence(
    request: Request, employee_id: EmployeeParam, tenant: Tenant, reads: Reads,
    from_: From = None, to: To = None, format: FormatParam = "json",
) -> Response:
    """Every liability and positive record of the employee over from..to, with the ledger
    events behind them and their inclusion proofs against the latest signed checkpoint."""
    ledger = request.app.state.ledger
    document = evidence_document(
        reads, ledger.store, tenant, employee_id, _bound("from", from_), _bound("to", to),
        ledger.clock(),
    )
    return evidence_response(document, format)
