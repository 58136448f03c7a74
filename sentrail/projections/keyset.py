"""Keyset pagination with Sentry 8.22's `value:offset:is_prev` cursors.

The cursor names the sort key of a page edge and how many rows sharing that key
were already shown, so every page is an index seek plus a short tie offset: page
10,000 costs what page 1 costs, and walking forward never skips or repeats a row.
"""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Row
from sqlalchemy.sql import ColumnElement

SORT_KEY = 'sort_key'

_MIN_VALUE = -(2**63)
_MAX_VALUE = 2**63 - 1
# Leaves headroom for `offset + limit` in the next cursor and `offset + 1` in SQL.
_MAX_OFFSET = 2**62


class InvalidCursor(ValueError):
    """A `cursor` query parameter that is not `value:offset:is_prev`."""


@dataclass(frozen=True)
class Cursor:
    """A page edge; `has_results` is never serialized, it only feeds the Link header."""

    value: int
    offset: int
    is_prev: bool
    has_results: bool = False

    def __str__(self) -> str:
        return f'{self.value}:{self.offset}:{int(self.is_prev)}'

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """Read a client's cursor; None or '' means the first page.

        The value is parsed as Sentry does (a float truncated to an integer), but
        integers are read exactly first so that cursors we issue round-trip even
        beyond 2**53.
        """
        if not text:
            return None
        parts = text.split(':')
        if len(parts) != 3:
            raise InvalidCursor(text)
        try:
            value = _parse_value(parts[0])
            offset = int(parts[1])
            is_prev = int(parts[2])
        except (ValueError, OverflowError):
            raise InvalidCursor(text) from None
        if not _MIN_VALUE <= value <= _MAX_VALUE or not 0 <= offset <= _MAX_OFFSET:
            raise InvalidCursor(text)
        if is_prev not in (0, 1):
            raise InvalidCursor(text)
        return cls(value, offset, bool(is_prev))


def _parse_value(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return int(float(text))


@dataclass
class Page:
    rows: list[Row[Any]]
    next: Cursor
    prev: Cursor


def paginate(
    conn: Connection,
    stmt: Select[Any],
    key: ColumnElement[Any],
    *,
    descending: bool,
    cursor: Cursor | None,
    limit: int,
    tiebreak: ColumnElement[Any] | None = None,
) -> Page:
    """Return one page of `stmt` ordered by `key`, with Sentry 8.22's cursors.

    `stmt` is a filtered, unordered Select; this function owns ORDER BY, OFFSET
    and LIMIT. `key` must be a non-null integer expression usable in WHERE (a
    column such as epoch milliseconds, a stored count or an id; not an
    aggregate). It is appended to the selected columns as `sort_key`, so every
    returned row carries one extra trailing column. `tiebreak` (usually the
    primary key) fixes the order of rows sharing a key across requests, which
    is what makes the cursor's tie offset skip exactly the rows already shown.

    Previous cursors are Sentry's: exact when keys are distinct, approximate
    around ties, and meant for polling: the first page's previous cursor later
    returns the rows with a larger key (smaller for ascending lists) than the
    first row then seen (the ones nearest it when more than `limit` arrived),
    in list order. That page's `prev` cursor polls on, `has_results` true while
    more than `limit` such rows remain; an empty poll returns its own cursor.
    """
    if limit < 1:
        raise ValueError('limit must be at least 1')
    cursor = cursor or Cursor(0, 0, False)
    ascending = descending == cursor.is_prev
    rows = _fetch(conn, stmt, key, tiebreak, cursor, ascending, limit)
    keys = [int(row[-1]) for row in rows]
    next_cursor = _next_cursor(cursor, keys, limit, descending)
    prev_cursor = _prev_cursor(cursor, keys, limit, descending)
    if cursor.is_prev:
        rows = rows[1:] if prev_cursor.has_results else rows
    else:
        rows = rows[:limit]
    return Page(rows, next_cursor, prev_cursor)


def count_hits(conn: Connection, stmt: Select[Any], max_hits: int = 1000) -> int:
    """Count matches for X-Hits without reading past `max_hits` rows."""
    capped = stmt.order_by(None).limit(max_hits).subquery()
    return conn.execute(select(func.count()).select_from(capped)).scalar_one()


def _fetch(
    conn: Connection,
    stmt: Select[Any],
    key: ColumnElement[Any],
    tiebreak: ColumnElement[Any] | None,
    cursor: Cursor,
    ascending: bool,
    limit: int,
) -> list[Row[Any]]:
    """Read limit + 1 rows so the extra one tells whether another page exists."""
    query = stmt.add_columns(key.label(SORT_KEY)).order_by(None)
    if cursor.value:
        # Inclusive: rows equal to the value are re-read and the offset skips
        # the ones already shown.
        query = query.where(key >= cursor.value if ascending else key <= cursor.value)
    order = [key] if tiebreak is None else [key, tiebreak]
    query = query.order_by(*(column.asc() if ascending else column.desc() for column in order))
    # A previous cursor's value is the first row already seen: step over it.
    skip = cursor.offset + 1 if cursor.is_prev and cursor.value else cursor.offset
    rows = list(conn.execute(query.offset(skip).limit(limit + 1)))
    if cursor.is_prev:
        rows.reverse()
    return rows


def _next_cursor(cursor: Cursor, keys: list[int], limit: int, descending: bool) -> Cursor:
    value = cursor.value or (keys[0] if keys else 0)
    if cursor.is_prev:
        return Cursor(value, 0, False, True)
    if not keys:
        return Cursor(value, cursor.offset, False, False)
    has_next = len(keys) > limit
    next_value = keys[-1]
    if next_value == value:
        return Cursor(next_value, cursor.offset + limit, False, has_next)
    shown = keys[:-1] if has_next else keys
    if descending:
        ties = _leading(reversed(shown), lambda k: k <= next_value)
    else:
        ties = _leading(reversed(shown), lambda k: k >= next_value)
    return Cursor(next_value, ties, False, has_next)


def _prev_cursor(cursor: Cursor, keys: list[int], limit: int, descending: bool) -> Cursor:
    if cursor.is_prev:
        has_prev = len(keys) > limit
    else:
        has_prev = bool(cursor.value or cursor.offset)
    # On a previous page with more before it, keys[0] is the extra row.
    first = 1 if cursor.is_prev and has_prev else 0
    if keys:
        prev_value = keys[first]
    else:
        # Deliberately unlike Sentry, which answers 0 here: an empty poll must
        # hand back a cursor that polls the same spot again, not the list's tail.
        prev_value = cursor.value if cursor.is_prev else 0
    if not (cursor.is_prev and keys):
        return Cursor(prev_value, cursor.offset if cursor.is_prev else 0, True, has_prev)
    if prev_value == cursor.value:
        return Cursor(prev_value, cursor.offset + limit, True, has_prev)
    after_first = keys[first + 1:]
    if descending:
        ties = _leading(after_first, lambda k: k >= prev_value)
    else:
        ties = _leading(after_first, lambda k: k <= prev_value)
    return Cursor(prev_value, ties, True, has_prev)


def _leading(keys: Iterable[int], matches: Callable[[int], bool]) -> int:
    count = 0
    for k in keys:
        if not matches(k):
            break
        count += 1
    return count
