"""The SQL the store writes itself, beside the library's, for SQLite and PostgreSQL.

Read-only statements are written once, in a portable form (`{table}` for the events
table, `?` placeholders, SQLite's `instr`), and each dialect runs them its way; a
statement only one backend can run is that dialect's own.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder
from psycopg import sql

#: Every stream holding an event of a topic.
STREAM_IDS = "SELECT DISTINCT originator_id FROM {table} WHERE topic = ?"

#: The rows of one stream and topic whose state holds some bytes, in version order.
ROWS_HOLDING = (
    "SELECT originator_id, originator_version, topic, state FROM {table} "
    "WHERE originator_id = ? AND topic = ? AND instr(state, ?) > 0 "
    "ORDER BY originator_version"
)

#: The streams of a topic's rows after a notification id, in commit order (`{id}`: the
#: dialect's notification id column), nothing decoded.
STREAMS_AFTER = (
    "SELECT {id} AS id, originator_id, originator_version FROM {table} WHERE {id} > ? "
    "AND topic = ? "
    "ORDER BY {id} LIMIT ?"
)

#: The notification id of a stream's last row, found by the stream's own index.
STREAM_LAST_ID = (
    "SELECT {id} AS id FROM {table} WHERE originator_id = ? "
    "ORDER BY originator_version DESC LIMIT 1"
)

_SQLITE_FIRST_VERSIONS = (
    "SELECT originator_id, originator_version, topic, state FROM {table} "
    "WHERE originator_version = 1 AND originator_id IN ({marks})"
)
_SQLITE_MAX_PARAMS = 500  # under SQLite's bound-parameter limit

_POSTGRES_FIRST_VERSIONS = (
    "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
    "WHERE originator_id = ANY(%s::uuid[]) AND originator_version = 1"
)

_POSTGRES_COPY = (
    "COPY {schema}.{table} (originator_id, originator_version, topic, state) "
    "FROM STDIN (FORMAT BINARY)"
)


class Dialect(Protocol):
    #: The events table's notification id column.
    notification_column: str

    def select(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows of a portable read-only statement on the events table."""

    def first_versions(self, ids: Collection[UUID]) -> list[StoredEvent]:
        """The first event of each of these streams that has one (receipts)."""


def dialect_of(recorder: ProcessRecorder) -> Dialect:
    if isinstance(recorder, PostgresProcessRecorder):
        return PostgresDialect(recorder)
    if isinstance(recorder, SQLiteProcessRecorder):
        return SQLiteDialect(recorder)
    raise TypeError(f"no raw queries for {type(recorder).__name__}")


def copy_events(recorder: PostgresProcessRecorder) -> sql.Composed:
    """The binary COPY of rows into the events table."""
    return sql.SQL(_POSTGRES_COPY).format(
        schema=sql.Identifier(recorder.datastore.schema),
        table=sql.Identifier(recorder.events_table_name),
    )


class PostgresDialect:
    notification_column = "notification_id"

    def __init__(self, recorder: PostgresProcessRecorder) -> None:
        self._recorder = recorder
        self._first_versions = sql.SQL(_POSTGRES_FIRST_VERSIONS).format(
            schema=sql.Identifier(recorder.datastore.schema),
            table=sql.Identifier(recorder.events_table_name),
        )

    def select(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        pg = statement.replace("?", "%s").replace(
            "instr(state, %s) > 0", "position(%s::bytea in state) > 0"
        )
        query = sql.SQL(pg).format(table=sql.Identifier(self._recorder.events_table_name))
        with self._recorder.datastore.transaction(commit=False) as curs:
            curs.execute(query, params)
            return list(curs.fetchall())

    def first_versions(self, ids: Collection[UUID]) -> list[StoredEvent]:
        """In ONE round trip (`originator_id = ANY(...)`).

        A batch of 2,000 keys looked up one query each spent most of its time waiting on
        the network; one query makes the lookup a small, constant part of a batch.
        """
        if not ids:
            return []
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            # The ids as one text array literal (hex without hyphens is valid uuid input):
            # psycopg dumps a list of UUIDs element by element in Python, ~5 us each.
            literal = "{" + ",".join([uuid.hex for uuid in ids]) + "}"
            curs.execute(self._first_versions, (literal,), prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class SQLiteDialect:
    notification_column = "rowid"

    def __init__(self, recorder: SQLiteProcessRecorder) -> None:
        self._recorder = recorder

    def select(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        lite = statement.format(table=f'"{self._recorder.events_table_name}"')
        lite_params = tuple(p.hex if isinstance(p, UUID) else p for p in params)
        with self._recorder.datastore.transaction(commit=False) as c:
            c.execute(lite, lite_params)
            return list(c.fetchall())

    def first_versions(self, ids: Collection[UUID]) -> list[StoredEvent]:
        ordered = list(ids)
        found: list[StoredEvent] = []
        for start in range(0, len(ordered), _SQLITE_MAX_PARAMS):
            chunk = ordered[start : start + _SQLITE_MAX_PARAMS]
            marks = ",".join("?" * len(chunk))
            rows = self.select(_SQLITE_FIRST_VERSIONS.replace("{marks}", marks), tuple(chunk))
            found += [StoredEvent(UUID(row["originator_id"]), 1, row["topic"], row["state"])
                      for row in rows]
        return found
