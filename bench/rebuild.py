"""Rebuild speed: events per second for a full rebuild of a generated store,
against the rate of merely reading and decoding the notification log (the ceiling).

    .venv/bin/python bench/rebuild.py [--events 50000] [--database URL]

Without --database it builds a fresh SQLite file in a temporary directory.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from sentrail.collector import tune_collector  # noqa: E402
from sentrail.config import Config  # noqa: E402
from sentrail.services import Services  # noqa: E402
from tests.support.store import generate_store  # noqa: E402


def read_rate(services: Services) -> tuple[int, float]:
    """Read and decode the whole log as the runner does, applying nothing."""
    runner, position, count = services.runner, 0, 0
    head = runner.head()
    started = time.perf_counter()
    while position < head:
        notifications = runner.read(position, runner.batch, head, [])
        for notification in notifications:
            services.app.mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id
    return count, time.perf_counter() - started


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
    services.runner.rebuild()
    rebuild_seconds = time.perf_counter() - started
    read = count / read_seconds
    rebuild = count / rebuild_seconds
    print(f'read+decode: {read:,.0f} events/s ({count} events in {read_seconds:.2f}s)')
    print(f'rebuild:     {rebuild:,.0f} events/s ({count} events in {rebuild_seconds:.2f}s), '
          f'{rebuild / read:.0%} of the read rate; ingested events alone: {args.events / rebuild_seconds:,.0f}/s')


if __name__ == '__main__':
    main()
