"""Tag values seen per issue and per project, with their counts and sightings.

The issue's rows are written by the IssueProjection and the project's by the
EventProjection; this module holds their tables, the rows an event adds, and
the queries the tag endpoints run. An issue's `user` values are its users:
their number is Sentry's userCount.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Index, Select, String, Table, func, select
from sqlalchemy.engine import Row

from sentrail.domain.ingest_normalize import TAG_KEY_MAX, TAG_VALUE_MAX
from sentrail.projections.schema import metadata
from sentrail.projections.upsert import Counting, existing

USER_KEY = 'user'

group_tag_values = Table(
    'group_tag_values', metadata,
    Column('group_id', String(36), primary_key=True),
    Column('key', String(TAG_KEY_MAX), primary_key=True),
    Column('value', String(TAG_VALUE_MAX), primary_key=True),
    Column('project_id', String(36), nullable=False),
    Column('times_seen', BigInteger, nullable=False),
    Column('first_seen', BigInteger, nullable=False),
    Column('last_seen', BigInteger, nullable=False),
    # Issue search: the issues of a project that carry a tag value.
    Index('ix_group_tag_values_project_key_value', 'project_id', 'key', 'value'),
)

project_tag_values = Table(
    'project_tag_values', metadata,
    Column('project_id', String(36), primary_key=True),
    Column('key', String(TAG_KEY_MAX), primary_key=True),
    Column('value', String(TAG_VALUE_MAX), primary_key=True),
    Column('times_seen', BigInteger, nullable=False),
    Column('first_seen', BigInteger, nullable=False),
    Column('last_seen', BigInteger, nullable=False),
)

# How many distinct values each key has in a project, kept as values first appear
# so the tag list never counts them.
project_tag_keys = Table(
    'project_tag_keys', metadata,
    Column('project_id', String(36), primary_key=True),
    Column('key', String(TAG_KEY_MAX), primary_key=True),
    Column('values_seen', BigInteger, nullable=False),
)


GROUP_TAGS = Counting(group_tag_values)
PROJECT_TAGS = Counting(project_tag_values)
PROJECT_KEYS = Counting(project_tag_keys, count='values_seen', first=None, last=None)


def add_tags(counting: Counting, pending: dict, tags: list, seen_ms: int, owner: dict) -> None:
    """Fold an event's tags (a normalized event carries each key once) into
    pending counter rows; `owner` holds the columns before key and value in the
    table's primary key, plus any others. A row already pending is counted in
    place: most of a batch's tag values were seen earlier in it."""
    prefix = tuple(owner[name] for name in counting.keys[:-2])
    for key, value in tags:
        row = pending.get((*prefix, key, value))
        if row is None:
            pending[(*prefix, key, value)] = {**owner, 'key': key, 'value': value, 'times_seen': 1,
                                              'first_seen': seen_ms, 'last_seen': seen_ms}
            continue
        row['times_seen'] += 1
        if seen_ms < row['first_seen']:
            row['first_seen'] = seen_ms
        elif seen_ms > row['last_seen']:
            row['last_seen'] = seen_ms


def new_users(conn: Connection, pending: dict) -> Counter:
    """How many users each issue gains with these pending group tag rows, read before they are written."""
    users = [key for key in pending if key[1] == USER_KEY]
    known = existing(conn, group_tag_values, users) if users else set()
    return Counter(group_id for group_id, _, value in users if (group_id, USER_KEY, value) not in known)


def write_project_tags(conn: Connection, pending: dict) -> None:
    """Write pending project tag rows; each value not seen before adds to its key's count."""
    known = existing(conn, project_tag_values, pending)
    fresh = Counter((project_id, key) for project_id, key, value in pending if (project_id, key, value) not in known)
    PROJECT_TAGS.run(conn, pending.values())
    PROJECT_KEYS.run(conn, [{'project_id': project_id, 'key': key, 'values_seen': n}
                            for (project_id, key), n in fresh.items()])


def project_keys(conn: Connection, project_id: str) -> list[Row]:
    return conn.execute(select(project_tag_keys).where(project_tag_keys.c.project_id == project_id)
                        .order_by(project_tag_keys.c.key)).all()


def project_key(conn: Connection, project_id: str, key: str) -> Row | None:
    return conn.execute(select(project_tag_keys).where(project_tag_keys.c.project_id == project_id,
                                                       project_tag_keys.c.key == key)).first()


def project_values_query(project_id: str, key: str, contains: str | None = None) -> Select:
    query = select(project_tag_values).where(project_tag_values.c.project_id == project_id,
                                             project_tag_values.c.key == key)
    if contains:
        query = query.where(project_tag_values.c.value.icontains(contains, autoescape=True))
    return query


def group_keys(conn: Connection, group_id: str, key: str | None = None) -> list[Row]:
    """(key, unique_values, total_values) of an issue's tags, by key."""
    table = group_tag_values
    query = (select(table.c.key, func.count().label('unique_values'),
                    func.sum(table.c.times_seen).label('total_values'))
             .where(table.c.group_id == group_id).group_by(table.c.key).order_by(table.c.key))
    if key is not None:
        query = query.where(table.c.key == key)
    return conn.execute(query).all()


def group_top_values(conn: Connection, group_id: str, limit: int, key: str | None = None) -> dict[str, list[Row]]:
    """The most frequent values of each of an issue's keys (or of one key), most frequent first."""
    table = group_tag_values
    rank = func.row_number().over(partition_by=table.c.key,
                                  order_by=(table.c.times_seen.desc(), table.c.value)).label('rank')
    ranked = select(table, rank).where(table.c.group_id == group_id)
    if key is not None:
        ranked = ranked.where(table.c.key == key)
    ranked = ranked.subquery()
    rows = conn.execute(select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.key, ranked.c.rank)).all()
    top: dict[str, list[Row]] = {}
    for row in rows:
        top.setdefault(row.key, []).append(row)
    return top


def group_values_query(group_id: str, key: str) -> Select:
    return select(group_tag_values).where(group_tag_values.c.group_id == group_id, group_tag_values.c.key == key)


# GroupTagValue list orders: Sentry's `sort` parameter -> (key column, descending).
VALUE_SORTS: dict[str, Any] = {
    'date': group_tag_values.c.last_seen,
    'age': group_tag_values.c.first_seen,
    'count': group_tag_values.c.times_seen,
}
