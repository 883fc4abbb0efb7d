"""Roles over business time (docs/domain-rules.md, Power and responsibility): every role
definition, grant and revocation as recorded, so that who held a permission at a time,
and through which grant, is answered by the same rules the engine judges with
(ledger/domain/responsibility/permissions.py), whatever order the facts arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.events import EntryRecorded
from ledger.domain.responsibility.powers import ROLE_DEFINED, ROLE_GRANTED, ROLE_REVOKED
from projections.base import LedgerProjection
from projections.schema import Column, Table, ViewSchema, ints, text, utc_key
from projections.views import Changes

ROLE_FACTS = Table(
    "role_facts",
    columns=(*text("tenant", "source", "event_id", "type", "time", "time_utc", "role",
                   "employee_id", "subject", "traceparent"),
             *ints("position"), Column("data", "json")),
    key=("tenant", "source", "event_id"),
    indexes=(("tenant", "time_utc"),),
)
SCHEMA = ViewSchema("access_history", (ROLE_FACTS,))
TYPES = (ROLE_DEFINED, ROLE_GRANTED, ROLE_REVOKED)


class AccessHistoryProjection(LedgerProjection):
    name = "access_history"
    schema = SCHEMA

    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        for entry in entries:
            envelope = entry.envelope
            if entry.kind != "inbound" or envelope.get("type") not in TYPES:
                continue
            data = envelope["data"]
            changes.upsert("role_facts", {
                "tenant": entry.tenant, "source": entry.source, "event_id": entry.event_id,
                "type": envelope["type"], "time": envelope["time"],
                "time_utc": utc_key(envelope["time"]), "role": data.get("role"),
                "employee_id": data.get("employee_id"), "subject": envelope.get("subject"),
                "traceparent": envelope.get("traceparent"), "data": dict(data),
                "position": entry.position,
            })
