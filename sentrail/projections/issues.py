"""Issues (Sentry's groups) as the issue list and detail read them: counters,
sightings and the latest event's labels folded in per ingested event, the
hashes that lead to each issue, its activity, and each user's own marks on it.

A batch of events costs one UPDATE per issue it touches plus one upsert per
hash, tag value and hour; the only read is whether its `user` values are new.
Everything else (status changes, assignments, notes, merges) applies in place.
The issue search lives in `issue_search`.
"""
from __future__ import annotations

import math

import orjson
from eventsourcing.domain import DomainEventProtocol
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Connection, Index, Integer, Select, String, Table, Text,
                        Update, bindparam, case, delete, func, insert, select, update)
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import BindParameter

from sentrail.domain.group import IGNORE_KEYS, Group, GroupUser
from sentrail.domain.ingested import IngestedEvent
from sentrail.domain.note import Note
from sentrail.domain.release import Release
from sentrail.domain.sequence import public_number
from sentrail.projections.accounts import users
from sentrail.projections.base import FoldingProjection, PendingFold, handles
from sentrail.projections.clock import ms
from sentrail.projections.schema import metadata
from sentrail.projections.stats import GROUP_COUNTS, add_group_count, group_counts
from sentrail.projections.tags import GROUP_TAGS, USER_KEY, add_tags, group_tag_values, new_users
from sentrail.projections.upsert import Prepared, RowUpdate, Upsert, ensure_ln, greatest, least, truncate

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
    # When it last became unresolved: its first event, a regression or a reopening.
    # NULL until the fold sees its first event, so a reopening applied before the
    # fold (in the same batch) is kept.
    Column('active_at', BigInteger),
    Column('resolved_at', BigInteger),
    Column('assignee_id', String(36)),  # a user's id
    Column('is_public', Boolean, nullable=False, default=False),
    Column('share_id', String(32)),
    Column('num_comments', Integer, nullable=False, default=0),
    # An ignore: when it lapses by time, and how many events and users it has counted.
    Column('ignore_until', BigInteger),
    Column('ignore_seen', Integer, nullable=False, default=0),
    Column('ignore_users', Integer, nullable=False, default=0),
    # A resolution in the next release, until a newer release names the version:
    # the resolution's release number and the activity entry that awaits the version.
    Column('resolution_number', Integer),
    Column('resolution_activity', BigInteger),
    Column('score', BigInteger, nullable=False, default=0),  # Sentry's priority: ln(times_seen) * 600 + last seen (s)
    Index('ix_groups_project_last_seen', 'project_id', 'last_seen', 'number'),
    Index('ix_groups_project_first_seen', 'project_id', 'first_seen', 'number'),
    Index('ix_groups_project_times_seen', 'project_id', 'times_seen', 'number'),
    Index('ix_groups_project_score', 'project_id', 'score', 'number'),
    Index('ix_groups_project_short_id', 'project_id', 'short_id'),
    Index('ix_groups_project_ignore_until', 'project_id', 'ignore_until'),
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
# The `user` sort's key: a cursor value of 0 means "from the start", so counts
# that may be 0 page by count + 1 (indexed as that expression).
USERS_KEY = groups.c.user_count + 1
Index('ix_groups_project_users', groups.c.project_id, USERS_KEY, groups.c.number)

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
    Column('note_id', String(36)),  # the Note behind a `note` entry
    Index('ix_activity_group', 'group_id', 'id'),
    Index('ix_activity_note', 'note_id'),
)

# Each user's own relation to an issue (a GroupUser aggregate).
group_users = Table(
    'group_users', metadata,
    Column('id', String(36), primary_key=True),
    Column('group_id', String(36), nullable=False),
    Column('user_id', String(36), nullable=False),
    Column('bookmarked', Boolean, nullable=False, default=False),
    Column('subscribed', Boolean),
    Column('reason', String(20)),
    Column('seen_at', BigInteger),
    Index('ix_group_users_group', 'group_id', 'user_id'),
    Index('ix_group_users_user', 'user_id', 'group_id'),
)

