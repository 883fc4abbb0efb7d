"""The trace report (责任追溯报告) of a case, and a case's events with their proofs.

`GET /v1/cases/{case_id}/report` and `GET /v1/cases/{case_id}/events` answer these. The
report is the case chain (links in business-time order and the responsibility source),
each liability explained as in HR evidence (projections/explain.py), the violations,
missed deadlines, escalations, corrections and appeals of the case as the ledger records
them, the entries behind all of it and one proof bundle over those entries: every record
names the position of its entry, so `ledger verify-evidence` proves the whole report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger.adapters.labels import DEFAULT_LANG, Lang, label
from ledger.adapters.store import EventStore
from ledger.domain.events import EntryRecorded
from projections.documents import events_json, explain_liability, names_of, proofs_for
from projections.explain import Explainer
from projections.reads import ReadModels

#: Derived entries a report shows as records, by section.
SECTIONS = {
    "violations": ("violation.flagged", ("violation_id", "employee_id", "policy_id",
                                         "policy_version", "severity", "supervisor_id",
                                         "review_due", "event_id", "reason")),
    "deadlines": ("deadline.missed", ("obligation", "due", "step", "violation_id", "owner_id",
                                      "unit_id")),
    "escalations": ("obligation.escalated", ("obligation", "violation_id", "step", "from_id",
                                             "to_id", "review_due", "due")),
    "corrections": ("liability.corrected", ("liability_id", "reason", "replaced_by")),
}


def trace_report(
    reads: ReadModels, store: EventStore, tenant: str, case_id: str, now: datetime,
    lang: Lang = DEFAULT_LANG, chain: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The case's trace report; None for a case the tenant has no chain of. `chain`: the
    chain as the caller may see it (a manager's liabilities only), else the whole chain."""
    chain = chain if chain is not None else reads.chain(tenant, case_id)
    if chain is None:
        return None
    names = names_of(reads, tenant)
    explainer = Explainer(store, tenant, lang, names["employees"])
    entries = explainer.case_entries(case_id)
    by_ref = {ref: e for e in entries if e.kind != "derived"
              for ref in (e.event_id, f"{e.source}#{e.event_id}")}
    links = []
    for link in chain.get("links", []):
        entry = by_ref.get(link.get("event_ref") or link.get("event_id")) or _derived_entry(
            entries, link)
        shown = {**link, "type_label": label("type", link.get("type"), lang),
                 "flag_labels": [label("flag", f, lang) for f in link.get("flags", [])]}
        if entry is not None:
            # A derived link is named by the chain's own key; the report names its entry.
            shown["position"], shown["event_id"] = entry.position, entry.event_id
            explainer.used[entry.position] = entry
        links.append(shown)
    liabilities = [dict(li) for li in chain.get("liabilities", [])]
    for liability in liabilities:
        explain_liability(explainer, liability)
        own = _entry_at(entries, liability.get("position"))
        if own is not None:
            explainer.used[own.position] = own
    sections = {name: _records(entries, type_, fields, explainer)
                for name, (type_, fields) in SECTIONS.items()}
    if len(liabilities) < len(chain.get("liabilities", [])):  # a manager's partial view
        sections["corrections"] = [c for c in sections["corrections"]
                                   if c["liability_id"] in {li["liability_id"]
                                                            for li in liabilities}]
    shown_entries = [explainer.used[p] for p in sorted(explainer.used)]
    source = chain.get("responsibility_source")
    return {
        "tenant": tenant, "lang": lang, "case_id": case_id, "generated_at": now.isoformat(),
        "ledger_position": store.head(tenant).position,
        "links": links, "responsibility_source": source,
        "liabilities": liabilities, **sections,
        "names": names,
        "events": events_json(shown_entries),
        "proofs": proofs_for(store, tenant, shown_entries),
    }


def case_events(
    store: EventStore, tenant: str, case_id: str,
    shown: Callable[[dict[str, Any]], bool] = lambda envelope: True,
) -> dict[str, Any] | None:
    """The case's ledger entries as recorded (inbound and derived, reminders included)
    that `shown` keeps, with their proofs; None when the case has none."""
    entries = sorted((e for e in store.find_entries(tenant, stream=f"case:{case_id}")
                      if shown(e.envelope)), key=lambda e: e.position)
    if not entries:
        return None
    return {"tenant": tenant, "case_id": case_id, "events": events_json(entries),
            "proofs": proofs_for(store, tenant, entries)}


def _derived_entry(entries: list[EntryRecorded], link: dict[str, Any]) -> EntryRecorded | None:
    """The engine's entry a chain link stands for (a missed deadline): the chain names it
    by its own key, so it is found by type, step and due time."""
    for entry in entries:
        data = entry.envelope.get("data") or {}
        if entry.kind == "derived" and entry.envelope.get("type") == link.get("type") and all(
                data.get(k) == link.get(k) for k in ("step", "due") if k in link):
            return entry
    return None


def _entry_at(entries: list[EntryRecorded], position: Any) -> EntryRecorded | None:
    return next((e for e in entries if e.position == position), None)


def _records(entries: list[EntryRecorded], type_: str, fields: tuple[str, ...],
             explainer: Explainer) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        if entry.envelope.get("type") != type_:
            continue
        data = entry.envelope.get("data") or {}
        explainer.used[entry.position] = entry
        out.append({"position": entry.position, "at": entry.envelope.get("time"),
                    **{f: data[f] for f in fields if f in data}})
    return out
