"""The SQL both backends share: statements composed once with `psycopg.sql`, the views'
interface written on them; `projections.sqlite_view` and `projections.postgres_view`
say how to run them.

Identifiers go through `psycopg.sql.Identifier` on both backends (SQLite reads the same
double-quoted identifiers); names are checked against `[a-z][a-z0-9_]*` besides.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.persistence import Tracking
from psycopg import sql

from projections.row_codec import from_db, to_db, to_db_value
from projections.schema import Row, Table, ViewSchema, checked_name
from projections.views import OPS, AllOf, AnyOf, Changes, Cond, RowView, Term


class SqlRowView(RowView, ABC):
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

    @abstractmethod
    def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

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
            if term.op not in OPS:
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

    def _to_db_value(self, value: Any) -> Any:
        return to_db_value(value, native_bool=self.is_postgres)

    def _to_db(self, t: Table, row: Row) -> tuple[Any, ...]:
        return to_db(t, row, native_bool=self.is_postgres)

    # --- the interface ----------------------------------------------------------------

    def load(
        self, suffix: str, column: str | tuple[str, ...],
        wanted: Mapping[str, Collection[Any]],
    ) -> list[Row]:
        # One statement per chunk for every tenant of a batch: a live step brings a few
        # entries of many tenants, and a round trip per tenant was most of its cost.
        wanted_sets = {tenant: set(values) for tenant, values in wanted.items() if values}
        if not wanted_sets:
            return []
        t = self.schema.table(suffix)
        columns = (column,) if isinstance(column, str) else column
        tenants = sorted(wanted_sets)
        values = sorted(set().union(*wanted_sets.values()))
        size = max(1, self.chunk - len(tenants))
        rows: list[Row] = []
        with self._reading() as curs:
            for start in range(0, len(values), size):
                chunk = values[start : start + size]
                match = AnyOf(tuple(Cond(c, "in", chunk) for c in columns))
                where, params = self._where([Cond("tenant", "in", tenants), match])
                statement = sql.SQL("SELECT * FROM {} WHERE ").format(self._ident(suffix)) + where
                curs.execute(self._compile(statement), params)
                for found in (from_db(t, r) for r in curs.fetchall()):
                    mine = wanted_sets[found["tenant"]]  # a value of another tenant: not its
                    if any(found[c] in mine for c in columns):
                        rows.append(found)
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
            return [from_db(t, r) for r in curs.fetchall()]

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