GROUP_TABLES = (groups, group_hashes, group_tag_values, group_counts, activity, group_users)


HASHES = Upsert(group_hashes, ('group_id', 'hash'), lambda dialect, excluded: {'latest_event': excluded.latest_event})


def epoch_ms(seconds: float) -> int:
    return int(seconds * 1000)


def search_message(summary: dict, data: dict) -> str:
    """The title and the formatted message, once each."""
    return ' '.join(dict.fromkeys(part for part in (summary['title'], data.get('message')) if part))


LABELS = ('title', 'culprit', 'type', 'metadata', 'level', 'logger', 'platform', 'message')


def _count_events(dialect: str, columns: tuple[str, ...]) -> Update:
    """One issue's share of a batch: counters and sightings added in SQL, labels
    from the batch's latest event. Parameters are the `p_` keys of IssueBatch
    (`p_metadata` as JSON text)."""
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
        active_at=func.coalesce(g.active_at, earliest),
        user_count=g.user_count + param('new_users', BigInteger),
        score=truncate(dialect, func.ln(g.times_seen + param('n', BigInteger)) * 600 + last_seen // 1000),
        first_release=func.coalesce(g.first_release, param('first_release', Text)),
        last_release=func.coalesce(param('last_release', Text), g.last_release),
        **{name: param(name, groups.c[name].type) for name in LABELS},
    )


# A new issue's row before its first event: the columns' defaults, spelt out for
# the compiled multi-row insert (which takes JSON as text).
NEW_ROW = {'status': 'unresolved', 'status_details': '{}', 'title': '', 'type': 'default', 'metadata': '{}',
           'level': 'error', 'message': '', 'times_seen': 0, 'user_count': 0, 'is_public': False,
           'num_comments': 0, 'ignore_seen': 0, 'ignore_users': 0, 'score': 0}
NEW_GROUP = Upsert(groups, ('id',))
COUNT_EVENTS = Prepared(_count_events)
SET_GROUP = RowUpdate(groups)
SET_MARK = RowUpdate(group_users)
NEW_ACTIVITY = Prepared(lambda dialect, columns: insert(activity))


class IssueBatch:
    """New issues and ingested events folded in memory, so each issue, tag value,
    hash and hour they touch is written once however many events touch it."""

    def __init__(self) -> None:
        self.created: list[dict] = []
        self.clear()

    def create(self, e: Group.Created) -> None:
        at = ms(e.timestamp)
        self.created.append({'id': str(e.originator_id), 'number': e.number, 'project_id': str(e.project_id),
                             'short_id': e.short_id, 'hash': e.hash, 'first_seen': at, 'last_seen': at,
                             **NEW_ROW})

    def insert_created(self, conn: Connection) -> None:
        """New issues' rows, before anything else may touch them."""
        if self.created:
            NEW_GROUP.run(conn, self.created)
            self.created = []

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
        self.insert_created(conn)
        if not self.groups:
            return
        gained = new_users(conn, self.tags)
        GROUP_TAGS.run(conn, self.tags.values())
        HASHES.run(conn, self.hashes.values())
        GROUP_COUNTS.run(conn, self.counts.values())
        ensure_ln(conn)
        COUNT_EVENTS.run(conn, [{**row, 'p_new_users': gained[group_id],
                                 'p_metadata': orjson.dumps(row['p_metadata']).decode()}
                                for group_id, row in self.groups.items()])
        self.clear()  # the batch may go on after a deletion


# What statusDetails shows of a status change's details (besides `actor`).
SHOWN_DETAILS = {'resolved': ('inRelease', 'inNextRelease'),
                 'ignored': ('ignoreCount', 'ignoreUntil', 'ignoreUserCount', 'ignoreUserWindow', 'ignoreWindow')}
NOT_IGNORED = {'ignore_until': None, 'ignore_seen': 0, 'ignore_users': 0}
NOT_PENDING = {'resolution_number': None, 'resolution_activity': None}


