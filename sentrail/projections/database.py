"""Engines for the read side, tuned so SQLite behaves under several processes."""
from __future__ import annotations

from sqlalchemy import Engine, create_engine, event


def _tune_sqlite(engine: Engine, begin: str, cache_kib: int = 2000) -> None:
    @event.listens_for(engine, 'connect')
    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA journal_mode=WAL')
        cursor.execute('PRAGMA synchronous=NORMAL')
        cursor.execute('PRAGMA busy_timeout=30000')
        cursor.execute('PRAGMA foreign_keys=OFF')
        cursor.execute(f'PRAGMA cache_size=-{cache_kib}')
        cursor.close()

    @event.listens_for(engine, 'begin')
    def on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql(begin)


# A projection batch rewrites the same index pages many times: with room for
# them all in the page cache they reach the WAL once, at commit.
WRITER_CACHE_KIB = 64 * 1024


def make_engines(database_url: str) -> tuple[Engine, Engine]:
    """(writer, reader). On SQLite the writer takes the write lock up front
    (BEGIN IMMEDIATE) so projection runners in different processes queue
    instead of failing on a lock upgrade; readers stay deferred."""
    if database_url.startswith('sqlite'):
        writer = create_engine(database_url)
        reader = create_engine(database_url)
        _tune_sqlite(writer, 'BEGIN IMMEDIATE', WRITER_CACHE_KIB)
        _tune_sqlite(reader, 'BEGIN')
        return writer, reader
    engine = create_engine(database_url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return engine, engine
