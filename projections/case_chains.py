"""Case chains: `GET /v1/cases/{case_id}/chain` as stored documents.

The projection keeps each tenant's `TenantFacts` in memory (the same model the engine
assesses with) and, for every case a batch affects, stores
`chain_document(facts.assess(case, watermark), liabilities of the case)`. The liabilities
are the ledger's own `liability.assigned` / `liability.corrected` entries, so a chain shows
what was concluded, corrections included.

The watermark is the tenant's event-time watermark, raised to the latest due the engine
has already judged missed (`deadline.missed`): in live operation the engine also sweeps by
wall clock, and a chain must not show as pending what the ledger already records as
missed. A case is recomputed whenever an entry touches it (its own facts, a reference to
it, an org or rule change reaching it, or a derived entry about it), so the stored
document is the one as of its last touch, whatever the batch boundaries were.

A case touched only by derived entries (the engine's conclusions about facts the view
already assessed) keeps its last assessment while that assessment still holds at the new
watermark (`unchanged_since`): only its liabilities and position are new. Each case's last
assessment is kept as the document it gave, without liabilities, in JSON.

On start the runner replays the ledger up to the view's position into memory (`warm`).
Settled cases beyond the context's `cache_cases` (across tenants, least recently used
first) are set aside with their liabilities in a private spill on local disk, as the
engine does (ledger/application/case_cache.py); the first entry or lookup that touches
one brings it back exactly as it was, except a derived entry about it, which updates the
liabilities kept beside it and, while its last assessment holds, writes its chain from
those without its facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ledger.adapters.case_spill import CaseSpill
from ledger.domain.events import EntryRecorded
from ledger.domain.responsibility.assess import unchanged_since
from ledger.domain.responsibility.documents import chain_document
from ledger.domain.responsibility.facts import Fact
from ledger.domain.responsibility.tenant import TenantFacts
from ledger.domain.responsibility.view import TenantView
from projections.base import (
    LedgerProjection,
    ProjectionContext,
    correct_liability,
    liability_row,
    public_liability,
)
from projections.schema import Column, Row, Table, ViewSchema, ints, parse_time, text
from projections.views import Changes, RowView

CHAINS = Table(
    "case_chains",
    columns=(*text("tenant", "case_id"), Column("document", "json"),
             *text("source_event_id", "source_employee_id", "source_reason"),
             *ints("links", "liabilities", "position")),
    key=("tenant", "case_id"),
)
SCHEMA = ViewSchema("case_chains", (CHAINS,))


@dataclass(frozen=True, slots=True)
class Assessed:
    """A case's last assessment: when, until when it holds, and the document it gave."""

    at: datetime | None
    next_due: datetime | None
    document: bytes  # the chain document with no liabilities, as JSON

    def to_json(self) -> list[Any]:
        return [_iso(self.at), _iso(self.next_due), self.document.decode()]

    @classmethod
    def from_json(cls, body: list[Any]) -> Assessed:
        at, next_due, document = body
        return cls(_time(at), _time(next_due), document.encode())


