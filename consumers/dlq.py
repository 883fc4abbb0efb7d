"""Dead letters as a queryable list, and their replay through the ledger after a fix.

The store is the source of truth (the DLQ topic is its published copy): `ledger dlq list`
reads `DeadLetterRecorded` / `DeadLetterResolved` events from the store's notification
log, `ledger dlq replay` re-submits open dead letters' original bytes through
`Ledger.record` (so they meet exactly the same validation and idempotency as on first
arrival) and marks those that are now in the ledger as resolved.

Replay is idempotent: an event the first replay recorded is a `duplicate` the second
time (the ledger's idempotency key), and a resolved dead letter is not replayed again
unless asked (`include_resolved`); resolution is version 2 of the dead letter's stream,
so two replays racing cannot resolve one dead letter twice. A letter is read back as it
was on arrival (consumers/messages.py: structured or binary mode), and one that still
cannot be read is reported with its true rule (`invalid_json` stays `invalid_json`).

`ledger dlq resolve` closes the letters a later event made moot: the producer sent the
same event again, properly, and the ledger recorded it (status `superseded`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from consumers.dead_letters import (
    DEAD_LETTER_TOPIC,
    RESOLVED_TOPIC,
    DeadLetterRecorded,
    DeadLetterResolved,
    resolution_of,
)
from consumers.messages import CE_PREFIX, InboundMessage, decode_message, received_text
from ledger.adapters.store import AppendConflict
from ledger.application.recording import Ledger
from ledger.domain.envelope import IdempotencyKey
from ledger.domain.recording import Reason, Status

#: Rules of letters that hold no message to re-submit (a batch the client could not
#: decode): replay reports them as they are.
NOT_REPLAYABLE = frozenset({"undecodable_batch"})


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    notification_id: int
    letter: DeadLetterRecorded
    resolution: DeadLetterResolved | None

    @property
    def status(self) -> str:
        return "open" if self.resolution is None else f"resolved ({self.resolution.status})"


def iter_dead_letters(ledger: Ledger, page: int = 1000) -> Iterator[DeadLetterView]:
    """Every dead letter in the order it was recorded, with its resolution if any."""
    store = ledger.store
    letters: list[tuple[int, DeadLetterRecorded]] = []
    resolved: dict[object, DeadLetterResolved] = {}
    after = 0
    while True:
        batch = store.notifications([DEAD_LETTER_TOPIC, RESOLVED_TOPIC], after=after, limit=page)
        for notification_id, event in batch:
            if isinstance(event, DeadLetterRecorded):
                letters.append((notification_id, event))
            elif isinstance(event, DeadLetterResolved):
                resolved[event.originator_id] = event
        if len(batch) < page:
            break
        after = batch[-1][0]
    for notification_id, letter in letters:
        yield DeadLetterView(notification_id, letter, resolved.get(letter.originator_id))


def list_dead_letters(
    ledger: Ledger, status: str = "all", rule: str | None = None, limit: int | None = None
) -> list[DeadLetterView]:
    """Dead letters filtered by status (`open`, `resolved`, `all`) and reason rule."""
    out: list[DeadLetterView] = []
    for view in iter_dead_letters(ledger):
        if status == "open" and view.resolution is not None:
            continue
        if status == "resolved" and view.resolution is None:
            continue
        if rule is not None and rule not in view.letter.rules:
            continue
        out.append(view)
        if limit is not None and len(out) >= limit:
            break
    return out


@dataclass(slots=True)
class ReplayReport:
    replayed: int = 0
    recorded: int = 0
    duplicate: int = 0
    still_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "replayed": self.replayed,
            "recorded": self.recorded,
            "duplicate": self.duplicate,
            "still_rejected": self.still_rejected,
            "reasons": dict(self.reasons),
        }


def replay_dead_letters(
    ledger: Ledger,
    *,
    rule: str | None = None,
    include_resolved: bool = False,
    batch_size: int = 500,
) -> ReplayReport:
    """Re-submit open dead letters' original values through the ledger, in their order.

    What the fix lets in is recorded; an event meanwhile recorded another way is a
    duplicate; both resolve the dead letter. What is still refused stays open, and no new
    dead letter is made for it (it already is one).
    """
    views = list_dead_letters(ledger, "all" if include_resolved else "open", rule)
    report = ReplayReport()
    for start in range(0, len(views), batch_size):
        chunk: list[DeadLetterView] = []
        for view in views[start : start + batch_size]:
            problem = _unreadable(view.letter)
            if problem is None:
                chunk.append(view)
                continue
            report.replayed += 1
            report.still_rejected += 1
            report.reasons[problem.rule] = report.reasons.get(problem.rule, 0) + 1
        outcomes = ledger.record([envelope_of(v.letter)[0] for v in chunk],
                                 texts=[received_text(_message(v.letter)) for v in chunk])
        resolutions = []
        for view, outcome in zip(chunk, outcomes, strict=True):
            report.replayed += 1
            if outcome.status is Status.REJECTED:
                report.still_rejected += 1
                for reason in outcome.reasons:
                    report.reasons[reason.rule] = report.reasons.get(reason.rule, 0) + 1
                continue
            if outcome.status is Status.RECORDED:
                report.recorded += 1
            else:
                report.duplicate += 1
            if view.resolution is None:
                resolutions.append(
                    resolution_of(view.letter, outcome.status.value, ledger.clock(),
                                  outcome.position, event_id=outcome.event_id,
                                  tenant=outcome.tenant)
                )
        _resolve(ledger, resolutions)
    return report


def envelope_of(letter: DeadLetterRecorded) -> tuple[object, Reason | None]:
    """The letter's message read as on arrival: its envelope, or why there is none."""
    return decode_message(_message(letter))


