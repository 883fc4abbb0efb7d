"""Materialised views on the eventsourcing library's tracking recorders.

Each view is a `SQLiteTrackingRecorder` or `PostgresTrackingRecorder` with its own tables
(declared in `projections.schema`) and its own tracking table, in the same database as the
ledger. `write(changes, tracking)` puts a batch's rows and the read position in ONE
transaction (`_insert_tracking(curs, tracking)` beside the row statements), so after a
crash a view holds exactly the entries up to its recorded position: never half a batch,
never a batch twice. The library's single-row tracking refuses a position that is not
ahead of the recorded one, which also stops two runners from applying the same batch.

Identifiers go through `psycopg.sql.Identifier` on both backends (SQLite reads the same
double-quoted identifiers); names are checked against `[a-z][a-z0-9_]*` besides.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg import sql
from psycopg.adapt import PyFormat

from projections.schema import (
    Row,
    Table,
    ViewSchema,
    checked_name,
    table_name,
    tracking_table_name,
)

Op = Literal["=", "<>", "<", "<=", ">", ">=", "in"]
_OPS: frozenset[str] = frozenset({"=", "<>", "<", "<=", ">", ">=", "in"})


@dataclass(frozen=True, slots=True)
class Cond:
    column: str
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class AnyOf:
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    terms: tuple[Term, ...]


Term = Cond | AnyOf | AllOf


def eq(column: str, value: Any) -> Cond:
    return Cond(column, "=", value)


@dataclass(slots=True)
class TableChanges:
    """Rows to write in one table: whole rows by key (last one wins), counter deltas."""

    upserts: dict[tuple[Any, ...], Row] = field(default_factory=dict)
    increments: dict[tuple[Any, ...], Row] = field(default_factory=dict)


class Changes:
    """Everything a batch changes in a view; written with the batch's tracking record."""

    def __init__(self, schema: ViewSchema) -> None:
        self.schema = schema
        self.tables: dict[str, TableChanges] = {t.suffix: TableChanges() for t in schema.tables}

    def upsert(self, suffix: str, row: Row) -> None:
        table = self.schema.table(suffix)
        self.tables[suffix].upserts[table.key_of(row)] = row

    def increment(self, suffix: str, key: Row, deltas: dict[str, int]) -> None:
        table = self.schema.table(suffix)
        at = table.key_of(key)
        current = self.tables[suffix].increments.setdefault(
            at, {**key, **{c: 0 for c in table.counters}}
        )
        for name, delta in deltas.items():
            current[name] += delta

    def __len__(self) -> int:
        return sum(len(t.upserts) + len(t.increments) for t in self.tables.values())