def _chain_row(tenant: str, case_id: str, document: dict[str, Any], held: dict[str, Row],
               position: int) -> Row:
    liabilities = [public_liability(r) for r in
                   sorted(held.values(), key=lambda r: (r["position"], r["liability_id"]))]
    document["liabilities"] = liabilities  # keeps its place among the keys
    source = document["responsibility_source"] or {}
    return {"tenant": tenant, "case_id": case_id, "document": document,
            "source_event_id": source.get("event_id"),
            "source_employee_id": source.get("employee_id"),
            "source_reason": source.get("reason"), "links": len(document["links"]),
            "liabilities": len(liabilities), "position": position}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class CaseChainsProjection(LedgerProjection):
    name = "case_chains"
    schema = SCHEMA
    stateful = True

    def __init__(self, view: RowView, context: ProjectionContext | None = None) -> None:
        super().__init__(view, context)
        self._facts: dict[str, TenantFacts] = {}
        self._liabilities: dict[str, dict[str, dict[str, Row]]] = {}
        self._judged: dict[str, datetime] = {}
        self._assessed: dict[str, dict[str, Assessed]] = {}
        #: What is kept beside set-aside cases that derived entries touched in the batch
        #: under way, read from the spill and written back at its end.
        self._beside: dict[tuple[str, str], dict[str, Any]] = {}
        self._spill: CaseSpill | None = None
        #: Cases brought back from the spill since start (tests, metrics).
        self.brought_back = 0
        #: Rows written from a case's last assessment, not a new one (tests, benches).
        self.reused = 0

    def reset(self) -> None:
        super().reset()
        self._facts, self._liabilities, self._judged = {}, {}, {}
        self._assessed, self._beside = {}, {}
        if self._spill is not None:
            self._spill.close()

    def forget_tenant(self, tenant: str) -> None:
        self._facts.pop(tenant, None)
        self._liabilities.pop(tenant, None)
        self._judged.pop(tenant, None)
        self._assessed.pop(tenant, None)
        self._beside = {key: kept for key, kept in self._beside.items() if key[0] != tenant}
        if self._spill is not None:
            self._spill.drop(tenant)

    def warm(self, entries: Sequence[EntryRecorded]) -> None:
        self._look_ahead(entries)
        for entry in entries:
            self._take(entry)
        self._put_beside_back()
        self._trim()  # a long history is not held whole while replayed

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        touched: dict[str, dict[str, int]] = {}
        changed: set[tuple[str, str]] = set()  # facts or the view they are judged by
        self._look_ahead(entries)
        for entry in entries:
            for case_id in self._take(entry):
                touched.setdefault(entry.tenant, {})[case_id] = entry.position
                if entry.kind != "derived":
                    changed.add((entry.tenant, case_id))
        for tenant, cases in touched.items():
            facts = self._facts.get(tenant)
            if facts is None:
                continue
            self._facts[tenant] = self._facts.pop(tenant)  # most recently used last
            watermark = self._watermark(tenant, facts)
            for case_id in sorted(cases):
                if not facts.has_case(case_id):
                    continue
                unchanged = (tenant, case_id) not in changed
                row = unchanged and self._row_aside(tenant, case_id, watermark, cases[case_id])
                changes.upsert("case_chains", row or self._row(
                    tenant, facts, case_id, watermark, cases[case_id], unchanged))
        self._put_beside_back()
        self._trim()

    @property
    def cases_in_memory(self) -> int:
        return sum(len(facts.cases) for facts in self._facts.values())

    @property
    def cases_set_aside(self) -> int:
        return self._spill.cases if self._spill is not None else 0

    def _row(self, tenant: str, facts: TenantFacts, case_id: str, watermark: datetime | None,
             position: int, facts_unchanged: bool) -> Row:
        facts.recall(case_id)  # its liabilities and last assessment come back with it
        assessed = self._assessed.setdefault(tenant, {})
        last = assessed.get(case_id)
        if facts_unchanged and last and unchanged_since(last.at, last.next_due, watermark):
            document = orjson.loads(last.document)
            self.reused += 1
        else:
            assessment = facts.assess(case_id, watermark)
            document = chain_document(assessment)
            try:  # copied: orjson's bytes keep its whole write buffer (8 KB for 1.3 KB here)
                kept = bytes(memoryview(orjson.dumps(document)))
                assessed[case_id] = Assessed(watermark, assessment.next_due, kept)
            except TypeError:  # not representable as orjson writes it: assessed every time
                assessed.pop(case_id, None)
        return _chain_row(tenant, case_id, document,
                          self._liabilities.get(tenant, {}).get(case_id, {}), position)

    def _row_aside(self, tenant: str, case_id: str, watermark: datetime | None,
                   position: int) -> Row | None:
        """The row of a set-aside case that only derived entries touched, from what is
        kept beside it, while its last assessment holds (None: bring it back)."""
        kept = self._beside.get((tenant, case_id))
        if kept is None or not kept["assessed"]:
            return None
        last = Assessed.from_json(kept["assessed"])
        if not unchanged_since(last.at, last.next_due, watermark):
            return None
        self.reused += 1
        return _chain_row(tenant, case_id, orjson.loads(last.document), kept["held"] or {},
                          position)

    def _watermark(self, tenant: str, facts: TenantFacts) -> datetime | None:
        judged = self._judged.get(tenant)
        event_time = facts.watermark
        if judged is None or (event_time is not None and event_time >= judged):
            return event_time
        return judged

    def _take(self, entry: EntryRecorded) -> set[str]:
        """Take an entry into memory; the cases whose chain it may change."""
        envelope = entry.envelope
        tenant = entry.tenant
        if entry.kind != "derived":
            return self._tenant(tenant).add(Fact.from_envelope(envelope))
        data = envelope["data"]
        case_id = data.get("case_id") or envelope.get("subject")
        if not isinstance(case_id, str):
            return set()
        facts = self._facts.get(tenant)
        if facts is not None and facts.is_away(case_id):
            held = self._held_aside(tenant, case_id)  # its facts stay where they are
        else:
            held = self._liabilities.setdefault(tenant, {}).setdefault(case_id, {})
        match envelope["type"]:
            case "liability.assigned":
                held[data["liability_id"]] = liability_row(entry)
            case "liability.corrected":
                if data["liability_id"] in held:
                    held[data["liability_id"]] = correct_liability(held[data["liability_id"]],
                                                                   entry)
            case "deadline.missed":
                due = parse_time(data["due"])
                if tenant not in self._judged or due > self._judged[tenant]:
                    self._judged[tenant] = due
        return {case_id}

    # --- settled cases set aside and brought back (bounded memory) ----------------------

    def _tenant(self, tenant: str) -> TenantFacts:
        facts = self._facts.get(tenant)
        if facts is None:
            view = TenantView(evaluator=self.context.evaluator)
            facts = self._facts[tenant] = TenantFacts(tenant, self.context.lateness, view)

            def bring_back(case_id: str) -> None:
                assert self._spill is not None, "a case was set aside with no spill"
                kept, beside = self._spill.take(tenant, case_id)
                # What derived entries changed beside it in this batch is the newer.
                beside = self._beside.pop((tenant, case_id), beside)
                facts.readmit(case_id, kept)
                self.brought_back += 1
                if beside["held"]:
                    self._liabilities.setdefault(tenant, {})[case_id] = beside["held"]
                if beside["assessed"]:
                    self._assessed.setdefault(tenant, {})[case_id] = Assessed.from_json(
                        beside["assessed"])

            facts.fault = facts.view.index.fault = bring_back
            if self.context.cache_cases is not None:
                facts.view.index.away = self._spill_of().away_facts(tenant)
        return facts

    def _look_ahead(self, entries: Sequence[EntryRecorded]) -> None:
        """Learn at once which of the batch's new facts no set-aside fact names."""
        if self.context.cache_cases is None:
            return
        inbound: dict[str, list[Any]] = {}
        for entry in entries:
            if entry.kind != "derived" and entry.tenant in self._facts:
                inbound.setdefault(entry.tenant, []).append(entry.envelope)
        for tenant, envelopes in inbound.items():
            self._facts[tenant].look_ahead(envelopes)

    def _held_aside(self, tenant: str, case_id: str) -> dict[str, Row]:
        """The liabilities of a set-aside case, from what is kept beside it."""
        kept = self._beside.get((tenant, case_id))
        if kept is None:
            kept = self._beside[(tenant, case_id)] = self._spill_of().beside(tenant, case_id)
        if kept["held"] is None:
            kept["held"] = {}
        held: dict[str, Row] = kept["held"]
        return held

    def _put_beside_back(self) -> None:
        for (tenant, case_id), kept in self._beside.items():
            self._spill_of().keep_beside(tenant, case_id, kept)
        self._beside = {}

    def _spill_of(self) -> CaseSpill:
        if self._spill is None:
            self._spill = CaseSpill(self.context.spill_dir)
        return self._spill

    def _trim(self) -> None:
        """Set aside settled cases, least recently used tenants and cases first, until
        at most `cache_cases` stay in memory."""
        capacity = self.context.cache_cases
        if capacity is None:
            return
        excess = self.cases_in_memory - capacity
        if excess <= 0:
            return
        spill = self._spill_of()
        for tenant, facts in self._facts.items():
            held = self._liabilities.get(tenant, {})
            assessed = self._assessed.get(tenant, {})
            for case_id in facts.resident():
                if excess <= 0:
                    return
                if not facts.settled(case_id):
                    continue
                try:
                    last = assessed.get(case_id)
                    spill.put(tenant, case_id, facts.cases[case_id], {
                        "held": held.get(case_id),
                        "assessed": None if last is None else last.to_json()})
                except (TypeError, ValueError):  # not representable: stays in memory
                    continue
                facts.set_aside(case_id)
                held.pop(case_id, None)
                assessed.pop(case_id, None)
                excess -= 1
