"""Rows to and from the database: JSON columns as text, booleans as 0/1 where the backend
has no boolean type (SQLite); the same `Row` dicts on both sides of every backend."""

from __future__ import annotations

from typing import Any

import orjson

from projections.schema import Row, Table


def to_db_value(value: Any, *, native_bool: bool) -> Any:
    """A value compared in a condition."""
    if isinstance(value, bool) and not native_bool:
        return int(value)
    return value


def to_db(t: Table, row: Row, *, native_bool: bool) -> tuple[Any, ...]:
    """A row as the parameters of an upsert: every column of the table, in order."""
    out: list[Any] = []
    for name in t.column_names:
        value = row.get(name)
        kind = t.types[name]
        if value is not None and kind == "json":
            value = orjson.dumps(value).decode()
        elif value is not None and kind == "bool" and not native_bool:
            value = int(value)
        out.append(value)
    return tuple(out)


def from_db(t: Table, raw: Any) -> Row:
    """A fetched row (a mapping) with its JSON and boolean columns decoded."""
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
