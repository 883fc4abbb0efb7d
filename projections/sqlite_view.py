"""A view in the embedded SQLite file, beside the ledger's own tables."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg import sql

from projections.schema import Table, ViewSchema, checked_name, tracking_table_name
from projections.sql_view import SqlRowView


class SQLiteRowView(SQLiteTrackingRecorder, SqlRowView):
    """Statements as `?`-parameterised text, rows written with `executemany`."""

    is_postgres = False

    def __init__(self, datastore: SQLiteDatastore, *, schema: ViewSchema, store_name: str) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("views need the library's single-row tracking (the default)")
        # Set before the library calls construct_create_table_statements().
        self.schema = schema
        self.store_name = checked_name(store_name)
        self.tracking_table_name = tracking_table_name(store_name, schema.name)
        super().__init__(datastore)
        tracking = self._plain(sql.Identifier(self.tracking_table_name))
        # The library's statements name its fixed `tracking` table; ours is the view's own.
        self.insert_tracking_statement = (
            f"INSERT INTO {tracking} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {tracking}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {tracking} WHERE application_name=?"
        )
        self._setup(schema, store_name)

    @staticmethod
    def _plain(statement: sql.Composable) -> str:
        return statement.as_string(None)

    def construct_create_table_statements(self) -> list[str]:
        tracking = self._plain(sql.Identifier(self.tracking_table_name))
        statements = [
            f"CREATE TABLE IF NOT EXISTS {tracking} (application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID"
        ]
        return statements + [self._compile(s) for s in self._ddl()]

    def create_table(self) -> None:
        """Create the view's tables. (Not the library's version: its migration step for
        old multi-row tracking tables names the shared `tracking` table of the ledger.)"""
        with self.datastore.transaction(commit=True) as c:
            for statement in self.create_table_statements:
                c.execute(statement)
        self.tracking_table_exists = True
        self.tracking_migration_current = self.tracking_migration_previous = 1

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)

    def _qualified(self, name: str) -> sql.Identifier:
        return sql.Identifier(name)

    def _compile(self, statement: sql.Composable) -> Any:
        # psycopg renders placeholders as %s; SQLite's are ?. Our statements hold no other %.
        return statement.as_string(None).replace("%s", "?")

    def _in(self, column: sql.Identifier, values: list[Any]) -> tuple[sql.Composable, list[Any]]:
        if not values:
            return sql.SQL("1 = 0"), []
        marks = sql.SQL(", ").join(sql.Placeholder() * len(values))
        return sql.SQL("{} IN ({})").format(column, marks), [self._to_db_value(v) for v in values]

    def _ddl_type(self, type_: str) -> str:
        return {"text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "json": "TEXT"}[type_]

    def _rows_sql(self, t: Table) -> sql.Composable:
        return sql.SQL("VALUES ({})").format(
            sql.SQL(", ").join(sql.Placeholder() * len(t.column_names)))

    def _prune_sql(self, t: Table) -> sql.Composable:
        terms = [sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder()) for k in t.key]
        terms += [sql.SQL("{} = 0").format(sql.Identifier(c)) for c in t.counters]
        return sql.SQL("DELETE FROM {} WHERE ").format(self._ident(t.suffix)) + sql.SQL(
            " AND ").join(terms)

    def _write_rows(self, curs: Any, statement: Any, rows: list[tuple[Any, ...]]) -> None:
        curs.executemany(statement, rows)

    def drop_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for name in [*self.iter_tables(), self.tracking_table_name]:
                c.execute(self._plain(sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(name))))
