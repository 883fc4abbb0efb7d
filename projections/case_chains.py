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

On start the runner replays the ledger up to the view's position into memory (`warm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger.domain.events import EntryRecorded
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


class CaseChainsProjection(LedgerProjection):
    name = "case_chains"
    schema = SCHEMA
    stateful = True

    def __init__(self, view: RowView, context: ProjectionContext | None = None) -> None:
        super().__init__(view, context)
        self._facts: dict[str, TenantFacts] = {}
        self._liabilities: dict[str, dict[str, dict[str, Row]]] = {}
        self._judged: dict[str, datetime] = {}

    def reset(self) -> None:
        super().reset()
        self._facts, self._liabilities, self._judged = {}, {}, {}

    def forget_tenant(self, tenant: str) -> None:
        self._facts.pop(tenant, None)
        self._liabilities.pop(tenant, None)
        self._judged.pop(tenant, None)

    def warm(self, entries: Sequence[EntryRecorded]) -> None:
        for entry in entries:
            self._take(entry)

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        touched: dict[str, dict[str, int]] = {}
        for entry in entries:
            for case_id in self._take(entry):
                touched.setdefault(entry.tenant, {})[case_id] = entry.position
        for tenant, cases in touched.items():
            facts = self._facts.get(tenant)
            if facts is None:
                continue
            watermark = self._watermark(tenant, facts)
            for case_id in sorted(cases):
                if case_id not in facts.cases:
                    continue
                changes.upsert("case_chains", self._row(tenant, facts, case_id, watermark,
                                                        cases[case_id]))

    def _row(self, tenant: str, facts: TenantFacts, case_id: str, watermark: datetime | None,
             position: int) -> Row:
        held = self._liabilities.get(tenant, {}).get(case_id, {})
        liabilities = [public_liability(r) for r in
                       sorted(held.values(), key=lambda r: (r["position"], r["liability_id"]))]
        document = chain_document(facts.assess(case_id, watermark), liabilities)
        source = document["responsibility_source"] or {}
        return {"tenant": tenant, "case_id": case_id, "document": document,
                "source_event_id": source.get("event_id"),
                "source_employee_id": source.get("employee_id"),
                "source_reason": source.get("reason"), "links": len(document["links"]),
                "liabilities": len(liabilities), "position": position}

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
            facts = self._facts.get(tenant)
            if facts is None:
                view = TenantView(evaluator=self.context.evaluator)
                facts = self._facts[tenant] = TenantFacts(tenant, self.context.lateness, view)
            return facts.add(Fact.from_envelope(envelope))
        data = envelope["data"]
        case_id = data.get("case_id") or envelope.get("subject")
        if not isinstance(case_id, str):
            return set()
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
