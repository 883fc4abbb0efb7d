"""What projections write through and queries read through: a view's interface.

A view is one of the library's tracking recorders with its own tables (declared in
`projections.schema`). `write(changes, tracking)` puts a batch's rows and the read position
in ONE transaction, so after a crash a view holds exactly the entries up to its recorded
position: never half a batch, never a batch twice. The library's single-row tracking
refuses a position that is not ahead of the recorded one, which also stops two runners
from applying the same batch.

Here: the conditions queries are written in (`Cond`, `AnyOf`, `AllOf`), a batch's row
changes (`Changes`) and the interface (`RowView`). The SQL both backends share is in
`projections.sql_view`, each backend's own in `projections.sqlite_view` and
`projections.postgres_view`. Nothing outside this package uses any of them: readers go
through `projections.reads.ReadModels`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eventsourcing.persistence import Tracking, TrackingRecorder

from projections.schema import Row, ViewSchema, table_name

Op = Literal["=", "<>", "<", "<=", ">", ">=", "in"]
OPS: frozenset[str] = frozenset({"=", "<>", "<", "<=", ">", ">=", "in"})


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
        self, suffix: str, column: str | tuple[str, ...],
        wanted: Mapping[str, Collection[Any]],
    ) -> list[Row]:
        """Rows whose `column` (any of the columns) is one of the values wanted of their
        tenant: {tenant: values}."""

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
