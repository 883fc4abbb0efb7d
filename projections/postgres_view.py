"""A view in the ledger's PostgreSQL database, tables named after the store."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import sql
from psycopg.adapt import PyFormat

from projections.schema import Table, ViewSchema, tracking_table_name
from projections.sql_view import SqlRowView


class PostgresRowView(PostgresTrackingRecorder, SqlRowView):
    """Statements composed as they are, rows written as one array per column."""

    is_postgres = True
    chunk = 100_000

    def __init__(
        self, datastore: PostgresDatastore, *, schema: ViewSchema, store_name: str
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name(store_name,
                                                                            schema.name))
        self._setup(schema, store_name)
        for name in self.iter_tables():
            self.check_identifier_length(name)
        self.sql_create_statements += self._ddl()

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)

    def _reading(self) -> AbstractContextManager[Any]:
        # The pool's connections autocommit: one round trip per query, where a transaction
        # costs three (BEGIN, the query, ROLLBACK); measured by bench/bench_query_latency.py.
        return self.datastore.cursor()

    def _qualified(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.datastore.schema, name)

    def _compile(self, statement: sql.Composable) -> Any:
        return statement

    def _in(self, column: sql.Identifier, values: list[Any]) -> tuple[sql.Composable, list[Any]]:
        return sql.SQL("{} = ANY({})").format(column, sql.Placeholder()), [values]

    def _ddl_type(self, type_: str) -> str:
        return {"text": "TEXT", "int": "BIGINT", "bool": "BOOLEAN", "json": "TEXT"}[type_]

    def _arrays(self, t: Table, columns: Sequence[str]) -> sql.Composable:
        return sql.SQL("unnest({})").format(sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(format=PyFormat.BINARY),
                                       sql.SQL(self._ddl_type(t.types[c])))
            for c in columns))

    def _rows_sql(self, t: Table) -> sql.Composable:
        # One statement per table and batch, its rows as one array per column: a batch of
        # thousands of rows costs one round trip, not thousands.
        return sql.SQL("SELECT * FROM ") + self._arrays(t, t.column_names)

    def _prune_sql(self, t: Table) -> sql.Composable:
        keys = sql.SQL(", ").join(sql.Identifier(k) for k in t.key)
        terms = [sql.SQL("{t}.{c} = k.{c}").format(t=sql.Identifier("t"), c=sql.Identifier(c))
                 for c in t.key]
        terms += [sql.SQL("t.{} = 0").format(sql.Identifier(c)) for c in t.counters]
        return sql.SQL("DELETE FROM {} AS t USING {} AS k ({}) WHERE ").format(
            self._ident(t.suffix), self._arrays(t, t.key), keys) + sql.SQL(" AND ").join(terms)

    def _write_rows(self, curs: Any, statement: Any, rows: list[tuple[Any, ...]]) -> None:
        curs.execute(statement, [list(column) for column in zip(*rows, strict=True)])

    def drop_tables(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for name in [*self.iter_tables(), self.tracking_table_name]:
                curs.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._qualified(name)))
