"""Quarantine: an entry a stage keeps failing on is set aside with its case, as a derived
ledger event, so that everything else (the tenant's other cases, other tenants) goes on.

A stage (`derivation`, `projection:<name>`) counts its failures per case; at the
threshold it records `ledger.entry.quarantined` (position, stage, case, error) and skips
that case from then on. `ledger quarantine retry` records `ledger.entry.released`; the
stage then takes the case in again, from the ledger, as if it had never failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.adapters.store import StoreReads
from ledger.application.recording import Ledger
from ledger.domain.catalog import ENTRY_QUARANTINED, ENTRY_RELEASED
from ledger.domain.envelope import content_digest
from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded
from ledger.domain.responsibility.derive import ENGINE_SOURCE
from ledger.domain.responsibility.verdicts import short_hash

DERIVATION = "derivation"
MAX_ERROR_CHARS = 500


def projection_stage(name: str) -> str:
    return f"projection:{name}"


def case_of(envelope: Mapping[str, Any], stream: str) -> str:
    """The case an entry belongs to: its subject, or its stream when it has none (org
    and definition facts)."""
    subject = envelope.get("subject")
    return subject if isinstance(subject, str) and subject else stream


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def _derived(tenant: str, type_: str, key: str, time: str, case_id: str,
             data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{type_}:{short_hash(key)}:{content_digest(data)[:16]}",
        "source": ENGINE_SOURCE,
        "type": type_,
        "time": time,
        "tenant": tenant,
        "subject": case_id,
        "data": data,
    }


def quarantined_event(
    entry: EntryRecorded, stage: str, case_id: str, error: str, attempts: int
) -> dict[str, Any]:
    """The quarantine of `entry` for `stage`: its time is the entry's, so the same failure
    is the same event whoever records it (a second record is a duplicate)."""
    data = {"position": entry.position, "stage": stage, "case_id": case_id,
            "event_id": entry.event_id, "attempts": attempts, "error": error}
    key = f"{stage}\x1f{case_id}\x1f{entry.position}"
    # The error text varies between runs (addresses, timings): not part of the id.
    ident = {"position": entry.position, "stage": stage, "case_id": case_id}
    event = _derived(entry.tenant, ENTRY_QUARANTINED, key, str(entry.envelope["time"]),
                     case_id, data)
    event["id"] = f"{ENTRY_QUARANTINED}:{short_hash(key)}:{content_digest(ident)[:16]}"
    return event


def released_event(q: Quarantined, time: str) -> dict[str, Any]:
    data = {"position": q.position, "stage": q.stage, "case_id": q.case_id}
    key = f"{q.stage}\x1f{q.case_id}\x1f{q.position}"
    return _derived(q.tenant, ENTRY_RELEASED, key, time, q.case_id, data)


@dataclass(frozen=True, slots=True)
class Quarantined:
    tenant: str
    stage: str
    case_id: str
    position: int
    event_id: str | None
    error: str
    #: Where the quarantine itself is in the tenant's ledger.
    recorded_at: int

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "stage": self.stage, "case_id": self.case_id,
                "position": self.position, "event_id": self.event_id, "error": self.error,
                "recorded_at": self.recorded_at}


@dataclass(slots=True)
class QuarantineBook:
    """The quarantines still in force, from a tenant's entries read in order."""

    open: dict[tuple[str, str], Quarantined] = field(default_factory=dict)

    def observe(self, entry: EntryRecorded) -> tuple[str, str, str] | None:
        """Take in an entry; returns (what, stage, case) for a quarantine or a release."""
        if entry.kind != ENTRY_KIND_DERIVED:
            return None
        type_ = entry.envelope.get("type")
        data = entry.envelope.get("data", {})
        if type_ == ENTRY_QUARANTINED:
            q = Quarantined(entry.tenant, data["stage"], data["case_id"], data["position"],
                            data.get("event_id"), data.get("error", ""), entry.position)
            self.open[(q.stage, q.case_id)] = q
            return ("quarantined", q.stage, q.case_id)
        if type_ == ENTRY_RELEASED:
            self.open.pop((data["stage"], data["case_id"]), None)
            return ("released", data["stage"], data["case_id"])
        return None

    def cases(self, stage: str) -> set[str]:
        return {case for (s, case) in self.open if s == stage}


def quarantines(entries: Iterable[EntryRecorded]) -> list[Quarantined]:
    """The quarantines in force after these entries (one tenant's, in order)."""
    book = QuarantineBook()
    for entry in entries:
        book.observe(entry)
    return sorted(book.open.values(), key=lambda q: q.recorded_at)


def open_quarantines(store: StoreReads, tenant: str) -> list[Quarantined]:
    """The tenant's quarantines not yet released (found by a search of its ledger for the
    two event types, not by reading it all)."""
    found = store.entries_mentioning(tenant, ENTRY_QUARANTINED)
    found += store.entries_mentioning(tenant, ENTRY_RELEASED)
    return quarantines(sorted(found, key=lambda e: e.position))


def release(
    ledger: Ledger, tenant: str, *, stage: str | None = None, case_id: str | None = None
) -> list[Quarantined]:
    """Hand quarantined cases back to their stage (after a fix): records a release for
    each open quarantine that matches; the stage then derives the case as if it had never
    failed. Returns what was released."""
    chosen = [q for q in open_quarantines(ledger.store, tenant)
              if (stage is None or q.stage == stage) and (case_id is None or q.case_id == case_id)]
    if chosen:
        now = ledger.clock().isoformat()
        ledger.record_derived([released_event(q, now) for q in chosen], None)
    return chosen
