"""Brings projections up to the head of the notification log, exactly once each."""
from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sentrail.ddl import create_tables
from sentrail.projections.base import Fold, Projection
from sentrail.projections.schema import metadata, tracking

BATCH = 1000
# A rebuild races no writer for the lock: fewer, larger transactions, which
# fold more, read in batches that keep the decoded entries' memory bounded.
REBUILD_BATCH = 5000
REBUILD_CHUNKS = 4

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Status:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class ProjectionRunner:
    """Reads the log in order and applies each batch, with the tracking positions,
    in one transaction. The tracking rows are locked first (FOR UPDATE, or
    SQLite's BEGIN IMMEDIATE), so concurrent runners serialise and the loser
    finds the work done: nothing is applied twice, nothing skipped, even after a
    crash mid-batch. Projections at the same position share one pass over the
    log, so each notification is read and decoded once."""

    def __init__(self, app: Application, engine: Engine, projections: Iterable[Projection],
                 batch: int = BATCH, turn: Callable[[], AbstractContextManager] = nullcontext) -> None:
        self.app = app
        self.engine = engine
        self.projections = {p.name: p for p in projections}
        self.batch = batch
        self.turn = turn  # held around each transaction: the server's writers take turns (sentrail.services)
        self._topics = {p.name: p.topics() for p in self.projections.values()}
        # Built once: a catch-up of a single write runs each of them, and building
        # and keying a statement costs more than running it.
        log = self.app.recorder.events_record_cls.__table__
        self._head = select(func.max(log.c.id))
        self._log = (select(log.c.id, log.c.originator_id, log.c.originator_version, log.c.topic, log.c.state)
                     .where(log.c.id > bindparam('start'), log.c.id <= bindparam('stop'))
                     .order_by(log.c.id).limit(bindparam('limit')))
        self._log_of = self._log.where(log.c.topic.in_(bindparam('topics', expanding=True)))
        self._positions = select(tracking.c.name, tracking.c.position)
        self._locked = self._positions.where(tracking.c.name.in_(bindparam('names', expanding=True))).order_by(
            tracking.c.name)
        if engine.dialect.name == 'postgresql':  # on SQLite, BEGIN IMMEDIATE has locked the database
            self._locked = self._locked.with_for_update()
        self._advanced = (update(tracking).where(tracking.c.name == bindparam('projection'))
                          .values(position=bindparam('reached')))

    def create_tables(self) -> None:
        create_tables(lambda: metadata.create_all(self.engine, checkfirst=True))
        insert = (postgresql.insert if self.engine.dialect.name == 'postgresql' else sqlite.insert)
        with self.engine.begin() as conn:
            for name in self.projections:
                conn.execute(insert(tracking).values(name=name, position=0).on_conflict_do_nothing())

    def read(self, start: int, limit: int, stop: int, topics: list[str]) -> list[Notification]:
        """The log after `start`, in order: the recorder's table read with Core,
        which is several times faster than the library's ORM query."""
        params = {'start': start, 'stop': stop, 'limit': limit}
        query = self._log
        if topics:
            query, params['topics'] = self._log_of, topics
        with self.app.recorder.datastore.engine.connect() as conn:
            rows = conn.execute(query, params).all()
        return [Notification(id=row[0], originator_id=row[1], originator_version=row[2], topic=row[3],
                             state=bytes(row[4])) for row in rows]

    def head(self) -> int:
        with self.app.recorder.datastore.engine.connect() as conn:
            return conn.execute(self._head).scalar() or 0

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._positions).all()
        return {name: position for name, position in rows}

    def status(self) -> list[Status]:
        head = self.head()
        positions = self.positions()
        return [Status(name, positions.get(name, 0), head) for name in self.projections]

    def catch_up(self, until: int | None = None, names: Iterable[str] | None = None,
                 progress: Progress | None = None, batch: int | None = None, chunks: int = 1) -> None:
        """Apply everything up to `until` (default: the head) to each projection,
        `batch` entries read at a time and `chunks` batches per transaction."""
        target = self.head() if until is None else until
        positions = self.positions()
        behind = [n for n in (names or self.projections) if positions.get(n, 0) < target]
        by_position: dict[int, list[str]] = {}
        for name in behind:
            by_position.setdefault(positions.get(name, 0), []).append(name)
        for start, group in by_position.items():
            self._advance(sorted(group), start, target, progress, batch or self.batch, chunks)

    def _advance(self, names: list[str], start: int, target: int, progress: Progress | None, batch: int,
                 chunks: int) -> None:
        """Apply transactions from `start` (the names' position when last looked
        at) to `target`. A transaction's first batch is read and decoded before
        the write turn is taken, since only folding and writing need it; the
        positions locked then decide what applies, and a batch read from too
        late a position (the read models were reset meanwhile) is read again."""
        topics = sorted({topic for name in names for topic in self._topics[name]})
        handlers: dict[type, list[str]] = {}  # event class -> the projections among `names` that handle it
        while True:
            decoded = self._decoded(start, batch, target, topics)
            with self.turn(), self.engine.begin() as conn:
                positions = self._lock(conn, names)
                lowest = min(positions.values())
                if lowest >= target:
                    return
                if lowest < start:
                    start = lowest
                    decoded = self._decoded(start, batch, target, topics)
                folds = {name: self.projections[name].fold(conn) for name in names}
                for chunk in range(chunks):
                    self._feed(folds, decoded, positions, handlers)
                    done = len(decoded) < batch
                    reached = target if done else decoded[-1][1]
                    if done or chunk == chunks - 1:
                        break
                    decoded = self._decoded(reached, batch, target, topics)
                for fold in folds.values():
                    fold.finish()
                moved = [{'projection': name, 'reached': reached} for name in names if reached > positions[name]]
                if moved:
                    conn.execute(self._advanced, moved)
            if progress:
                for name in names:
                    progress(name, reached, target)
            if done:
                return
            start = reached

    def _feed(self, folds: dict[str, Fold], decoded: list[tuple[object, int]], positions: dict[str, int],
              handlers: dict[type, list[str]]) -> None:
        """Give each projection the entries of `decoded` it handles and has not applied yet."""
        chunks: dict[str, list] = {name: [] for name in folds}
        for event, position in decoded:
            wanted = handlers.get(type(event))
            if wanted is None:
                wanted = handlers[type(event)] = [n for n in folds if self.projections[n].handles_event(event)]
            for name in wanted:
                if position > positions[name]:
                    chunks[name].append((event, position))
        for name, chunk in chunks.items():
            if chunk:
                folds[name].add(chunk)

    def _decoded(self, start: int, limit: int, stop: int, topics: list[str]) -> list[tuple[object, int]]:
        """(domain event, position) for the log after `start`."""
        to_domain_event = self.app.mapper.to_domain_event
        return [(to_domain_event(n), n.id) for n in self.read(start, limit, stop, topics)]

    def _lock(self, conn: Connection, names: list[str]) -> dict[str, int]:
        return {name: position for name, position in conn.execute(self._locked, {'names': names}).all()}

    def position_at(self, moment: datetime) -> int:
        """The last notification recorded at or before `moment` (0 if none)."""
        position, last = 0, 0
        head = self.head()
        while position < head:
            notifications = self.app.recorder.select_notifications(start=position, limit=self.batch, stop=head,
                                                                   inclusive_of_start=False)
            if not notifications:
                break
            for notification in notifications:
                if self.app.mapper.to_domain_event(notification).timestamp > moment:
                    return last
                last = notification.id
            position = notifications[-1].id
        return last

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None,
                until: int | None = None) -> None:
        """Empty the read tables and replay the log into them (up to `until`)."""
        chosen = self.reset(names)
        self.catch_up(until=until, names=chosen, progress=progress, batch=max(self.batch, REBUILD_BATCH),
                      chunks=REBUILD_CHUNKS)

    def reset(self, names: Iterable[str] | None = None) -> list[str]:
        """Empty the read tables and move their position back to 0."""
        chosen = sorted(names or self.projections)
        with self.turn(), self.engine.begin() as conn:
            self._lock(conn, chosen)
            for name in chosen:
                self.projections[name].clear(conn)
            conn.execute(update(tracking).where(tracking.c.name.in_(chosen)).values(position=0))
        return chosen

    def run_forever(self, interval: float = 0.5, should_stop: Callable[[], bool] = lambda: False) -> None:
        while not should_stop():
            self.catch_up()
            time.sleep(interval)