def shown_details(status: str, details: dict) -> dict:
    """statusDetails as stored: an ignore without conditions and a plain resolution
    show nothing; `actor` (a public user id) when the change named one."""
    shown = {key: details[key] for key in SHOWN_DETAILS.get(status, ()) if key in details}
    if not any(value is not None for value in shown.values()):
        return {}
    if 'actor' in details:
        shown['actor'] = details['actor']
    return shown


def status_activity(status: str, details: dict) -> tuple[str, dict]:
    """Sentry's activity type and data for a status change."""
    if status == 'resolved' and 'inNextRelease' in details:
        return 'set_resolved_in_release', {'version': ''}
    if status == 'resolved' and 'inRelease' in details:
        return 'set_resolved_in_release', {'version': details['inRelease']}
    if status == 'ignored':
        return 'set_ignored', {key: details[key] for key in IGNORE_KEYS if key in details}
    return f'set_{status}', {}


class IssueFold(PendingFold):
    """Ingested events are folded; the rest apply in place, as they commute
    with the fold, except a deletion or a merge, which must see the events
    before it."""

    pending_class = IssueBatch

    def add(self, batch: list[tuple[DomainEventProtocol, int]]) -> None:
        pending, conn = self.pending, self.conn
        for event, position in batch:
            kind = type(event)
            if kind is IngestedEvent.Received:
                pending.add(event, position)
                continue
            if kind is Group.Created:
                pending.create(event)
                continue
            if kind is Group.Deleted or kind is Group.Forwarded:
                pending.write(conn)
            else:
                pending.insert_created(conn)
            self.projection.apply(conn, event, position)


