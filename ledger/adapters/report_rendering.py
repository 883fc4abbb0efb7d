"""Evidence, unit reports and trace reports as XLSX and PDF, in the document's language.

Every code is shown by its label (ledger/adapters/labels.py), people and units by name
beside their id, and every liability with why: the policy and version, the rule and its
description, the values it read or the field it could not read, the subordinate, the
review due time and escalation path, the step's title and output standard, severity and
appeal status. The summary names the ledger position and the signed checkpoint the file
was made from; a period is shown only when one was asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ledger.adapters.labels import DEFAULT_LANG, Lang, label, word
from ledger.adapters.sheets import Column, pdf, sheet, summary_sheet, xlsx_bytes

Doc = Mapping[str, Any]
Progress = Callable[[int], None]


def lang_of(doc: Doc) -> Lang:
    return str(doc.get("lang") or DEFAULT_LANG)


def _named(doc: Doc, group: str, ident: Any) -> str:
    if not ident:
        return ""
    name = ((doc.get("names") or {}).get(group) or {}).get(ident)
    return f"{name}（{ident}）" if name and name != ident else str(ident)


def _colon(doc: Doc) -> str:
    return "：" if lang_of(doc) == "zh" else ": "


def _ex(record: Mapping[str, Any]) -> Mapping[str, Any]:
    found = record.get("explanation")
    return found if isinstance(found, Mapping) else {}


def liability_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)

    def escalation(r: Mapping[str, Any]) -> str:
        return " → ".join([_named(doc, "employees", c.get("from_id")) for c in
                           (_ex(r).get("escalations") or [])[:1]]
                          + [f"{_named(doc, 'employees', c.get('to_id'))}"
                             f"（{c.get('review_due') or c.get('due')}）"
                             for c in _ex(r).get("escalations") or []])

    def policy(r: Mapping[str, Any]) -> str:
        p = _ex(r).get("policy") or {}
        return f"{p.get('policy_id')} v{p.get('version')}" if p else ""

    return [
        (word("col.liability_id", lang), lambda r: r.get("liability_id"), "text"),
        (word("col.employee", lang), lambda r: _named(doc, "employees", r.get("employee_id")),
         "text"),
        (word("col.kind", lang), lambda r: label("kind", r.get("kind"), lang), "text"),
        (word("col.basis", lang), lambda r: label("basis", r.get("basis"), lang), "text"),
        (word("col.case_id", lang), lambda r: r.get("case_id"), "text"),
        (word("col.at", lang), lambda r: r.get("at"), "time"),
        (word("col.status", lang), lambda r: label("status", r.get("status"), lang), "text"),
        (word("col.why", lang), lambda r: _ex(r).get("why"), "text"),
        (word("col.policy", lang), policy, "text"),
        (word("col.rule", lang), lambda r: (_ex(r).get("policy") or {}).get("rule"), "text"),
        (word("col.description", lang),
         lambda r: (_ex(r).get("policy") or {}).get("description"), "text"),
        (word("col.outcome", lang), lambda r: label("outcome", _ex(r).get("outcome"), lang),
         "text"),
        (word("col.values_read", lang),
         lambda r: (_ex(r).get("operation") or {}).get("values_read"), "text"),
        (word("col.missing_field", lang), lambda r: _ex(r).get("missing_field"), "text"),
        (word("col.subordinate", lang),
         lambda r: _named(doc, "employees", _ex(r).get("subordinate_id")), "text"),
        (word("col.review_due", lang), lambda r: _ex(r).get("review_due"), "time"),
        (word("col.escalation", lang), escalation, "text"),
        (word("col.step", lang), lambda r: r.get("step"), "text"),
        (word("col.step_title", lang), lambda r: (_ex(r).get("step") or {}).get("title"),
         "text"),
        (word("col.output_standard", lang),
         lambda r: (_ex(r).get("step") or {}).get("output_standard"), "text"),
        (word("col.severity", lang), lambda r: label("severity", _ex(r).get("severity"), lang),
         "text"),
        (word("col.appeal", lang),
         lambda r: label("appeal", _ex(r).get("appeal_status"), lang), "text"),
        (word("col.corrected_reason", lang), lambda r: r.get("corrected_reason"), "text"),
        (word("col.replaced_by", lang), lambda r: r.get("replaced_by"), "text"),
        (word("col.unit", lang), lambda r: _named(doc, "units", r.get("unit_id")), "text"),
        (word("col.event_ids", lang), lambda r: r.get("event_ids"), "text"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
    ]


#: The liability columns a PDF page has room for: `why` carries the rest in words.
PDF_LIABILITY = ("col.liability_id", "col.employee", "col.kind", "col.basis", "col.case_id",
                 "col.at", "col.status", "col.why", "col.output_standard", "col.severity",
                 "col.appeal", "col.corrected_reason", "col.position")


def pdf_liability_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    keep = {word(key, lang) for key in PDF_LIABILITY}
    return [c for c in liability_columns(doc) if c[0] in keep]


def positive_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    return [
        (word("col.duty", lang), lambda r: label("duty", r.get("duty"), lang), "text"),
        (word("col.case_id", lang), lambda r: r.get("case_id"), "text"),
        (word("col.at", lang), lambda r: r.get("at"), "time"),
        (word("col.step", lang), lambda r: r.get("step"), "text"),
        (word("col.violation_id", lang), lambda r: r.get("violation_id"), "text"),
        (word("col.event_ids", lang), lambda r: r.get("event_ids"), "text"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
    ]


def event_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    return [
        (word("col.event_id", lang), lambda r: r.get("event_id"), "text"),
        (word("col.source", lang), lambda r: r.get("source"), "text"),
        (word("col.type", lang), lambda r: label("type", r.get("type"), lang), "text"),
        (word("col.time", lang), lambda r: r.get("time"), "time"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
        (word("col.entry_hash", lang), lambda r: r.get("entry_hash"), "text"),
    ]


def unit_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    ints = ("steps_due", "steps_on_time", "steps_overdue", "violations", "liabilities")
    return [
        (word("col.rank", lang), lambda r: r.get("rank"), "int"),
        (word("col.unit", lang), lambda r: r.get("name") or r.get("unit_id"), "text"),
        (word("col.unit_id", lang), lambda r: r.get("unit_id"), "text"),
        *[(word(f"col.{n}", lang), (lambda r, n=n: r.get(n)), "int") for n in ints[:3]],
        (word("col.completion_rate", lang), lambda r: r.get("completion_rate"), "rate"),
        *[(word(f"col.{n}", lang), (lambda r, n=n: r.get(n)), "int") for n in ints[3:]],
    ]


def provenance(doc: Doc) -> list[tuple[str, Any]]:
    """The ledger position and the signed checkpoint a file was made from."""
    lang = lang_of(doc)
    checkpoint = (doc.get("proofs") or {}).get("checkpoint")
    line = word("sum.unsigned", lang) if not isinstance(checkpoint, Mapping) else word(
        "sum.checkpoint_line", lang, sequence=checkpoint.get("sequence"),
        tree_size=checkpoint.get("tree_size"), root=checkpoint.get("root_hash"),
        key=checkpoint.get("key_id"))
    return [(word("sum.position", lang), doc.get("ledger_position")),
            (word("sum.checkpoint", lang), line),
            (word("sum.generated", lang), doc.get("generated_at"))]


def period(doc: Doc) -> list[tuple[str, Any]]:
    if not doc.get("from") and not doc.get("to"):
        return []
    shown = f"{doc.get('from') or '…'} – {doc.get('to') or '…'}"
    return [(word("sum.period", lang_of(doc)), shown)]


def evidence_summary(doc: Doc) -> list[tuple[str, Any]]:
    lang = lang_of(doc)
    liabilities = doc.get("liabilities", [])
    active = sum(1 for li in liabilities if li.get("status", "active") == "active")
    employee = f"{doc.get('employee_id')} {doc.get('name') or ''}".strip()
    return [(word("sum.employee", lang), employee), (word("sum.unit", lang), doc.get("unit_id")),
            (word("col.name", lang), doc.get("unit_name")),
            (word("sum.tenant", lang), doc.get("tenant")), *period(doc),
            (word("sum.liabilities", lang), word("sum.liabilities_count", lang, active=active,
                                                 corrected=len(liabilities) - active)),
            (word("sum.positive", lang), len(doc.get("positive_records", []))),
            (word("sum.events", lang), len(doc.get("events", []))), *provenance(doc)]


def _tables(doc: Doc, *names: str, for_pdf: bool = False,
            ) -> list[tuple[str, Sequence[Column], Sequence[Any]]]:
    lang = lang_of(doc)
    columns = {"liabilities": pdf_liability_columns if for_pdf else liability_columns,
               "positive_records": positive_columns,
               "events": event_columns, "units": unit_columns, "links": link_columns,
               "violations": violation_columns, "deadlines": deadline_columns,
               "escalations": escalation_columns, "corrections": correction_columns}
    titles = {"liabilities": "sheet.liabilities", "positive_records": "sheet.positive",
              "events": "sheet.events", "units": "sheet.units", "links": "sheet.chain",
              "violations": "sheet.violations", "deadlines": "sheet.deadlines",
              "escalations": "sheet.escalations", "corrections": "sheet.corrections"}
    return [(word(titles[n], lang), columns[n](doc), doc.get(n) or []) for n in names]


def _xlsx(doc: Doc, summary: Sequence[tuple[str, Any]], *names: str,
          progress: Progress | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    summary_sheet(workbook, word("sheet.summary", lang_of(doc)), summary)
    for title, columns, records in _tables(doc, *names):
        sheet(workbook, title, columns, records, progress)
    return xlsx_bytes(workbook)


def _pdf(doc: Doc, title: str, summary: Sequence[tuple[str, Any]], *names: str,
         progress: Progress | None = None, figures: Sequence[Any] = ()) -> bytes:
    from ledger.adapters.pdf_export import FONT_NAME, register_font

    register_font()
    return pdf(title, summary, _tables(doc, *names, for_pdf=True), lang_of(doc), FONT_NAME,
               progress, figures)


EVIDENCE_TABLES = ("liabilities", "positive_records", "events")


def evidence_xlsx(doc: Doc, progress: Progress | None = None) -> bytes:
    return _xlsx(doc, evidence_summary(doc), *EVIDENCE_TABLES, progress=progress)


def evidence_pdf(doc: Doc, progress: Progress | None = None) -> bytes:
    name = doc.get("name") or doc.get("employee_id")
    title = f"{word('title.evidence', lang_of(doc))}{_colon(doc)}{name}"
    return _pdf(doc, title, evidence_summary(doc), *EVIDENCE_TABLES, progress=progress)


def units_summary(doc: Doc) -> list[tuple[str, Any]]:
    return [(word("sum.tenant", lang_of(doc)), doc.get("tenant")), *period(doc)]


def units_xlsx(doc: Doc) -> bytes:
    return _xlsx(doc, units_summary(doc), "units")


def units_pdf(doc: Doc) -> bytes:
    from ledger.adapters.charts import ranking_chart
    from ledger.adapters.pdf_export import FONT_NAME, register_font

    register_font()
    units = sorted(doc.get("units") or [], key=lambda u: (u.get("rank") is None, u.get("rank")))
    figures = [ranking_chart(units, lang_of(doc), FONT_NAME)] if units else []
    return _pdf(doc, word("title.units", lang_of(doc)), units_summary(doc), "units",
                figures=figures)


# --- the trace report -------------------------------------------------------------------


def link_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    return [
        (word("col.time", lang), lambda r: r.get("at"), "time"),
        (word("col.type", lang), lambda r: label("type", r.get("type"), lang), "text"),
        (word("col.step", lang), lambda r: r.get("step"), "text"),
        (word("col.actor", lang), lambda r: _named(doc, "employees", r.get("actor_id")), "text"),
        (word("col.unit", lang), lambda r: _named(doc, "units", r.get("unit_id")), "text"),
        (word("col.expected_lead", lang), lambda r: r.get("expected_lead"), "text"),
        (word("col.due", lang), lambda r: r.get("due"), "time"),
        (word("col.on_time", lang), lambda r: label("bool", r.get("on_time"), lang), "text"),
        (word("col.flags", lang), lambda r: [label("flag", f, lang) for f in r.get("flags", [])],
         "text"),
        (word("col.event_id", lang), lambda r: r.get("event_id"), "text"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
    ]


def violation_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    return [
        (word("col.violation_id", lang), lambda r: r.get("violation_id"), "text"),
        (word("col.employee", lang), lambda r: _named(doc, "employees", r.get("employee_id")),
         "text"),
        (word("col.policy", lang), lambda r: f"{r.get('policy_id')} v{r.get('policy_version')}",
         "text"),
        (word("col.severity", lang), lambda r: label("severity", r.get("severity"), lang), "text"),
        (word("col.supervisor", lang),
         lambda r: _named(doc, "employees", r.get("supervisor_id")), "text"),
        (word("col.review_due", lang), lambda r: r.get("review_due"), "time"),
        (word("col.reason", lang), lambda r: r.get("reason"), "text"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
    ]


def deadline_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    return [
        (word("col.obligation", lang), lambda r: label("obligation", r.get("obligation"), lang),
         "text"),
        (word("col.step", lang), lambda r: r.get("step"), "text"),
        (word("col.violation_id", lang), lambda r: r.get("violation_id"), "text"),
        (word("col.owner", lang), lambda r: _named(doc, "employees", r.get("owner_id")), "text"),
        (word("col.due", lang), lambda r: r.get("due"), "time"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
    ]


def escalation_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    return [
        (word("col.obligation", lang), lambda r: label("obligation", r.get("obligation"), lang),
         "text"),
        (word("col.from", lang), lambda r: _named(doc, "employees", r.get("from_id")), "text"),
        (word("col.to", lang), lambda r: _named(doc, "employees", r.get("to_id")), "text"),
        (word("col.due", lang), lambda r: r.get("review_due") or r.get("due"), "time"),
        (word("col.at", lang), lambda r: r.get("at"), "time"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
    ]


def correction_columns(doc: Doc) -> list[Column]:
    lang = lang_of(doc)
    return [
        (word("col.liability_id", lang), lambda r: r.get("liability_id"), "text"),
        (word("col.reason", lang), lambda r: r.get("reason"), "text"),
        (word("col.replaced_by", lang), lambda r: r.get("replaced_by"), "text"),
        (word("col.at", lang), lambda r: r.get("at"), "time"),
        (word("col.position", lang), lambda r: r.get("position"), "int"),
    ]


REPORT_TABLES = ("links", "liabilities", "violations", "deadlines", "escalations",
                 "corrections", "events")


def report_summary(doc: Doc) -> list[tuple[str, Any]]:
    lang = lang_of(doc)
    source = doc.get("responsibility_source") or {}
    shown = word("sum.none", lang) if not source else (
        f"{source.get('event_id')} · {_named(doc, 'employees', source.get('employee_id'))}"
        f" · {_named(doc, 'units', source.get('unit_id'))} · "
        f"{label('flag', source.get('reason'), lang)}")
    return [(word("sum.case", lang), doc.get("case_id")),
            (word("sum.tenant", lang), doc.get("tenant")),
            (word("sum.source", lang), shown), *provenance(doc)]


def report_xlsx(doc: Doc) -> bytes:
    return _xlsx(doc, report_summary(doc), *REPORT_TABLES)


def report_pdf(doc: Doc) -> bytes:
    title = f"{word('title.report', lang_of(doc))}{_colon(doc)}{doc.get('case_id')}"
    return _pdf(doc, title, report_summary(doc), *REPORT_TABLES)
