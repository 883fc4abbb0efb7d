"""What the ledger's derived events already say, case by case: what derivation compares a
new assessment with, so that only changed conclusions become new entries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.catalog import LIABILITY_ASSIGNED, LIABILITY_CORRECTED
from ledger.domain.envelope import content_digest


@dataclass(slots=True)
class CaseEmitted:
    """What the ledger's derived events already say about one case."""

    digests: dict[tuple[str, str], str] = field(default_factory=dict)
    liabilities: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Liabilities whose latest word in the ledger is a correction: its id's digest.
    corrected: dict[str, str] = field(default_factory=dict)
    #: Liabilities corrected at least once: the id's digest of their latest assignment.
    revisions: dict[str, str] = field(default_factory=dict)

    def observe(self, envelope: Mapping[str, Any]) -> None:
        type_, data = envelope["type"], envelope["data"]
        self.digests[key_of(envelope)] = _plain_digest(envelope)
        if type_ == LIABILITY_ASSIGNED:
            liability_id = data["liability_id"]
            self.liabilities[liability_id] = (data.get("claim", ""), data["employee_id"])
            # The liabilities view keeps the ledger's latest word: an assignment after a
            # correction puts the liability back in force, so it may be corrected again.
            self.corrected.pop(liability_id, None)
            if liability_id in self.revisions:
                self.revisions[liability_id] = digest_of(envelope)
        elif type_ == LIABILITY_CORRECTED:
            self.corrected[data["liability_id"]] = digest_of(envelope)
            self.revisions.setdefault(data["liability_id"], "")

    def correction(self, data: dict[str, Any]) -> dict[str, Any]:
        """A correction's data; a repeated one names the assignment it corrects, so that
        it is a new entry rather than a duplicate of the first."""
        revision = self.revisions.get(data["liability_id"])
        return {**data, "revision": revision} if revision else data


@dataclass(slots=True)
class Emitted:
    """What a tenant's derived events already say, case by case, rebuilt from the ledger
    on restart. A case set aside (evicted) is brought back by `fault` when next needed."""

    cases: dict[str, CaseEmitted] = field(default_factory=dict)
    _away: set[str] = field(default_factory=set)
    fault: Callable[[str], None] | None = None
    #: Takes note of a derived event about a set-aside case where the case is kept,
    #: leaving it set aside (None: the case is brought back to take note).
    note_away: Callable[[str, Mapping[str, Any]], None] | None = None

    def of(self, case_id: str) -> CaseEmitted:
        if case_id in self._away:
            assert self.fault is not None, "a case was set aside with nothing to bring it back"
            self.fault(case_id)
        found = self.cases.get(case_id)
        if found is None:
            found = self.cases[case_id] = CaseEmitted()
        return found

    def observe(self, envelope: Mapping[str, Any]) -> None:
        case_id = str(envelope.get("subject"))
        if case_id in self._away and self.note_away is not None:
            self.note_away(case_id, envelope)
            return
        self.of(case_id).observe(envelope)

    def set_aside(self, case_id: str) -> CaseEmitted:
        self._away.add(case_id)
        return self.cases.pop(case_id, None) or CaseEmitted()

    def readmit(self, case_id: str, emitted: CaseEmitted) -> None:
        self._away.discard(case_id)
        self.cases[case_id] = emitted


#: Fields that only make a repeated assignment or correction a new entry: the same
#: verdict with or without them.
REPEAT_FIELDS = ("reinstates", "revision")


def key_of(envelope: Mapping[str, Any]) -> tuple[str, str]:
    """(type, hashed key) of a derived event id `<type>:<hashed key>:<digest>`."""
    type_, key, _ = str(envelope["id"]).split(":")
    return (type_, key)


def digest_of(envelope: Mapping[str, Any]) -> str:
    return str(envelope["id"]).split(":")[2]


def _plain_digest(envelope: Mapping[str, Any]) -> str:
    """The digest the entry would have without REPEAT_FIELDS: what derive compares."""
    data = envelope["data"]
    if not any(name in data for name in REPEAT_FIELDS):
        return digest_of(envelope)
    return content_digest({k: v for k, v in data.items() if k not in REPEAT_FIELDS})[:16]
