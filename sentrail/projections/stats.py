"""Event counts in time buckets, per issue and per project, and the series the
stats endpoints answer with.

Issues count by the event's own time in hourly buckets (their 24h and 30d
graphs); projects count by arrival (Sentry's `received` stat) in 10-second and
hourly buckets, the finest rollups Sentry keeps. Days are summed from hours.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, func, select

from sentrail.projections.schema import metadata
from sentrail.projections.upsert import Counting

MINUTE, HOUR, DAY = 60, 3600, 86400
PROJECT_ROLLUPS = (10, HOUR)  # seconds

group_counts = Table(
    'group_counts', metadata,
    Column('group_id', String(36), primary_key=True),
    Column('bucket', BigInteger, primary_key=True),  # start of the hour, epoch ms
    Column('count', BigInteger, nullable=False),
)

project_counts = Table(
    'project_counts', metadata,
    Column('project_id', String(36), primary_key=True),
    Column('rollup', Integer, primary_key=True),  # seconds
    Column('bucket', BigInteger, primary_key=True),  # start of the rollup, epoch ms
    Column('count', BigInteger, nullable=False),
)


GROUP_COUNTS = Counting(group_counts, count='count', first=None, last=None)
PROJECT_COUNTS = Counting(project_counts, count='count', first=None, last=None)


def bucket_start(epoch_ms: int, rollup: int) -> int:
    return epoch_ms - epoch_ms % (rollup * 1000)


def add_group_count(pending: dict, group_id: str, seen_ms: int) -> None:
    GROUP_COUNTS.add(pending, {'group_id': group_id, 'bucket': bucket_start(seen_ms, HOUR), 'count': 1})


def add_project_count(pending: dict, project_id: str, received_ms: int) -> None:
    for rollup in PROJECT_ROLLUPS:
        PROJECT_COUNTS.add(pending, {'project_id': project_id, 'rollup': rollup,
                                     'bucket': bucket_start(received_ms, rollup), 'count': 1})


def range_buckets(since: float, until: float, rollup: int) -> list[int]:
    """Sentry's series for a range: from `until` back in steps of the rollup while
    not before `since`, each moment aligned down to the rollup (epoch seconds)."""
    end = int(until) // rollup * rollup
    count = max(0, int((until - since) // rollup) + 1)
    return [end - rollup * i for i in reversed(range(count))]


def last_buckets(now: float, rollup: int, count: int) -> list[int]:
    """The `count` buckets ending with the current one, as an issue's graphs show them."""
    end = int(now) // rollup * rollup
    return [end - rollup * i for i in reversed(range(count))]


def series(conn: Connection, source: str, owners: Iterable[str], buckets: list[int],
           rollup: int) -> dict[str, list[list[int]]]:
    """[[ts, count], ...] over `buckets` for each owner (a group id for source
    'group', a project id for 'project'); owners without events get zeros."""
    owners = list(dict.fromkeys(owners))
    found = _sums(conn, source, owners, buckets, rollup) if owners and buckets else {}
    return {owner: [[ts, found.get((owner, ts * 1000), 0)] for ts in buckets] for owner in owners}


def _sums(conn: Connection, source: str, owners: list[str], buckets: list[int], rollup: int) -> dict:
    if source == 'group':
        table, owner = group_counts, group_counts.c.group_id
        where = []
    else:
        table, owner = project_counts, project_counts.c.project_id
        where = [project_counts.c.rollup == (10 if rollup < HOUR else HOUR)]
    size = rollup * 1000
    bucket = (table.c.bucket // size * size).label('at')
    query = (select(owner, bucket, func.sum(table.c.count))
             .where(owner.in_(owners), table.c.bucket >= buckets[0] * 1000,
                    table.c.bucket < (buckets[-1] + rollup) * 1000, *where)
             .group_by(owner, bucket))
    return {(row[0], int(row[1])): int(row[2]) for row in conn.execute(query)}
