"""Reads of several tenants' ledgers in one round trip (PostgreSQL).

A derivation round reads each woken tenant's new entries and, to append, each tenant's
head; one query per tenant made a round's cost grow with its tenants, mostly in waiting
on the network. Here each is one statement: a LATERAL join over the tenants' streams, so
every stream is still read by its primary key (a tenant's newest entry, or its entries
after a position), never scanned.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg import sql

from ledger.adapters.store.rows import ENTRY_TOPIC

_AFTER = (
    "SELECT e.originator_id, e.originator_version, e.topic, e.state "
    "FROM unnest(%s::uuid[], %s::int8[]) AS t(id, after) CROSS JOIN LATERAL ("
    "SELECT originator_id, originator_version, topic, state FROM {table} "
    "WHERE originator_id = t.id AND originator_version > t.after AND topic = %s "
    "ORDER BY originator_version LIMIT %s) AS e"
)
_LAST = (
    "SELECT e.originator_id, e.originator_version, e.topic, e.state "
    "FROM unnest(%s::uuid[]) AS t(id) CROSS JOIN LATERAL ("
    "SELECT originator_id, originator_version, topic, state FROM {table} "
    "WHERE originator_id = t.id ORDER BY originator_version DESC LIMIT 1) AS e"
)


class ManyStreams:
    """The two statements, bound to one store's table."""

    def __init__(self, recorder: PostgresProcessRecorder) -> None:
        self._recorder = recorder
        table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
        self._after = sql.SQL(_AFTER).format(table=table)
        self._last = sql.SQL(_LAST).format(table=table)

    def after(self, positions: dict[UUID, int], limit: int) -> list[StoredEvent]:
        """Up to `limit` entries of each stream after its position, in position order per
        stream."""
        ids = list(positions)
        return self._select(self._after, ([i.hex for i in ids], [positions[i] for i in ids],
                                          ENTRY_TOPIC, limit))

    def last(self, ids: Iterable[UUID]) -> list[StoredEvent]:
        """The newest event of each stream that has one."""
        return self._select(self._last, ([i.hex for i in ids],))

    def _select(self, statement: sql.Composed, params: tuple[object, ...]) -> list[StoredEvent]:
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [StoredEvent(originator_id=row["originator_id"],
                                originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"]))
                    for row in curs.fetchall()]
