"""The documents read from the ledger, built once for every edge that serves them.

`GET /v1/employees/{id}/evidence` and `ledger export evidence` answer `evidence_document`;
`GET /v1/reports/units` and `ledger export units` answer `unit_report`. Both edges then
only parse what was asked, check access, render (ledger/adapters/rendering.py) and record
the read with `record_read`: after the document was rendered (a read that failed is not
one) and before it leaves (no answer or file exists whose read was not recorded).

Auditors get audited: who (the token's id and role, or `cli:<os user>`), what (the route
or command, the employee; a unit report is no one's evidence and has an empty subject),
the period and the format as asked, and when (the reading service's clock).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from ledger.adapters.labels import DEFAULT_LANG, Lang, label
from ledger.adapters.store import EventStore
from ledger.application.evidence import NotSealedError, bundle_for, entry_json, resolve_event
from ledger.application.tokens import AuditTrail
from ledger.domain.access import Principal
from ledger.domain.events import EntryRecorded
from projections.explain import Explainer
from projections.reads import Bound, ReadModels
from projections.schema import Row

#: Liabilities read per page while collecting an employee's evidence.
_PAGE = 1000


def evidence_document(
    reads: ReadModels, store: EventStore, tenant: str, employee_id: str,
    start: Bound | None, end: Bound | None, now: datetime, lang: Lang = DEFAULT_LANG,
) -> dict[str, Any]:
    """Every liability and positive record of the employee over start..end, each liability
    explained (projections/explain.py), the ledger entries behind all of it (the records'
    own entries included) and their proofs (null until a signed checkpoint covers them)."""
    names = names_of(reads, tenant)
    explainer = Explainer(store, tenant, lang, names["employees"])
    liabilities = _all_liabilities(reads, tenant, employee_id, start, end)
    for liability in liabilities:
        explain_liability(explainer, liability)
    positive = reads.duties(tenant, employee_id, start, end)
    for record in positive:
        record["duty_label"] = label("duty", record.get("duty"), lang)
    shown = _entries_behind(store, tenant, [*liabilities, *positive])
    entries = _merge(shown, explainer.used.values(),
                     _own_entries(store, tenant, [*liabilities, *positive]))
    assignments = reads.org_assignments(tenant, employee_id)
    latest = assignments[-1] if assignments else {}
    return {
        "tenant": tenant, "lang": lang, "employee_id": employee_id, "name": latest.get("name"),
        "unit_id": latest.get("unit_id"),
        "unit_name": reads.unit_names(tenant).get(str(latest.get("unit_id"))),
        "from": _iso(start), "to": _iso(end), "generated_at": now.isoformat(),
        "ledger_position": store.head(tenant).position if entries else None,
        "liabilities": liabilities, "positive_records": positive,
        "names": names,
        "events": events_json(entries), "proofs": proofs_for(store, tenant, entries),
    }


def explain_liability(explainer: Explainer, liability: Row) -> None:
    """A liability row with its status, labels, correction entry and explanation."""
    lang = explainer.lang
    liability["status"] = "corrected" if liability.get("corrected") else "active"
    corrected = explainer.correction(str(liability.get("case_id")),
                                     str(liability.get("liability_id")))
    if corrected is not None and liability["status"] == "corrected":  # not if reinstated
        liability["corrected_position"] = corrected.position
    liability["explanation"] = explainer.explain(liability)
    liability["labels"] = {
        "kind": label("kind", liability.get("kind"), lang),
        "basis": label("basis", liability.get("basis"), lang),
        "status": label("status", liability["status"], lang),
        "severity": label("severity", liability["explanation"].get("severity"), lang),
        "appeal_status": label("appeal", liability["explanation"].get("appeal_status"), lang),
        "outcome": label("outcome", liability["explanation"].get("outcome"), lang),
    }


def names_of(reads: ReadModels, tenant: str) -> dict[str, dict[str, str]]:
    """Employees' and units' names as the org chart records them, for renderers to show
    names beside ids."""
    people = {row["employee_id"]: row["name"] for row in reads.employees(tenant) if row["name"]}
    return {"employees": people, "units": reads.unit_names(tenant)}


def events_json(entries: Iterable[EntryRecorded]) -> list[dict[str, Any]]:
    return [{**entry_json(e), "event_id": e.event_id, "source": e.source,
             "type": e.envelope["type"], "time": e.envelope["time"]} for e in entries]


def proofs_for(store: EventStore, tenant: str,
               entries: Sequence[EntryRecorded]) -> dict[str, Any] | None:
    """The bundle proving every entry a document shows; None while unsigned."""
    try:
        return bundle_for(store, tenant, entries) if entries else None
    except NotSealedError:
        return None  # no signing key configured: chained but not yet checkpointed


def unit_report(
    reads: ReadModels, tenant: str, start: Bound | None, end: Bound | None,
    units: Collection[str] | None = None,
) -> dict[str, Any]:
    """Per unit over the business days start..end (a time bound stands for its date): the
    figures and ranking of `ReadModels.unit_report`. `units`: only these (a manager's
    scope), ranked among themselves; None: all."""
    first, last = business_day(start), business_day(end)
    return {"tenant": tenant, "from": _iso(first), "to": _iso(last),
            "units": reads.unit_report(tenant, first, last, units=units)}


def business_day(bound: Bound | None) -> date | None:
    """The unit report counts business days: a time bound stands for its date."""
    return bound.date() if isinstance(bound, datetime) else bound


def audit_query(start: str | None, end: str | None, fmt: str) -> str:
    """What was asked, as the audit trail keeps it: the period as given, and the format."""
    return urlencode([(k, v) for k, v in (("from", start), ("to", end), ("format", fmt))
                      if v is not None])


def record_read(
    trail: AuditTrail, principal: Principal, route: str, subject: str,
    start: str | None, end: str | None, fmt: str,
) -> None:
    """One read of a document in the tenant's audit trail (raises rather than let a read
    go unrecorded)."""
    trail.record(principal, route, subject, audit_query(start, end, fmt))


def _iso(bound: Bound | None) -> str | None:
    return bound.isoformat() if bound is not None else None


def _all_liabilities(
    reads: ReadModels, tenant: str, employee_id: str, start: Bound | None, end: Bound | None
) -> list[Row]:
    found: list[Row] = []
    after = None
    while True:
        page = reads.liabilities(tenant, employee_id=employee_id, start=start, end=end,
                                 limit=_PAGE, after=after)
        found += page.items
        if page.after is None:
            return found
        after = page.after


def _merge(*groups: Iterable[EntryRecorded]) -> list[EntryRecorded]:
    """Entries of several groups, each once, in ledger order."""
    by_position = {e.position: e for group in groups for e in group}
    return [by_position[p] for p in sorted(by_position)]


def _own_entries(store: EventStore, tenant: str,
                 records: Iterable[Row]) -> list[EntryRecorded]:
    """The entries the records themselves are (liability.assigned, liability.corrected,
    duty.fulfilled), by the positions the records carry."""
    wanted = sorted({int(p) for r in records for p in (r.get("position"),
                                                         r.get("corrected_position"))
                     if isinstance(p, int)})
    return entries_at(store, tenant, wanted)


def entries_at(store: EventStore, tenant: str, positions: Sequence[int]) -> list[EntryRecorded]:
    found: list[EntryRecorded] = []
    for position in positions:
        found += store.entries(tenant, after=position - 1, limit=1)
    return found


def _entries_behind(
    store: EventStore, tenant: str, records: Iterable[Row]
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
