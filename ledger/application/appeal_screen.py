"""An appeal decided by its own appellant (or by the liable employee) is refused at ingest
when the appeal is already recorded (docs/domain-rules.md, Appeals): the one check on
input that consults the ledger. When the decision arrives first, the engine finds it of
no effect once the appeal meets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from ledger.adapters.validation import Problem
from ledger.domain.catalog import APPEAL_DECIDED, LIABILITY_APPEALED, LIABILITY_ASSIGNED
from ledger.domain.envelope import Envelope
from ledger.domain.events import EntryRecorded
from ledger.domain.responsibility.appeals import SELF_DECISION, self_decision

SELF_DECISION_RULE: Final = SELF_DECISION
#: Looks up a tenant's entries of one stream (EventStore.find_entries).
FindStream = Callable[[str, str], Sequence[EntryRecorded]]
#: Looks up a tenant's entries holding a string (EventStore.entries_mentioning).
FindMentions = Callable[[str, str], Sequence[EntryRecorded]]


def self_decisions(
    tenant: str,
    batch: Iterable[tuple[int, Envelope]],
    find_stream: FindStream,
    find_mentions: FindMentions,
) -> dict[int, Problem]:
    """The batch's decisions taken by an appellant or the liable employee of an appeal
    already recorded (earlier in the ledger or earlier in the batch), by item index."""
    refused: dict[int, Problem] = {}
    batch = list(batch)
    pending: dict[str, set[str]] = {}
    for _index, envelope in batch:
        if envelope.type == LIABILITY_APPEALED:
            pending.setdefault(str(envelope.data["liability_id"]), set()).add(
                str(envelope.data["actor_id"]))
    for index, envelope in batch:
        if envelope.type != APPEAL_DECIDED:
            continue
        liability_id = str(envelope.data["liability_id"])
        appellants = set(pending.get(liability_id, set()))
        for entry in find_stream(tenant, f"liability:{liability_id}"):
            if entry.envelope.get("type") == LIABILITY_APPEALED:
                appellants.add(str(entry.envelope["data"]["actor_id"]))
        if not appellants:
            continue
        decider = str(envelope.data["actor_id"])
        if self_decision(decider, appellants, _liable(tenant, liability_id, find_mentions)):
            refused[index] = Problem(
                envelope.event_id, "data.actor_id", SELF_DECISION_RULE,
                f"event {envelope.event_id!r}: data.actor_id: {decider} appealed liability "
                f"{liability_id} or is liable for it, and cannot decide the appeal "
                f"[rule {SELF_DECISION_RULE}]")
    return refused


def _liable(tenant: str, liability_id: str, find_mentions: FindMentions) -> str | None:
    for entry in find_mentions(tenant, liability_id):
        envelope = entry.envelope
        if envelope.get("type") == LIABILITY_ASSIGNED and \
                envelope["data"].get("liability_id") == liability_id:
            return str(envelope["data"]["employee_id"])
    return None