class RowView(TrackingRecorder, ABC):
    """What projections write through and queries read through (either backend)."""

    schema: ViewSchema
    store_name: str

    @property
    def application_name(self) -> str:
        """Tracking records name the ledger application followed, as the library's
        projection runner does: the view's own tracking table says whose positions."""
        return self.store_name

    def position(self) -> int:
        return self.max_tracking_id(self.application_name) or 0

    def table(self, suffix: str) -> str:
        return table_name(self.store_name, suffix)

    @abstractmethod
    def load(
        self, suffix: str, tenant: str, column: str | tuple[str, ...], values: Collection[Any]
    ) -> list[Row]:
        """Rows of one tenant whose `column` (any of the columns) is one of `values`."""

    @abstractmethod
    def write(self, changes: Changes, tracking: Tracking | None) -> None:
        """The batch's rows and its read position, in one transaction."""

    @abstractmethod
    def select(
        self, suffix: str, where: Sequence[Term], *, order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[Row]:
        """Rows matching every term, in `order_by` order."""

    @abstractmethod
    def sums(
        self, suffix: str, where: Sequence[Term], group_by: Sequence[str],
        columns: Sequence[str],
    ) -> list[Row]:
        """SUM(columns) per group of rows matching every term."""

    @abstractmethod
    def dump(self) -> dict[str, list[Row]]:
        """Every row of every table, in key order: rebuilds are compared with these."""

    @abstractmethod
    def drop_tables(self) -> None:
        """Drop the view's tables and its tracking table (a rebuild starts from nothing)."""


class _SqlRowView(RowView, ABC):
    """The statements, written once; the subclasses say how to run them."""

    is_postgres: bool = False
    #: Values per IN (...) list; SQLite limits bound parameters, PostgreSQL takes an array.
    chunk: int = 500

    def _setup(self, schema: ViewSchema, store_name: str) -> None:
        self.schema = schema
        self.store_name = checked_name(store_name)
        self._upsert: dict[str, Any] = {}
        self._increment: dict[str, Any] = {}
        self._prune: dict[str, Any] = {}
        for t in schema.tables:
            self._upsert[t.suffix] = self._compile(self._upsert_sql(t, counters=False))
            if t.counters:
                self._increment[t.suffix] = self._compile(self._upsert_sql(t, counters=True))
                self._prune[t.suffix] = self._compile(self._prune_sql(t))

    # --- hooks --------------------------------------------------------------------------

    @abstractmethod
    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]: ...

    def _reading(self) -> AbstractContextManager[Any]:
        """A cursor for one read-only statement (a single statement sees one snapshot)."""
        return self._transaction(commit=False)

    @abstractmethod
    def _qualified(self, name: str) -> sql.Identifier: ...

    @abstractmethod
    def _compile(self, statement: sql.Composable) -> Any: ...

    @abstractmethod
    def _in(self, column: sql.Identifier, values: list[Any]) -> tuple[sql.Composable, list[Any]]:
        ...

    @abstractmethod
    def _ddl_type(self, type_: str) -> str: ...

    # --- statements -------------------------------------------------------------------

    def _ident(self, suffix: str) -> sql.Identifier:
        return self._qualified(self.table(suffix))

    def _upsert_sql(self, t: Table, *, counters: bool) -> sql.Composable:
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in t.column_names)
        key = sql.SQL(", ").join(sql.Identifier(c) for c in t.key)
        target = sql.Identifier(self.table(t.suffix))
        updates: list[sql.Composable] = []
        for name in t.column_names:
            if name in t.key:
                continue
            column = sql.Identifier(name)
            if counters and name in t.counters:
                updates.append(sql.SQL("{c} = {t}.{c} + excluded.{c}").format(c=column, t=target))
            elif not counters or name not in t.counters:
                updates.append(sql.SQL("{c} = excluded.{c}").format(c=column))
        action = (sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(updates)) if updates \
            else sql.SQL("DO NOTHING")
        return sql.SQL("INSERT INTO {table} AS {target} ({columns}) {rows} "
                       "ON CONFLICT ({key}) {action}").format(
            table=self._ident(t.suffix), target=target, columns=columns,
            rows=self._rows_sql(t), key=key, action=action)

    @abstractmethod
    def _rows_sql(self, t: Table) -> sql.Composable:
        """Where an upsert's rows come from: one row of parameters, or arrays of them."""

    @abstractmethod
    def _prune_sql(self, t: Table) -> sql.Composable:
        """Deletes counter rows that fell back to all zeros: whether a row was ever touched
        depends on batch boundaries, and a rebuild must give the very same rows."""

    @abstractmethod
    def _write_rows(self, curs: Any, statement: Any, rows: list[tuple[Any, ...]]) -> None:
        """Run `statement` for every row (all of a table's columns, or its key)."""

    def _ddl(self) -> list[sql.Composed]:
        statements: list[sql.Composed] = []
        for t in self.schema.tables:
            columns = [
                sql.SQL("{} {}{}").format(
                    sql.Identifier(c.name), sql.SQL(self._ddl_type(c.type)),
                    sql.SQL(" NOT NULL") if c.name in t.key else sql.SQL(""))
                for c in t.columns
            ]
            columns.append(sql.SQL("PRIMARY KEY ({})").format(
                sql.SQL(", ").join(sql.Identifier(k) for k in t.key)))
            statements.append(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                self._ident(t.suffix), sql.SQL(", ").join(columns)))
            for number, index in enumerate(t.indexes, start=1):
                name = checked_name(f"{self.table(t.suffix)}_ix{number}")
                statements.append(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                    sql.Identifier(name), self._ident(t.suffix),
                    sql.SQL(", ").join(sql.Identifier(c) for c in index)))
        return statements

    def _where(self, where: Sequence[Term]) -> tuple[sql.Composable, list[Any]]:
        if not where:
            return sql.SQL("TRUE" if self.is_postgres else "1 = 1"), []
        return self._render(AllOf(tuple(where)))

    def _render(self, term: Term) -> tuple[sql.Composable, list[Any]]:
        if isinstance(term, Cond):
            if term.op not in _OPS:
                raise ValueError(f"operator {term.op!r}")
            column = sql.Identifier(checked_name(term.column))
            if term.op == "in":
                return self._in(column, list(term.value))
            if term.value is None:
                null = {"=": "{} IS NULL", "<>": "{} IS NOT NULL"}[term.op]
                return sql.SQL(null).format(column), []
            return sql.SQL("{} " + term.op + " {}").format(column, sql.Placeholder()), \
                [self._to_db_value(term.value)]
        parts: list[sql.Composable] = []
        params: list[Any] = []
        for inner in term.terms:
            rendered, inner_params = self._render(inner)
            parts.append(sql.SQL("(") + rendered + sql.SQL(")"))
            params += inner_params
        joiner = " AND " if isinstance(term, AllOf) else " OR "
        return sql.SQL(joiner).join(parts), params

    # --- values -------------------------------------------------------------------------

    def _to_db_value(self, value: Any) -> Any:
        if isinstance(value, bool) and not self.is_postgres:
            return int(value)
        return value

    def _to_db(self, t: Table, row: Row) -> tuple[Any, ...]:
        out: list[Any] = []
        for name in t.column_names:
            value = row.get(name)
            kind = t.types[name]
            if value is not None and kind == "json":
                value = orjson.dumps(value).decode()
            elif value is not None and kind == "bool" and not self.is_postgres:
                value = int(value)
            out.append(value)
        return tuple(out)

    def _from_db(self, t: Table, raw: Any) -> Row:
        row = dict(raw)
        for name in t.column_names:
            value = row.get(name)
            if value is None:
                continue
            kind = t.types[name]
            if kind == "json":
                row[name] = orjson.loads(value)
            elif kind == "bool":
                row[name] = bool(value)
        return row

    # --- the interface ----------------------------------------------------------------

    def load(
        self, suffix: str, tenant: str, column: str | tuple[str, ...], values: Collection[Any]
    ) -> list[Row]:
        wanted = sorted(set(values))
        if not wanted:
            return []
        t = self.schema.table(suffix)
        columns = (column,) if isinstance(column, str) else column
        rows: list[Row] = []
        with self._transaction(commit=False) as curs:
            for start in range(0, len(wanted), self.chunk):
                chunk = wanted[start : start + self.chunk]
                match = AnyOf(tuple(Cond(c, "in", chunk) for c in columns))
                where, params = self._where([eq("tenant", tenant), match])
                statement = sql.SQL("SELECT * FROM {} WHERE ").format(self._ident(suffix)) + where
                curs.execute(self._compile(statement), params)
                rows += [self._from_db(t, r) for r in curs.fetchall()]
        return rows

    def write(self, changes: Changes, tracking: Tracking | None) -> None:
        with self._transaction(commit=True) as curs:
            if tracking is not None:
                self._insert_tracking(curs, tracking)
            for t in self.schema.tables:
                table_changes = changes.tables[t.suffix]
                if table_changes.upserts:
                    self._write_rows(curs, self._upsert[t.suffix],
                                     [self._to_db(t, r) for r in table_changes.upserts.values()])
                deltas = [r for r in table_changes.increments.values()
                          if any(r[c] for c in t.counters)]
                if deltas:
                    self._write_rows(curs, self._increment[t.suffix],
                                     [self._to_db(t, r) for r in deltas])
                    self._write_rows(curs, self._prune[t.suffix], [t.key_of(r) for r in deltas])

    @abstractmethod
    def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

    def select(
        self, suffix: str, where: Sequence[Term], *, order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[Row]:
        t = self.schema.table(suffix)
        condition, params = self._where(where)
        statement = sql.SQL("SELECT * FROM {} WHERE ").format(self._ident(suffix)) + condition
        if order_by:
            statement += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(
                sql.Identifier(checked_name(c)) for c in order_by)
        if limit is not None:
            statement += sql.SQL(" LIMIT {}").format(sql.Placeholder())
            params.append(int(limit))
        with self._reading() as curs:
            curs.execute(self._compile(statement), params)
            return [self._from_db(t, r) for r in curs.fetchall()]

    def sums(
        self, suffix: str, where: Sequence[Term], group_by: Sequence[str],
        columns: Sequence[str],
    ) -> list[Row]:
        condition, params = self._where(where)
        groups = [sql.Identifier(checked_name(c)) for c in group_by]
        totals = [sql.SQL("SUM({c}) AS {c}").format(c=sql.Identifier(checked_name(c)))
                  for c in columns]
        statement = sql.SQL("SELECT {} FROM {} WHERE ").format(
            sql.SQL(", ").join([*groups, *totals]), self._ident(suffix)) + condition
        statement += sql.SQL(" GROUP BY ") + sql.SQL(", ").join(groups)
        with self._reading() as curs:
            curs.execute(self._compile(statement), params)
            return [{k: (int(v) if k in columns and v is not None else v)
                     for k, v in dict(r).items()} for r in curs.fetchall()]

    def dump(self) -> dict[str, list[Row]]:
        return {t.suffix: self.select(t.suffix, [], order_by=t.key) for t in self.schema.tables}

    def iter_tables(self) -> Iterator[str]:
        yield from (self.table(t.suffix) for t in self.schema.tables)


class SQLiteRowView(SQLiteTrackingRecorder, _SqlRowView):
    """A view in the embedded SQLite file, beside the ledger's own tables."""

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


class PostgresRowView(PostgresTrackingRecorder, _SqlRowView):
    """A view in the ledger's PostgreSQL database, tables named after the store."""

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