class IssueProjection(FoldingProjection):
    name = 'issues'
    tables = GROUP_TABLES
    fold_class = IssueFold

    @handles(Group.Created, IngestedEvent.Received)
    def folded(self, conn: Connection, e: Group.Created | IngestedEvent.Received, position: int) -> None:
        self.apply_batch(conn, [(e, position)])

    @handles(Group.Regressed)
    def regressed(self, conn: Connection, e: Group.Regressed, position: int) -> None:
        """As Sentry's regression handling: a resolution in the next release that
        a newer release reopens learns that release's version."""
        version = getattr(e, 'version', '')
        if version:
            entry = select(groups.c.resolution_activity).where(groups.c.id == str(e.originator_id)).scalar_subquery()
            conn.execute(update(activity).where(activity.c.id == entry).values(data={'version': version}))
        self._set(conn, e, status='unresolved', status_details={}, active_at=ms(e.timestamp), resolved_at=None,
                  **NOT_IGNORED, **NOT_PENDING)
        record(conn, e, position, 'set_regression', {'version': getattr(e, 'version', '')})

    @handles(Group.StatusChanged)
    def status_changed(self, conn: Connection, e: Group.StatusChanged, position: int) -> None:
        at, details = ms(e.timestamp), dict(e.details)
        values: dict = {'status': e.status, 'status_details': shown_details(e.status, details), **NOT_IGNORED,
                        **NOT_PENDING}
        if e.status == 'resolved':
            values['resolved_at'] = at
            if details.get('inNextRelease'):
                values.update(resolution_number=details.get('releaseNumber'), resolution_activity=position)
        elif e.status == 'unresolved':
            values.update(resolved_at=None, active_at=at)
        else:
            values['ignore_until'] = details.get('ignoreUntil')
        self._set(conn, e, **values)
        record(conn, e, position, *status_activity(e.status, details))

    @handles(Group.Counted)
    def counted(self, conn: Connection, e: Group.Counted, position: int) -> None:
        self._set(conn, e, ignore_seen=e.seen, ignore_users=e.users)

    @handles(Group.Assigned)
    def assigned(self, conn: Connection, e: Group.Assigned, position: int) -> None:
        self._set(conn, e, assignee_id=e.user_id)
        record(conn, e, position, 'assigned', {'assignee': e.user_number, 'assigneeEmail': e.email})

    @handles(Group.Unassigned)
    def unassigned(self, conn: Connection, e: Group.Unassigned, position: int) -> None:
        self._set(conn, e, assignee_id=None)
        record(conn, e, position, 'unassigned', {})

    @handles(Group.Shared)
    def shared(self, conn: Connection, e: Group.Shared, position: int) -> None:
        self._set(conn, e, share_id=e.share_id, is_public=True)
        record(conn, e, position, 'set_public', {})

    @handles(Group.Unshared)
    def unshared(self, conn: Connection, e: Group.Unshared, position: int) -> None:
        self._set(conn, e, share_id=None, is_public=False)
        record(conn, e, position, 'set_private', {})

    @handles(Group.Forwarded)
    def forwarded(self, conn: Connection, e: Group.Forwarded, position: int) -> None:
        move_group(conn, str(e.originator_id), str(e.to))

    @handles(Group.Merged)
    def merged(self, conn: Connection, e: Group.Merged, position: int) -> None:
        record(conn, e, position, 'merge', {'issues': [{'id': child['number']} for child in e.children]})

    @handles(Group.Deleted)
    def deleted(self, conn: Connection, e: Group.Deleted, position: int) -> None:
        forget_group(conn, str(e.originator_id))

    @staticmethod
    def _set(conn: Connection, e: Group.Event, **values: object) -> None:
        SET_GROUP.set(conn, str(e.originator_id), values)

    @handles(GroupUser.Started)
    def mark_started(self, conn: Connection, e: GroupUser.Started, position: int) -> None:
        conn.execute(insert(group_users).values(id=str(e.originator_id), group_id=str(e.group_id),
                                                user_id=str(e.user_id), bookmarked=False))

    @handles(GroupUser.BookmarkSet)
    def bookmark_set(self, conn: Connection, e: GroupUser.BookmarkSet, position: int) -> None:
        self._mark(conn, e, bookmarked=e.bookmarked)

    @handles(GroupUser.SubscriptionSet)
    def subscription_set(self, conn: Connection, e: GroupUser.SubscriptionSet, position: int) -> None:
        self._mark(conn, e, subscribed=e.subscribed, reason=e.reason)

    @handles(GroupUser.SeenSet)
    def seen_set(self, conn: Connection, e: GroupUser.SeenSet, position: int) -> None:
        self._mark(conn, e, seen_at=e.at)

    @staticmethod
    def _mark(conn: Connection, e: GroupUser.Event, **values: object) -> None:
        SET_MARK.set(conn, str(e.originator_id), values)

    @handles(Note.Created)
    def note_created(self, conn: Connection, e: Note.Created, position: int) -> None:
        group_id = str(e.group_id)
        record(conn, e, position, 'note', {'text': e.text}, group_id=group_id, note_id=str(e.originator_id))
        conn.execute(update(groups).where(groups.c.id == group_id).values(num_comments=groups.c.num_comments + 1))

    @handles(Note.Updated)
    def note_updated(self, conn: Connection, e: Note.Updated, position: int) -> None:
        if 'text' in e.changes:
            conn.execute(update(activity).where(activity.c.note_id == str(e.originator_id))
                         .values(data={'text': e.changes['text']}))

    @handles(Note.Deleted)
    def note_deleted(self, conn: Connection, e: Note.Deleted, position: int) -> None:
        # The note may have moved with a merge: its entry knows where it is now.
        group_id = conn.execute(select(activity.c.group_id).where(activity.c.note_id == str(e.originator_id))).scalar()
        if group_id is None:
            return
        conn.execute(delete(activity).where(activity.c.note_id == str(e.originator_id)))
        conn.execute(update(groups).where(groups.c.id == group_id).values(num_comments=groups.c.num_comments - 1))

    @handles(Release.Created, Release.Recreated)
    def release_created(self, conn: Connection, e: Release.Created | Release.Recreated, position: int) -> None:
        """A newer release of a project names the version its issues resolved in the
        next release were resolved in (Sentry's clear_expired_resolutions)."""
        if not e.project_ids:
            return
        waiting = (groups.c.project_id.in_([str(p) for p in e.project_ids]), groups.c.resolution_number < e.number,
                   groups.c.resolution_activity.is_not(None))
        entries = select(groups.c.resolution_activity).where(*waiting).scalar_subquery()
        conn.execute(update(activity).where(activity.c.id.in_(entries)).values(data={'version': e.version}))
        conn.execute(update(groups).where(*waiting).values(**NOT_PENDING))


