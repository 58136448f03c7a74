"""Rebuild speed: events per second for a full rebuild of a generated store,
against the rate of merely reading and decoding the notification log (the ceiling).

    .venv/bin/python bench/rebuild.py [--events 50000] [--database URL]

Without --database it builds a fresh SQLite file in a temporary directory.
On SQLite it also measures a floor: one pass over the log that parses each
entry's JSON and writes every row the read tables end with, once, through
driver SQL and none of the projection code: what a sequential rebuild costs
before any projection decodes or folds anything.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator

import orjson
from eventsourcing.persistence import Notification

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from sentrail.collector import collector_paused, tune_collector  # noqa: E402
from sentrail.config import Config  # noqa: E402
from sentrail.projections.runner import REBUILD_BATCH, REBUILD_CHUNKS, ProjectionRunner  # noqa: E402
from sentrail.projections.schema import metadata, tracking  # noqa: E402
from sentrail.services import Services  # noqa: E402
from tests.support.store import generate_store  # noqa: E402


def log_batches(runner: ProjectionRunner, size: int) -> Iterator[list[Notification]]:
    """The whole log in order, `size` entries at a time, as the runner reads it."""
    position, head = 0, runner.head()
    while position < head:
        notifications = runner.read(position, size, head, [])
        yield notifications
        position = notifications[-1].id


def read_rate(services: Services) -> tuple[int, float]:
    """Read and decode the whole log as the runner does, applying nothing."""
    count, started = 0, time.perf_counter()
    for notifications in log_batches(services.runner, services.runner.batch):
        for notification in notifications:
            services.app.mapper.to_domain_event(notification)
        count += len(notifications)
    return count, time.perf_counter() - started


def floor_rate(services: Services) -> tuple[int, float] | None:
    """Read the log and parse each entry's JSON (no domain objects), and write
    every row the read tables end with, once: the rows of the rebuilt tables
    are copied beforehand into scratch tables with the same columns and
    indexes, then inserted a share per rebuild transaction, the `events` rows
    with the transaction that read their entries. No rebuild can write less.
    SQLite only: None elsewhere."""
    runner, engine = services.runner, services.runner.engine
    if engine.dialect.name != 'sqlite':
        return None
    names = [table.name for table in metadata.sorted_tables if table is not tracking]
    with engine.begin() as conn:
        final = {name: [tuple(row) for row in conn.exec_driver_sql(f'SELECT * FROM {name}')] for name in names}
        for name in names:
            ddl = [sql for (sql,) in conn.exec_driver_sql(
                'SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC', (name,))]
            for sql in ddl:  # the table first, then its indexes, renamed
                sql = re.sub(rf'^CREATE TABLE "?{name}"?', f'CREATE TABLE floor_{name}', sql)
                conn.exec_driver_sql(re.sub(r'^CREATE (UNIQUE )?INDEX "?(\w+)"? ON "?(\w+)"?',
                                            r'CREATE \1INDEX floor_\2 ON floor_\3', sql))
    inserts = {name: f'INSERT INTO floor_{name} VALUES ({", ".join("?" * len(rows[0]))})'
               for name, rows in final.items() if rows}
    events = {row[0]: row for row in final.pop('events')}
    rest = [(name, rows) for name, rows in final.items() if rows]
    head, per_transaction = runner.head(), REBUILD_BATCH * REBUILD_CHUNKS
    transactions = max(1, -(-head // per_transaction))
    count, started = 0, time.perf_counter()
    for index, notifications in enumerate(log_batches(runner, per_transaction)):
        for notification in notifications:
            orjson.loads(notification.state)
        with engine.begin() as conn:
            ingested = [events[n.id] for n in notifications if n.id in events]
            if ingested:
                conn.exec_driver_sql(inserts['events'], ingested)
            for name, rows in rest:
                share = rows[len(rows) * index // transactions:len(rows) * (index + 1) // transactions]
                if share:
                    conn.exec_driver_sql(inserts[name], share)
        count += len(notifications)
    seconds = time.perf_counter() - started
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP TABLE floor_{name}')
    return count, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--events', type=int, default=50_000)
    parser.add_argument('--database', default=None)
    args = parser.parse_args()
    tune_collector()  # as `sentrail projections rebuild` does
    url = args.database or f'sqlite:///{tempfile.mkdtemp()}/rebuild.db'
    services = Services(Config(database_url=url))
    started = time.perf_counter()
    generate_store(services, events=args.events, catch_up=False)
    print(f'generated {args.events} ingested events ({services.runner.head()} log positions) '
          f'in {time.perf_counter() - started:.1f}s')
    count, read_seconds = read_rate(services)
    started = time.perf_counter()
    with collector_paused():  # as `sentrail projections rebuild` does
        services.runner.rebuild()
    rebuild_seconds = time.perf_counter() - started
    read = count / read_seconds
    rebuild = count / rebuild_seconds
    print(f'read+decode: {read:,.0f} events/s ({count} events in {read_seconds:.2f}s)')
    print(f'rebuild:     {rebuild:,.0f} events/s ({count} events in {rebuild_seconds:.2f}s), '
          f'{rebuild / read:.0%} of the read rate; ingested events alone: {args.events / rebuild_seconds:,.0f}/s')
    floor = floor_rate(services)
    if floor:
        print(f'floor:       {floor[0] / floor[1]:,.0f} events/s (reading and parsing the log, writing every final '
              f'read row once: {floor[1]:.2f}s)')


if __name__ == '__main__':
    main()
