"""Ledger entries and receipts as the library's mapper stores them, encoded directly.

The mapper copies `vars(event)`, pops the id and version and encodes the rest with
orjson; building that dict directly, in the same field order, gives the same bytes
(tests/unit/test_rows.py holds them to it, tests/integration/test_ledger_store.py
decodes them through the mapper) at a fraction of the cost, on the path every ingested
event takes. Valid only for a store that encodes with plain orjson, uncompressed and
unencrypted (`writes_plain_rows` checks).

Staging goes further for the append path: everything of an entry's and a receipt's
state except the recording time, the position and the hashes is encoded before the
writer takes its tenant's turn (`stage`), so in the turn each row is a concatenation
(`linked_rows`). orjson writes a dict's items in order with no whitespace, so the state
`{"timestamp": t, **middle, "prev_hash": p, "entry_hash": h}` is exactly
`{"timestamp":<t>,` + the inside of `orjson.dumps(middle)` + `,"prev_hash":"<p>",...}`.
An entry's received text, when it has one, is part of the middle (the mapper leaves it
out when there is none, so such rows are what they were before the field existed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.domain.events import EntryRecorded, ReceiptIssued, ledger_stream_id
from ledger.domain.recording import AppendPlan, Links

ENTRY_TOPIC = get_topic(EntryRecorded)
RECEIPT_TOPIC = get_topic(ReceiptIssued)

#: A row of the events table: originator id, version, topic, state.
Row = tuple[UUID, int, str, bytes]


def entry_row(event: EntryRecorded) -> StoredEvent:
    state = {
        "timestamp": event.timestamp,
        "tenant": event.tenant,
        "kind": event.kind,
        "stream": event.stream,
        "envelope": event.envelope,
        "digest": event.digest,
        **_received(event.received),
        "prev_hash": event.prev_hash,
        "entry_hash": event.entry_hash,
    }
    return StoredEvent(event.originator_id, event.originator_version, ENTRY_TOPIC,
                       orjson.dumps(state))


def receipt_row(event: ReceiptIssued) -> StoredEvent:
    state = {
        "timestamp": event.timestamp,
        "tenant": event.tenant,
        "source": event.source,
        "event_id": event.event_id,
        "digest": event.digest,
        "position": event.position,
    }
    return StoredEvent(event.originator_id, event.originator_version, RECEIPT_TOPIC,
                       orjson.dumps(state))


@dataclass(frozen=True, slots=True)
class StagedPlan:
    """A plan with the position-free middle of each entry's and receipt's state encoded."""

    plan: AppendPlan
    entries: list[bytes]
    receipts: list[bytes]


#: A plan as `EventStore.stage` leaves it for `EventStore.append_linked`: staged where
#: rows are written directly, as it was elsewhere.
Staged = StagedPlan | AppendPlan


def stage(plan: AppendPlan) -> StagedPlan:
    entries: list[bytes] = []
    receipts: list[bytes] = []
    for _, envelope in plan.appends:
        entries.append(orjson.dumps({
            "tenant": envelope.tenant,
            "kind": plan.kind,
            "stream": envelope.stream,
            "envelope": dict(envelope.received),
            "digest": envelope.digest,
            **_received(envelope.received_text),
        })[1:-1])
        receipts.append(orjson.dumps({
            "tenant": envelope.tenant,
            "source": envelope.source,
            "event_id": envelope.event_id,
            "digest": envelope.digest,
        })[1:-1])
    return StagedPlan(plan, entries, receipts)


_NO_TEXT: dict[str, str] = {}


def _received(text: str | None) -> dict[str, str]:
    """The received text as the state holds it: nothing when there is none."""
    return _NO_TEXT if text is None else {"received": text}


def linked_rows(staged: StagedPlan, links: Links, now: datetime) -> Iterator[Row]:
    """Each new entry's row and its receipt's, in position order (as `plan.events` gives
    the events): byte for byte what `entry_row` and `receipt_row` would store."""
    plan = staged.plan
    stream_id = ledger_stream_id(plan.tenant)
    opening = b'{"timestamp":' + orjson.dumps(now) + b","
    prev = links.start.entry_hash.encode()
    position = links.start.position
    for (_, envelope), entry, receipt, this in zip(
        plan.appends, staged.entries, staged.receipts, links.hashes, strict=True
    ):
        position += 1
        here = this.encode()
        yield (stream_id, position, ENTRY_TOPIC, b"".join((
            opening, entry, b',"prev_hash":"', prev, b'","entry_hash":"', here, b'"}')))
        yield (envelope.key.receipt_id, 1, RECEIPT_TOPIC, b"".join((
            opening, receipt, b',"position":', b"%d" % position, b"}")))
        prev = here