def _message(letter: DeadLetterRecorded) -> InboundMessage:
    """The message a letter keeps, as it was read."""
    return InboundMessage(letter.source_topic, letter.source_partition,
                          letter.source_offset, letter.key, letter.value,
                          tuple(letter.original_headers))


def _unreadable(letter: DeadLetterRecorded) -> Reason | None:
    for reason in letter.reasons:
        if reason["rule"] in NOT_REPLAYABLE:
            return Reason(reason["rule"], reason["field"], reason["message"])
    return envelope_of(letter)[1]


@dataclass(slots=True)
class ResolveReport:
    checked: int = 0
    superseded: int = 0
    #: Open letters naming no (tenant, source, id): nothing can make them moot.
    unidentified: int = 0


def resolve_superseded(ledger: Ledger, batch_size: int = 500) -> ResolveReport:
    """Close open dead letters whose event the ledger recorded meanwhile (the same
    tenant, source and id arrived again, e.g. resent properly): status `superseded`,
    with the position of the entry that made them moot."""
    report = ResolveReport()
    views = list_dead_letters(ledger, "open")
    for start in range(0, len(views), batch_size):
        named: dict[IdempotencyKey, list[DeadLetterView]] = {}
        for view in views[start : start + batch_size]:
            report.checked += 1
            key = _key_of(view.letter)
            if key is None:
                report.unidentified += 1
            else:
                named.setdefault(key, []).append(view)
        receipts = ledger.store.receipts(named)
        resolutions = [
            resolution_of(view.letter, "superseded", ledger.clock(), receipt.position,
                          event_id=key.event_id, tenant=key.tenant)
            for key, receipt in receipts.items() for view in named[key]
        ]
        report.superseded += len(resolutions)
        _resolve(ledger, resolutions)
    return report


def _key_of(letter: DeadLetterRecorded) -> IdempotencyKey | None:
    """The (tenant, source, id) a letter names: in its envelope, or, when that cannot be
    read, in its binary-mode headers."""
    envelope, _problem = envelope_of(letter)
    if not isinstance(envelope, dict):
        headers = dict(letter.original_headers)
        envelope = {name[len(CE_PREFIX):]: value.decode("utf-8", errors="replace")
                    for name, value in headers.items()
                    if name.startswith(CE_PREFIX) and value is not None}
    tenant, source, event_id = envelope.get("tenant"), envelope.get("source"), envelope.get("id")
    if not all(isinstance(part, str) and part for part in (tenant, source, event_id)):
        return None
    return IdempotencyKey(str(tenant), str(source), str(event_id))


def _resolve(ledger: Ledger, resolutions: list[DeadLetterResolved]) -> None:
    """Mark dead letters resolved; one a racing replay resolved first is skipped."""
    if not resolutions:
        return
    try:
        ledger.store.append(resolutions)
    except AppendConflict:
        for resolution in resolutions:
            try:
                ledger.store.append([resolution])
            except AppendConflict:
                continue


def views_by_source(views: list[DeadLetterView]) -> dict[tuple[str, int, int], DeadLetterView]:
    return {
        (v.letter.source_topic, v.letter.source_partition, v.letter.source_offset): v
        for v in views
    }


def as_row(view: DeadLetterView) -> dict[str, object]:
    """A dead letter as one JSON object (`ledger dlq list --json`)."""
    letter = view.letter
    value = letter.value or b""
    return {
        "notification_id": view.notification_id,
        "id": str(letter.originator_id),
        "source": {"topic": letter.source_topic, "partition": letter.source_partition,
                   "offset": letter.source_offset, "last_offset": letter.source_last_offset},
        "headers": [[name, None if value is None else value.decode("utf-8", errors="replace")]
                    for name, value in letter.original_headers],
        "key": (letter.key or b"").decode("utf-8", errors="replace"),
        "event_id": letter.event_id,
        "tenant": letter.tenant,
        "reasons": letter.reasons,
        "recorded_at": letter.timestamp.isoformat(),
        "status": view.status,
        "value": value.decode("utf-8", errors="replace"),
        "resolution": None if view.resolution is None else {
            "status": view.resolution.status,
            "position": view.resolution.position,
            "at": view.resolution.timestamp.isoformat(),
        },
    }

