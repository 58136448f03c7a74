"""The write side's unit of work: loads aggregates, allocates ids, saves atomically."""
from __future__ import annotations

import secrets
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording, StoredEvent, Transcoder
from sqlalchemy import select

from sentrail.commands.transcoder import OrjsonTranscoder
from sentrail.ddl import create_tables
from sentrail.domain.entity import Entity
from sentrail.domain.errors import NotFound
from sentrail.domain.sequence import Sequence, sequence_id
from sentrail.domain.slugs import SlugClaim, claim_id

T = TypeVar('T', bound=Aggregate)


def event_store_url(database_url: str) -> str:
    """SQLite writers from several processes must wait for the lock, not fail at once."""
    if database_url.startswith('sqlite') and 'timeout=' not in database_url:
        return database_url + ('&' if '?' in database_url else '?') + 'timeout=30'
    return database_url


class Sentrail(Application):
    """One application, hence one notification log: projections and the audit trail
    read every change in a single global order."""

    name = 'sentrail'
    snapshotting_intervals = {Sequence: 100}

    def __init__(self, database_url: str) -> None:
        super().__init__(env={
            'PERSISTENCE_MODULE': 'eventsourcing_sqlalchemy',
            'SQLALCHEMY_URL': event_store_url(database_url),
            'IS_SNAPSHOTTING_ENABLED': 'y',
            'AGGREGATE_CACHE_MAXSIZE': '5000',
            'CREATE_TABLE': 'no',  # below, where several starting processes may race to do it
        })
        create_tables(self.recorder.create_table)
        if self.snapshots is not None:
            create_tables(self.snapshots.recorder.create_table)
        self.tune_sqlite()

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    def tune_sqlite(self) -> None:
        """WAL with synchronous=NORMAL: a commit no longer waits for fsync, and
        a crash still loses no committed transaction's consistency."""
        engine = self.recorder.datastore.engine
        if engine is None or engine.dialect.name != 'sqlite':
            return

        @sqlalchemy.event.listens_for(engine, 'connect')
        def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute('PRAGMA synchronous=NORMAL')
            cursor.close()

        engine.dispose()

    def save(self, *aggregates: Aggregate | None, **kwargs: Any) -> list[Recording]:
        """What the library's save does for aggregates (the only things sentrail
        saves), taking each one's events directly: its runtime protocol checks
        on every object cost more than encoding the events of an ingested batch."""
        processing_event = ProcessingEvent()
        for aggregate in aggregates:
            if aggregate is not None:
                processing_event.events.extend(aggregate.collect_events())
                processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def close(self) -> None:
        """The library leaves its engine's pooled connections open; closed here
        they no longer hold the database (PostgreSQL refuses to drop or copy one
        with sessions)."""
        engine = self.recorder.datastore.engine
        super().close()
        if engine is not None:
            engine.dispose()

    def load(self, cls: type[T], aggregate_id: UUID, *, allow_deleted: bool = False) -> T:
        """Load an aggregate or raise the domain's NotFound (deleted counts as gone)."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound('The requested resource does not exist') from None
        if not isinstance(aggregate, cls):
            raise NotFound('The requested resource does not exist')
        if isinstance(aggregate, Entity) and aggregate.deleted and not allow_deleted:
            raise NotFound('The requested resource does not exist')
        return aggregate

    def find(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def find_many(self, aggregate_ids: list[UUID]) -> dict[UUID, Aggregate]:
        """Several aggregates in one query (ingestion looks up every issue of a
        batch at once). Only for aggregates that are never snapshotted."""
        table = self.recorder.events_record_cls.__table__
        found: dict[UUID, list] = {}
        for start in range(0, len(aggregate_ids), 500):
            query = (select(table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
                     .where(table.c.originator_id.in_(aggregate_ids[start:start + 500]))
                     .order_by(table.c.originator_id, table.c.originator_version))
            with self.recorder.datastore.engine.connect() as conn:
                for row in conn.execute(query):
                    stored = StoredEvent(originator_id=row[0], originator_version=row[1], topic=row[2],
                                         state=bytes(row[3]))
                    found.setdefault(row[0], []).append(self.mapper.to_domain_event(stored))
        return {aggregate_id: project_aggregate(None, events) for aggregate_id, events in found.items()}

    def next_number(self, kind: str) -> tuple[Sequence, int]:
        """A public id; the returned sequence must be saved with the new aggregate."""
        sequence = self.find(sequence_id(kind))
        if not isinstance(sequence, Sequence):
            sequence = Sequence(kind)
        return sequence, sequence.allocate()

    def claim_slug(self, scope: str, slug: str, owner_id: UUID) -> SlugClaim:
        """Reserve a slug for owner_id; raises Conflict when someone else holds it."""
        claim = self.find(claim_id(scope, slug))
        if isinstance(claim, SlugClaim):
            claim.reclaim(owner_id)
            return claim
        return SlugClaim(scope, slug, owner_id)

    def release_slug(self, scope: str, slug: str) -> SlugClaim | None:
        claim = self.find(claim_id(scope, slug))
        if isinstance(claim, SlugClaim) and claim.owner_id is not None:
            claim.release()
            return claim
        return None


def new_secret(nbytes: int = 16) -> str:
    """Random lowercase hex, the format Sentry uses for keys and tokens."""
    return secrets.token_hex(nbytes)
