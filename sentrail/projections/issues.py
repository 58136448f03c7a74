"""Issues (Sentry's groups) as the issue list and detail read them: counters,
sightings and the latest event's labels folded in per ingested event, the
hashes that lead to each issue, and its activity.

A batch of events costs one UPDATE per issue it touches plus one upsert per
hash, tag value and hour; the only read is whether its `user` values are new. The issue search (issue
stream) builds on `IssueQuery` and `issues_query`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from eventsourcing.domain import DomainEventProtocol
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Connection, Index, Integer, Select, String, Table, Text,
                        Update, bindparam, case, delete, func, insert, select, update)
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import BindParameter

from sentrail.domain.group import STATUSES, Group
from sentrail.domain.ingested import IngestedEvent
from sentrail.projections.accounts import users
from sentrail.projections.base import Projection, handles
from sentrail.projections.clock import ms
from sentrail.projections.schema import metadata
from sentrail.projections.stats import GROUP_COUNTS, add_group_count, group_counts
from sentrail.projections.tags import GROUP_TAGS, add_tags, group_tag_values, new_users
from sentrail.projections.upsert import Upsert, ensure_ln, greatest, least, truncate

# A log position as a key. SQLite keeps an INTEGER PRIMARY KEY as the rowid itself: no second index.
POSITION = BigInteger().with_variant(Integer, 'sqlite')

groups = Table(
    'groups', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('project_id', String(36), nullable=False),
    Column('project_number', Integer),
    Column('short_id', Integer, nullable=False),
    Column('hash', String(64), nullable=False),
    Column('status', String(20), nullable=False, default='unresolved'),
    Column('status_details', JSON, nullable=False, default=dict),
    # Labels of the latest event, as Sentry relabels an issue on every event.
    Column('title', Text, nullable=False, default=''),
    Column('culprit', Text),
    Column('type', String(16), nullable=False, default='default'),
    Column('metadata', JSON, nullable=False, default=dict),
    Column('level', String(16), nullable=False, default='error'),
    Column('logger', Text),
    Column('platform', String(64)),
    Column('message', Text, nullable=False, default=''),  # what free-text search reads: title and message
    Column('first_seen', BigInteger, nullable=False),
    Column('last_seen', BigInteger, nullable=False),
    Column('times_seen', BigInteger, nullable=False, default=0),
    Column('user_count', BigInteger, nullable=False, default=0),
    Column('first_release', Text),
    Column('last_release', Text),
    Column('active_at', BigInteger, nullable=False),
    Column('resolved_at', BigInteger),
    Column('assignee_id', String(36)),
    Column('is_public', Boolean, nullable=False, default=False),
    Column('num_comments', Integer, nullable=False, default=0),
    Column('score', BigInteger, nullable=False, default=0),  # Sentry's priority: ln(times_seen) * 600 + last seen (s)
    Index('ix_groups_project_last_seen', 'project_id', 'last_seen', 'number'),
    Index('ix_groups_project_first_seen', 'project_id', 'first_seen', 'number'),
    Index('ix_groups_project_times_seen', 'project_id', 'times_seen', 'number'),
    Index('ix_groups_project_score', 'project_id', 'score', 'number'),
    Index('ix_groups_project_user_count', 'project_id', 'user_count', 'number'),
)

# The hashes that lead to an issue. `ordinal` (the position of the first event
# that carried the hash, then the hash's place in that event's list) orders
# them as Sentry's GroupHash ids did.
group_hashes = Table(
    'group_hashes', metadata,
    Column('group_id', String(36), primary_key=True),
    Column('hash', String(64), primary_key=True),
    Column('ordinal', BigInteger, nullable=False),
    Column('latest_event', BigInteger, nullable=False),
)
HASHES_PER_EVENT = 1000  # far above what grouping produces (a hash per variant)

# An issue's history. `id` is the position of the domain event that caused the
# entry; `user_id` the acting user's public id (None for keys and the system).
activity = Table(
    'activity', metadata,
    Column('id', POSITION, primary_key=True, autoincrement=False),
    Column('group_id', String(36), nullable=False),
    Column('type', String(40), nullable=False),
    Column('user_id', String(36)),
    Column('data', JSON, nullable=False),
    Column('date', BigInteger, nullable=False),
    Index('ix_activity_group', 'group_id', 'id'),
)

GROUP_TABLES = (groups, group_hashes, group_tag_values, group_counts, activity)


HASHES = Upsert(group_hashes, ('group_id', 'hash'), lambda dialect, excluded: {'latest_event': excluded.latest_event})


def epoch_ms(seconds: float) -> int:
    return int(seconds * 1000)


def search_message(summary: dict, data: dict) -> str:
    """The title and the formatted message, once each."""
    return ' '.join(dict.fromkeys(part for part in (summary['title'], data.get('message')) if part))


LABELS = ('title', 'culprit', 'type', 'metadata', 'level', 'logger', 'platform', 'message')


@cache
def _count_events(dialect: str) -> Update:
    """One issue's share of a batch: counters and sightings added in SQL, labels
    from the batch's latest event. Parameters are the `p_` keys of IssueBatch."""
    g = groups.c
    first = g.times_seen == 0  # a new row holds its creation time as its sightings

    def param(name: str, type_: object = None) -> BindParameter:
        return bindparam(f'p_{name}', type_=type_)

    earliest, latest = param('first', BigInteger), param('last', BigInteger)
    last_seen = case((first, latest), else_=greatest(dialect, g.last_seen, latest))
    return update(groups).where(g.id == param('id')).values(
        project_number=param('project_number'),
        times_seen=g.times_seen + param('n', BigInteger),
        first_seen=case((first, earliest), else_=least(dialect, g.first_seen, earliest)),
        last_seen=last_seen,
        active_at=case((first, earliest), else_=g.active_at),
        user_count=g.user_count + param('new_users', BigInteger),
        score=truncate(dialect, func.ln(g.times_seen + param('n', BigInteger)) * 600 + last_seen // 1000),
        first_release=func.coalesce(g.first_release, param('first_release', Text)),
        last_release=func.coalesce(param('last_release', Text), g.last_release),
        **{name: param(name, groups.c[name].type) for name in LABELS},
    )


class IssueBatch:
    """Ingested events folded in memory, so each issue, tag value, hash and hour
    they touch is written once however many events touch it."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.groups: dict[str, dict] = {}
        self.tags: dict[tuple, dict] = {}
        self.hashes: dict[tuple, dict] = {}
        self.counts: dict[tuple, dict] = {}

    def add(self, e: IngestedEvent.Received, position: int) -> None:
        group_id, seen = str(e.group_id), epoch_ms(e.data['timestamp'])
        self._add_group(group_id, e, seen)
        add_tags(GROUP_TAGS, self.tags, e.data['tags'], seen, {'group_id': group_id, 'project_id': str(e.project_id)})
        for index, hash in enumerate(e.hashes[:HASHES_PER_EVENT]):
            row = self.hashes.setdefault((group_id, hash), {'group_id': group_id, 'hash': hash,
                                                            'ordinal': position * HASHES_PER_EVENT + index})
            row['latest_event'] = position
        add_group_count(self.counts, group_id, seen)

    def _add_group(self, group_id: str, e: IngestedEvent.Received, seen: int) -> None:
        data, summary = e.data, e.summary
        row = self.groups.setdefault(group_id, {'p_id': group_id, 'p_n': 0, 'p_first': seen, 'p_last': seen,
                                                'p_first_release': None, 'p_last_release': None})
        row['p_n'] += 1
        row['p_first'], row['p_last'] = min(row['p_first'], seen), max(row['p_last'], seen)
        release = data.get('release')
        if release:
            row['p_first_release'] = row['p_first_release'] or release
            row['p_last_release'] = release
        row.update(p_project_number=e.project_number, p_title=summary['title'],
                   p_culprit=summary['culprit'] or None, p_type=summary['type'], p_metadata=summary['metadata'],
                   p_level=data['level'], p_logger=data.get('logger'), p_platform=data.get('platform'),
                   p_message=search_message(summary, data))

    def write(self, conn: Connection) -> None:
        if not self.groups:
            return
        gained = new_users(conn, self.tags)
        GROUP_TAGS.run(conn, self.tags.values())
        HASHES.run(conn, self.hashes.values())
        GROUP_COUNTS.run(conn, self.counts.values())
        ensure_ln(conn)
        conn.execute(_count_events(conn.dialect.name),
                     [{**row, 'p_new_users': gained[group_id]} for group_id, row in self.groups.items()])
        self.clear()  # the batch may go on after a deletion


class IssueProjection(Projection):
    name = 'issues'
    tables = GROUP_TABLES

    def apply_batch(self, conn: Connection, batch: list[tuple[DomainEventProtocol, int]]) -> None:
        """Ingested events are folded; the rest apply in place, as they commute
        with the fold, except a deletion, which must see the events before it."""
        pending = IssueBatch()
        for event, position in batch:
            if type(event) is IngestedEvent.Received:
                pending.add(event, position)
                continue
            if type(event) is Group.Deleted:
                pending.write(conn)
            self.apply(conn, event, position)
        pending.write(conn)

    @handles(Group.Created)
    def created(self, conn: Connection, e: Group.Created, position: int) -> None:
        at = ms(e.timestamp)
        conn.execute(insert(groups).values(
            id=str(e.originator_id), number=e.number, project_id=str(e.project_id), short_id=e.short_id,
            hash=e.hash, first_seen=at, last_seen=at, active_at=at,
        ))

    @handles(IngestedEvent.Received)
    def received(self, conn: Connection, e: IngestedEvent.Received, position: int) -> None:
        batch = IssueBatch()
        batch.add(e, position)
        batch.write(conn)

    @handles(Group.Regressed)
    def regressed(self, conn: Connection, e: Group.Regressed, position: int) -> None:
        at = ms(e.timestamp)
        conn.execute(update(groups).where(groups.c.id == str(e.originator_id))
                     .values(status='unresolved', status_details={}, active_at=at, resolved_at=None))
        self._record(conn, e, position, 'set_regression', {})

    @handles(Group.StatusChanged)
    def status_changed(self, conn: Connection, e: Group.StatusChanged, position: int) -> None:
        at = ms(e.timestamp)
        values: dict = {'status': e.status, 'status_details': dict(e.details)}
        if e.status == 'resolved':
            values['resolved_at'] = at
        elif e.status == 'unresolved':
            values.update(resolved_at=None, active_at=at)
        conn.execute(update(groups).where(groups.c.id == str(e.originator_id)).values(**values))
        data = {k: v for k, v in e.details.items() if k != 'actor'} if e.status == 'ignored' else {}
        self._record(conn, e, position, f'set_{e.status}', data)

    @handles(Group.Deleted)
    def deleted(self, conn: Connection, e: Group.Deleted, position: int) -> None:
        group_id = str(e.originator_id)
        conn.execute(delete(groups).where(groups.c.id == group_id))
        for table in GROUP_TABLES[1:]:
            conn.execute(delete(table).where(table.c.group_id == group_id))

    @staticmethod
    def _record(conn: Connection, e: Group.Event, position: int, kind: str, data: dict) -> None:
        actor = (e.meta or {}).get('actor') or {}
        conn.execute(insert(activity).values(id=position, group_id=str(e.originator_id), type=kind,
                                             user_id=actor.get('user_id'), data=data, date=ms(e.timestamp)))


def group_by_number(conn: Connection, number: int) -> Row | None:
    return conn.execute(select(groups).where(groups.c.number == number)).first()


class InvalidQuery(ValueError):
    """A search the issue list cannot parse; the message is Sentry's."""


STATUS_ALIASES = {'muted': 'ignored'}

# The issue list's `sort` values and the column each pages by (descending).
SORTS = {
    'date': groups.c.last_seen,
    'new': groups.c.first_seen,
    'freq': groups.c.times_seen,
    'priority': groups.c.score,
    'user': groups.c.user_count,
}


@dataclass
class IssueQuery:
    """A parsed `query`. No query at all means unresolved issues only; an empty
    one means every status. `terms` keeps the `key:value` tokens and `words`
    the free text that the issue search interprets."""

    statuses: tuple[str, ...] | None = ('unresolved',)
    assigned: bool | None = None
    terms: list[tuple[str, str]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)


def parse_issue_query(text: str | None) -> IssueQuery:
    if text is None:
        return IssueQuery()
    parsed = IssueQuery(statuses=None)
    for token in text.split():
        key, sep, value = token.partition(':')
        if not sep or not key:
            parsed.words.append(token)
        elif key == 'is':
            _apply_is(parsed, value)
        else:
            parsed.terms.append((key, value))
    return parsed


def _apply_is(parsed: IssueQuery, value: str) -> None:
    status = STATUS_ALIASES.get(value, value)
    if status in STATUSES:
        parsed.statuses = (status,)
    elif value in ('assigned', 'unassigned'):
        parsed.assigned = value == 'assigned'
    else:
        raise InvalidQuery(f"Your search query could not be parsed: 'is:' had unknown status code '{value}'.")


def issues_query(project_ids: list[str], search: IssueQuery) -> Select:
    """The issues of these projects that match; the caller pages it by a SORTS column."""
    query = select(groups).where(groups.c.project_id.in_(project_ids))
    if search.statuses is not None:
        query = query.where(groups.c.status.in_(search.statuses))
    if search.assigned is not None:
        query = query.where(groups.c.assignee_id.isnot(None) if search.assigned else groups.c.assignee_id.is_(None))
    return query


def activity_of(conn: Connection, group_id: str, limit: int = 100) -> list[Row]:
    """An issue's history, newest first."""
    return conn.execute(select(activity).where(activity.c.group_id == group_id)
                        .order_by(activity.c.id.desc()).limit(limit)).all()


def hashes_query(group_id: str) -> Select:
    return select(group_hashes).where(group_hashes.c.group_id == group_id)


def users_by_public_ids(conn: Connection, public_ids: set[str]) -> dict[str, Row]:
    """The users who acted in an issue's history, by the public id activity keeps."""
    numbers = {int(n) for n in public_ids if n and n.isdigit()}
    if not numbers:
        return {}
    return {str(row.number): row for row in conn.execute(select(users).where(users.c.number.in_(numbers)))}
