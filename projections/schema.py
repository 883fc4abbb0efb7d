"""What a read model's tables look like, written once for both backends.

A view declares its tables (columns, key, indexes); the SQLite and PostgreSQL recorders
(`projections.sqlite_view`, `projections.postgres_view`) turn the declaration into DDL and
statements. Every table leads with `tenant`, and every key starts with it, so no query can
be written without a tenant.

Times are stored twice: as recorded (the business time with its own offset, what the API
shows) and as a fixed-width UTC text (`*_utc`) that sorts and compares chronologically on
both backends; business dates (`day`) are the event's own local date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

ColumnType = Literal["text", "int", "bool", "json"]
Row = dict[str, Any]

#: Names we put into SQL; checked so an identifier can never carry anything but a name.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_IDENTIFIER = 63


def checked_name(name: str) -> str:
    if not _NAME.match(name) or len(name) > MAX_IDENTIFIER:
        raise ValueError(f"not a usable SQL name: {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType = "text"


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a view; `suffix` names it `<store>_view_<suffix>`."""

    suffix: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    #: Columns added with `+=` on conflict instead of overwritten (counters).
    counters: tuple[str, ...] = ()
    column_names: tuple[str, ...] = field(init=False)
    types: dict[str, ColumnType] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(c.name for c in self.columns)
        object.__setattr__(self, "column_names", names)
        object.__setattr__(self, "types", {c.name: c.type for c in self.columns})
        for name in names:
            checked_name(name)
        if self.key[0] != "tenant" or not set(self.key) <= set(names):
            raise ValueError(f"{self.suffix}: the key must start with tenant and name columns")
        if not set(self.counters) <= set(names):
            raise ValueError(f"{self.suffix}: unknown counter columns")

    def key_of(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[name] for name in self.key)


@dataclass(frozen=True, slots=True)
class ViewSchema:
    """The tables of one projection."""

    name: str
    tables: tuple[Table, ...]

    def table(self, suffix: str) -> Table:
        for table in self.tables:
            if table.suffix == suffix:
                return table
        raise KeyError(suffix)


def table_name(store_name: str, suffix: str) -> str:
    return checked_name(f"{store_name}_view_{suffix}")


def tracking_table_name(store_name: str, view: str) -> str:
    return checked_name(f"{store_name}_view_{view}_tracking")


def text(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "text") for n in names)


def ints(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "int") for n in names)


# --- times -------------------------------------------------------------------------------

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time without an offset: {value!r}")
    return moment


def utc_key(value: str | datetime | None) -> str | None:
    """A business time as fixed-width UTC text: sorts as the instants do."""
    if value is None:
        return None
    moment = parse_time(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime(UTC_FORMAT)


def local_day(value: str | None) -> str | None:
    """The business date of a time, in the offset the event was written with."""
    return None if value is None else parse_time(value).date().isoformat()


def day_key(value: date) -> str:
    return value.isoformat()