def record(conn: Connection, e: DomainEventProtocol, position: int, kind: str, data: dict, *,
           group_id: str | None = None, note_id: str | None = None) -> None:
    """An activity entry; `user_id` is the acting user's public id (None for keys and the system)."""
    actor = (getattr(e, 'meta', None) or {}).get('actor') or {}
    NEW_ACTIVITY.run(conn, [{'id': position, 'group_id': group_id or str(e.originator_id), 'type': kind,
                             'user_id': actor.get('user_id'), 'data': orjson.dumps(data).decode(),
                             'date': ms(e.timestamp), 'note_id': note_id}])


def forget_group(conn: Connection, group_id: str) -> None:
    conn.execute(delete(groups).where(groups.c.id == group_id))
    for table in GROUP_TABLES[1:]:
        conn.execute(delete(table).where(table.c.group_id == group_id))


def move_group(conn: Connection, child_id: str, parent_id: str) -> None:
    """A merge: the child's tag values, counts, hashes and activity become the
    parent's and its counters add up there; its row and the users' marks go."""
    child = conn.execute(select(groups).where(groups.c.id == child_id)).first()
    parent = conn.execute(select(groups).where(groups.c.id == parent_id)).first()
    if child is None or parent is None:
        return  # a deleted issue forwarded to its replacement: nothing left to move
    tag_rows = conn.execute(select(group_tag_values).where(group_tag_values.c.group_id == child_id)).mappings()
    GROUP_TAGS.run(conn, [{**row, 'group_id': parent_id} for row in tag_rows])
    count_rows = conn.execute(select(group_counts).where(group_counts.c.group_id == child_id)).mappings()
    GROUP_COUNTS.run(conn, [{**row, 'group_id': parent_id} for row in count_rows])
    for table in (group_hashes, activity):
        conn.execute(update(table).where(table.c.group_id == child_id).values(group_id=parent_id))
    conn.execute(update(groups).where(groups.c.id == parent_id).values(**merged_counters(conn, parent, child)))
    forget_group(conn, child_id)


