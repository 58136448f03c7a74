"""Dialect upserts for counters and "latest" rows, so a projection writes each
row with one statement per batch, plus the few SQL helpers they need.

SQLAlchemy does not cache the compiled form of the dialects' INSERT ... ON
CONFLICT constructs, and its per-row parameter handling costs more than the
row's write: statements written per batch are therefore compiled once per
dialect (`Prepared`) and executed as plain driver SQL with many rows at a time.
"""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, Connection, Table, bindparam, cast, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

# (dialect name, the `excluded` row) -> {column: new value} for a conflicting row
Merge = Callable[[str, Any], dict[str, Any]]

_CHUNK = 2000  # rows per existence query: well under SQLite's 32766 parameters


def least(dialect: str, a: Any, b: Any) -> ColumnElement[Any]:
    """min(a, b): SQLite's two-argument min(), PostgreSQL's LEAST()."""
    return func.least(a, b) if dialect == 'postgresql' else func.min(a, b)


def greatest(dialect: str, a: Any, b: Any) -> ColumnElement[Any]:
    return func.greatest(a, b) if dialect == 'postgresql' else func.max(a, b)


def truncate(dialect: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A number cut to an integer toward zero, as Python's int() does (PostgreSQL's
    cast alone would round)."""
    if dialect == 'postgresql':
        value = func.trunc(value)
    return cast(value, BigInteger)


def ensure_ln(conn: Connection) -> None:
    """SQLite has ln() only when built with its math functions; without them
    Python's is registered on the connection, once."""
    if conn.dialect.name != 'sqlite' or 'sentrail_ln' in conn.connection.info:
        return
    raw = conn.connection.driver_connection
    try:
        raw.execute('SELECT ln(1)').close()
    except sqlite3.OperationalError:
        raw.create_function('ln', 1, math.log, deterministic=True)
    conn.connection.info['sentrail_ln'] = True


class Prepared:
    """A Core statement compiled once per dialect and shape of its rows, then
    run as driver SQL with many rows at a time. Values go to the driver as they
    are: JSON columns take JSON text."""

    def __init__(self, build: Callable[[str, tuple[str, ...]], Any]) -> None:
        self.build = build
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, dict, Callable | None]] = {}

    def run(self, conn: Connection, rows: Iterable[dict]) -> None:
        rows = list(rows)
        if not rows:
            return
        sql, fixed, values = self._sql(conn, tuple(rows[0]))
        if fixed:
            rows = [{**fixed, **row} for row in rows]
        conn.exec_driver_sql(sql, rows if values is None else list(map(values, rows)))

    def _sql(self, conn: Connection, columns: tuple[str, ...]) -> tuple[str, dict, Callable | None]:
        """The statement's text in the driver's parameter style, the values of
        its own literals, and (for a positional style) what takes a row's values
        in the parameters' order."""
        key = (conn.dialect.name, columns)
        if key not in self._compiled:
            compiled = self.build(conn.dialect.name, columns).compile(dialect=conn.dialect,
                                                                      column_keys=list(columns))
            fixed = {name: value for name, value in compiled.params.items() if name not in columns}
            order = compiled.positiontup
            values = None if order is None else (itemgetter(*order) if len(order) > 1
                                                 else lambda row, name=order[0]: (row[name],))
            self._compiled[key] = (compiled.string, fixed, values)
        return self._compiled[key]


class Upsert(Prepared):
    """INSERT rows into `table`; a row whose `keys` already exist gets what
    `merge` sets (or is left alone when `merge` is None). Rows passed together
    must have distinct keys and the same columns."""

    def __init__(self, table: Table, keys: Sequence[str], merge: Merge | None = None) -> None:
        super().__init__(self._statement)
        self.table = table
        self.keys = tuple(keys)
        self.merge = merge

    def _statement(self, dialect: str, columns: tuple[str, ...]) -> Any:
        statement = (postgresql.insert if dialect == 'postgresql' else sqlite.insert)(self.table)
        if self.merge is None:
            return statement.on_conflict_do_nothing(index_elements=list(self.keys))
        return statement.on_conflict_do_update(index_elements=list(self.keys),
                                               set_=self.merge(dialect, statement.excluded))


