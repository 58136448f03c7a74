"""Fixed-window counters for client-key rate limits, shared by every worker.

Not a projection: a counter is operational state, not a fact worth keeping,
so it is written directly (one row per client key) and never replayed. The
increment is a single atomic upsert, so several gunicorn workers (or
machines on one PostgreSQL) count against the same window.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, case
from sqlalchemy.dialects import postgresql, sqlite

from sentrail.projections.schema import metadata

rate_windows = Table(
    'ingest_rate_windows', metadata,
    Column('key', String(64), primary_key=True),
    Column('window_start', BigInteger, nullable=False),
    Column('count', Integer, nullable=False),
)


def hit(conn: Connection, key: str, window_start: int, amount: int = 1) -> int:
    """Count `amount` events for `key` in the window starting at `window_start`
    (epoch seconds) and return the window's count so far. A newer window
    restarts the count; a late writer with an older window counts in the current one."""
    insert = postgresql.insert if conn.dialect.name == 'postgresql' else sqlite.insert
    statement = insert(rate_windows).values(key=key, window_start=window_start, count=amount)
    newer = statement.excluded.window_start > rate_windows.c.window_start
    statement = statement.on_conflict_do_update(
        index_elements=[rate_windows.c.key],
        set_={
            'count': case((newer, statement.excluded.count), else_=rate_windows.c.count + statement.excluded.count),
            'window_start': case((newer, statement.excluded.window_start), else_=rate_windows.c.window_start),
        },
    ).returning(rate_windows.c.count)
    return conn.execute(statement).scalar_one()