def merged_counters(conn: Connection, parent: Row, child: Row) -> dict:
    times_seen = parent.times_seen + child.times_seen
    last_seen = max(parent.last_seen, child.last_seen)
    earlier = child if child.first_seen < parent.first_seen else parent
    later = child if child.last_seen > parent.last_seen else parent
    user_count = conn.execute(select(func.count()).select_from(group_tag_values).where(
        group_tag_values.c.group_id == parent.id, group_tag_values.c.key == USER_KEY)).scalar_one()
    return {
        'times_seen': times_seen, 'first_seen': earlier.first_seen, 'last_seen': last_seen,
        'user_count': user_count, 'num_comments': parent.num_comments + child.num_comments,
        'first_release': earlier.first_release or later.first_release,
        'last_release': later.last_release or earlier.last_release,
        'score': int(math.log(max(times_seen, 1)) * 600 + last_seen // 1000),
    }


def group_by_number(conn: Connection, number: int) -> Row | None:
    return conn.execute(select(groups).where(groups.c.number == number)).first()


def next_lapse(conn: Connection, project_ids: list[str], now: int) -> int | None:
    """The first moment after `now` at which an ignore in these projects lapses (epoch ms)."""
    return conn.execute(select(func.min(groups.c.ignore_until)).where(
        groups.c.project_id.in_(project_ids), groups.c.status == 'ignored', groups.c.ignore_until > now)).scalar()


def group_by_id(conn: Connection, group_id: str) -> Row | None:
    return conn.execute(select(groups).where(groups.c.id == group_id)).first()


def group_by_short_id(conn: Connection, project_id: str, short_id: int) -> Row | None:
    return conn.execute(select(groups).where(groups.c.project_id == project_id,
                                             groups.c.short_id == short_id)).first()


def groups_by_numbers(conn: Connection, project_ids: list[str], numbers: list[int]) -> list[Row]:
    if not numbers:
        return []
    return conn.execute(select(groups).where(groups.c.project_id.in_(project_ids), groups.c.number.in_(numbers))
                        .order_by(groups.c.number)).all()


def activity_of(conn: Connection, group_id: str, limit: int = 100) -> list[Row]:
    """An issue's history, newest first."""
    return conn.execute(select(activity).where(activity.c.group_id == group_id)
                        .order_by(activity.c.id.desc()).limit(limit)).all()


def notes_query(group_id: str) -> Select:
    return select(activity).where(activity.c.group_id == group_id, activity.c.type == 'note')


def note_entry(conn: Connection, group_id: str, entry_id: int) -> Row | None:
    return conn.execute(select(activity).where(activity.c.group_id == group_id, activity.c.id == entry_id,
                                               activity.c.type == 'note')).first()


def recent_note(conn: Connection, group_id: str, user_number: str, text: str, since: int) -> bool:
    """Whether the user posted this text on the issue since `since` (epoch ms)."""
    rows = conn.execute(select(activity.c.data).where(activity.c.group_id == group_id, activity.c.type == 'note',
                                                      activity.c.user_id == user_number, activity.c.date >= since))
    return any((data or {}).get('text') == text for (data,) in rows)


def hashes_query(group_id: str) -> Select:
    return select(group_hashes).where(group_hashes.c.group_id == group_id)


def marks_of(conn: Connection, user_id: str | None, group_ids: list[str]) -> dict[str, Row]:
    """The caller's own marks (bookmark, subscription, last view) on these issues."""
    if user_id is None or not group_ids:
        return {}
    query = select(group_users).where(group_users.c.user_id == user_id, group_users.c.group_id.in_(group_ids))
    return {row.group_id: row for row in conn.execute(query)}


def seen_by(conn: Connection, group_id: str, limit: int = 100) -> list[Row]:
    """Users who saw the issue (with `seen_at`), most recent first."""
    query = (select(users, group_users.c.seen_at).join(group_users, group_users.c.user_id == users.c.id)
             .where(group_users.c.group_id == group_id, group_users.c.seen_at.is_not(None))
             .order_by(group_users.c.seen_at.desc()).limit(limit))
    return conn.execute(query).all()


def participants(conn: Connection, group_id: str) -> list[Row]:
    """Users subscribed to the issue, by name."""
    query = (select(users).join(group_users, group_users.c.user_id == users.c.id)
             .where(group_users.c.group_id == group_id, group_users.c.subscribed.is_(True))
             .order_by(users.c.email))
    return conn.execute(query).all()


def users_by_ids(conn: Connection, user_ids: set[str]) -> dict[str, Row]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return {row.id: row for row in conn.execute(select(users).where(users.c.id.in_(ids)))}


def user_by_reference(conn: Connection, reference: str) -> Row | None:
    """A user named as Sentry's user fields accept: public id, email or username (any case)."""
    number = public_number(reference)
    if number is not None:
        found = conn.execute(select(users).where(users.c.number == number)).first()
        if found is not None:
            return found
    return conn.execute(select(users).where(
        (users.c.email == reference.strip().lower()) | (func.lower(users.c.username) == reference.strip().lower()))
        .order_by(users.c.number).limit(1)).first()


def users_by_public_ids(conn: Connection, public_ids: set[str]) -> dict[str, Row]:
    """The users who acted in an issue's history, by the public id activity keeps."""
    numbers = {n for n in (public_number(str(i)) for i in public_ids if i) if n is not None}
    if not numbers:
        return {}
    return {str(row.number): row for row in conn.execute(select(users).where(users.c.number.in_(numbers)))}