class RowUpdate(Prepared):
    """UPDATE one row of `table` by its `key` column, setting the given columns:
    the per-event writes, compiled once per set of columns. JSON values are
    written as JSON text."""

    def __init__(self, table: Table, key: str = 'id') -> None:
        super().__init__(self._statement)
        self.table = table
        self.key = key
        self.json = {column.name for column in table.columns if isinstance(column.type, JSON)}

    def _statement(self, dialect: str, columns: tuple[str, ...]) -> Any:
        """Parameters are prefixed: a bind named after a column is reserved to SQLAlchemy."""
        table = self.table
        return (update(table).where(table.c[self.key] == bindparam('row_key'))
                .values({name[2:]: bindparam(name, type_=table.c[name[2:]].type)
                         for name in columns if name != 'row_key'}))

    def set(self, conn: Connection, key: str, values: dict[str, Any]) -> None:
        row = {f'v_{name}': orjson.dumps(value).decode() if name in self.json else value
               for name, value in values.items()}
        self.run(conn, [{'row_key': key, **row}])


class Counting(Upsert):
    """The usual counter row, keyed by its primary key: add the count, keep the
    earliest first and the latest last sighting. Rows are folded in memory the
    same way first (`add`), so a batch writes each row once."""

    def __init__(self, table: Table, count: str = 'times_seen', first: str | None = 'first_seen',
                 last: str | None = 'last_seen', keys: Sequence[str] | None = None) -> None:
        super().__init__(table, keys or [column.name for column in table.primary_key], self._merge)
        self.count, self.first, self.last = count, first, last

    def _merge(self, dialect: str, excluded: Any) -> dict[str, Any]:
        table = self.table
        values = {self.count: table.c[self.count] + excluded[self.count]}
        if self.first:
            values[self.first] = least(dialect, table.c[self.first], excluded[self.first])
        if self.last:
            values[self.last] = greatest(dialect, table.c[self.last], excluded[self.last])
        return values

    def add(self, pending: dict[tuple, dict], row: dict, key: tuple | None = None) -> None:
        """Fold `row` (a fresh dict, which `pending` may keep) into `pending`
        (primary key -> row) as the database would. `key` is the row's primary
        key when the caller has it at hand."""
        key = key or tuple(map(row.__getitem__, self.keys))
        current = pending.get(key)
        if current is None:
            pending[key] = row
            return
        current[self.count] += row[self.count]
        if self.first and row[self.first] < current[self.first]:
            current[self.first] = row[self.first]
        if self.last and row[self.last] > current[self.last]:
            current[self.last] = row[self.last]


# The one-call form, for projections that write a row now and then.

_SHAPES: dict[tuple, Upsert] = {}


def counter_merge(conn: Connection, table: Table, count: str = 'times_seen', first: str | None = 'first_seen',
                  last: str | None = 'last_seen') -> tuple:
    """The counter merge of `Counting`, to pass to `upsert`."""
    return ('counter', table, count, first, last)


def upsert(conn: Connection, table: Table, rows: Sequence[dict], keys: Sequence[str],
           merge: tuple | None = None) -> None:
    """Upsert `rows` in one statement: `merge` is None (keep existing rows) or a
    `counter_merge`. The compiled statement is kept for the next call."""
    shape = (table, tuple(keys), merge)
    if shape not in _SHAPES:
        if merge is None:
            _SHAPES[shape] = Upsert(table, keys)
        else:
            _, _, count, first, last = merge
            _SHAPES[shape] = Counting(table, count, first, last, keys=keys)
    _SHAPES[shape].run(conn, rows)


def existing(conn: Connection, table: Table, keys: Iterable[tuple]) -> set[tuple]:
    """Which of these primary keys have a row: what a batch must know before it
    adds to a count of distinct values. Driver SQL with a row-value IN list:
    SQLAlchemy's expanding form costs more to build than to run."""
    keys = list(keys)
    quote = conn.dialect.identifier_preparer.quote
    columns = ', '.join(quote(column.name) for column in table.primary_key)
    mark = '?' if conn.dialect.paramstyle == 'qmark' else '%s'
    row = '(' + ', '.join([mark] * len(table.primary_key)) + ')'
    found: set[tuple] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        sql = f'SELECT {columns} FROM {quote(table.name)} WHERE ({columns}) IN (VALUES {", ".join([row] * len(chunk))})'
        found.update(map(tuple, conn.exec_driver_sql(sql, tuple(value for key in chunk for value in key)).fetchall()))
    return found
