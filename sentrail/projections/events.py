"""Ingested events as the event endpoints read them, plus what each event adds
to its project: tag values and received counts.

An event's id is its position in the notification log: unique, increasing with
arrival and the same after a rebuild, like Sentry's database id. Its payload is
stored as JSON text written with orjson, which also gives its size.
"""
from __future__ import annotations

import orjson
from eventsourcing.domain import DomainEventProtocol
from sqlalchemy import (BigInteger, Column, Connection, Index, Integer, Select, String, Table, Text,
                        UniqueConstraint, and_, delete, or_, select, update)
from sqlalchemy.engine import Row

from sentrail.domain.group import Group
from sentrail.domain.ingested import IngestedEvent
from sentrail.projections.base import FoldingProjection, PendingFold, handles
from sentrail.projections.issues import POSITION, epoch_ms
from sentrail.projections.schema import metadata
from sentrail.projections.upsert import Upsert
from sentrail.projections.stats import PROJECT_COUNTS, add_project_count, project_counts
from sentrail.projections.tags import (PROJECT_TAGS, add_tags, project_tag_keys, project_tag_values,
                                       write_project_tags)

events = Table(
    'events', metadata,
    Column('id', POSITION, primary_key=True, autoincrement=False),
    Column('event_id', String(32), nullable=False),
    Column('project_id', String(36), nullable=False),
    Column('group_id', String(36), nullable=False),
    Column('group_number', Integer, nullable=False),
    Column('timestamp', BigInteger, nullable=False),
    Column('received', BigInteger, nullable=False),
    Column('title', Text, nullable=False),
    Column('message', Text, nullable=False),
    Column('platform', String(64)),
    Column('level', String(16)),
    Column('release', Text),
    Column('environment', Text),
    Column('data', Text, nullable=False),  # the normalized event plus 'summary' and 'hashes', as JSON
    Column('size', Integer, nullable=False),
    UniqueConstraint('project_id', 'event_id', name='uq_events_project_event_id'),
    Index('ix_events_group_timestamp', 'group_id', 'timestamp', 'id'),
    Index('ix_events_project_timestamp', 'project_id', 'timestamp', 'id'),
)

# Inserted as driver SQL compiled once; an event already there (a replay) is left alone.
INSERT_EVENTS = Upsert(events, ('id',))


class EventBatch:
    """Ingested events folded in memory: rows to insert, and the project tag
    values and counts they add to, each written once per batch."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.events: list[dict] = []
        self.tags: dict[tuple, dict] = {}
        self.counts: dict[tuple, dict] = {}

    def add(self, e: IngestedEvent.Received, position: int) -> None:
        data, project_id = e.data, str(e.project_id)
        payload = orjson.dumps({**data, 'summary': e.summary, 'hashes': list(e.hashes)})
        seen, received = epoch_ms(data['timestamp']), epoch_ms(data['received'])
        self.events.append({
            'id': position, 'event_id': data['event_id'], 'project_id': project_id, 'group_id': str(e.group_id),
            'group_number': e.group_number, 'timestamp': seen, 'received': received,
            'title': e.summary['title'], 'message': data.get('message') or '', 'platform': data.get('platform'),
            'level': data.get('level'), 'release': data.get('release'), 'environment': data.get('environment'),
            'data': payload.decode(), 'size': len(payload),
        })
        add_tags(PROJECT_TAGS, self.tags, data['tags'], seen, {'project_id': project_id})
        add_project_count(self.counts, project_id, received)

    def write_events(self, conn: Connection) -> None:
        """The event rows alone: their payloads are what a batch holds most of."""
        if self.events:
            INSERT_EVENTS.run(conn, self.events)
            self.events = []

    def write(self, conn: Connection) -> None:
        self.write_events(conn)
        if self.counts:
            write_project_tags(conn, self.tags)
            PROJECT_COUNTS.run(conn, self.counts.values())
        self.clear()


class EventFold(PendingFold):
    """Event rows are written at the end of each chunk, and before a deletion
    or a merge, which must see them; the project tag values and counts they
    add to (which neither touches) once, when the transaction ends."""

    pending_class = EventBatch

    def add(self, batch: list[tuple[DomainEventProtocol, int]]) -> None:
        pending, conn = self.pending, self.conn
        for event, position in batch:
            if type(event) is IngestedEvent.Received:
                pending.add(event, position)
            else:
                pending.write_events(conn)
                self.projection.apply(conn, event, position)
        pending.write_events(conn)


class EventProjection(FoldingProjection):
    name = 'events'
    tables = (events, project_tag_values, project_tag_keys, project_counts)
    fold_class = EventFold

    @handles(IngestedEvent.Received)
    def received(self, conn: Connection, e: IngestedEvent.Received, position: int) -> None:
        self.apply_batch(conn, [(e, position)])

    @handles(Group.Deleted)
    def group_deleted(self, conn: Connection, e: Group.Deleted, position: int) -> None:
        conn.execute(delete(events).where(events.c.group_id == str(e.originator_id)))

    @handles(Group.Forwarded)
    def group_forwarded(self, conn: Connection, e: Group.Forwarded, position: int) -> None:
        """A merged issue's events now belong to its parent (a deleted issue has none left)."""
        conn.execute(update(events).where(events.c.group_id == str(e.originator_id))
                     .values(group_id=str(e.to), group_number=e.to_number))


def event_payload(row: Row) -> dict:
    return orjson.loads(row.data)


def event_by_id(conn: Connection, event_id: int) -> Row | None:
    return conn.execute(select(events).where(events.c.id == event_id)).first()


def event_by_client_id(conn: Connection, project_id: str, event_id: str) -> Row | None:
    return conn.execute(select(events).where(events.c.project_id == project_id,
                                             events.c.event_id == event_id)).first()


def events_by_ids(conn: Connection, ids: set[int]) -> dict[int, Row]:
    if not ids:
        return {}
    return {row.id: row for row in conn.execute(select(events).where(events.c.id.in_(ids)))}


def _containing(query: Select, text: str | None) -> Select:
    """Sentry's event search: the message contains the text (the title too, here)."""
    if text:
        query = query.where(or_(events.c.message.icontains(text, autoescape=True),
                                events.c.title.icontains(text, autoescape=True)))
    return query


def group_events_query(group_id: str, text: str | None = None) -> Select:
    return _containing(select(events).where(events.c.group_id == group_id), text)


def project_events_query(project_id: str, text: str | None = None) -> Select:
    return _containing(select(events).where(events.c.project_id == project_id), text)


def edge_event(conn: Connection, group_id: str, newest: bool) -> Row | None:
    """An issue's latest or oldest event, by the event's own time."""
    order = (events.c.timestamp.desc(), events.c.id.desc()) if newest else (events.c.timestamp, events.c.id)
    return conn.execute(select(events).where(events.c.group_id == group_id).order_by(*order).limit(1)).first()


def neighbours(conn: Connection, row: Row) -> tuple[Row | None, Row | None]:
    """The events just before and just after this one in its issue, ordered by (time, id)."""
    c = events.c
    after = or_(c.timestamp > row.timestamp, and_(c.timestamp == row.timestamp, c.id > row.id))
    before = or_(c.timestamp < row.timestamp, and_(c.timestamp == row.timestamp, c.id < row.id))
    same_group = select(c.id, c.event_id).where(c.group_id == row.group_id)
    previous = conn.execute(same_group.where(before).order_by(c.timestamp.desc(), c.id.desc()).limit(1)).first()
    following = conn.execute(same_group.where(after).order_by(c.timestamp, c.id).limit(1)).first()
    return previous, following
