"""Brings projections up to the head of the notification log, exactly once each."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from eventsourcing.application import Application
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sentrail.projections.base import Projection
from sentrail.projections.schema import metadata, tracking

BATCH = 1000

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
    """Reads the log in order and applies each batch, with its tracking position,
    in one transaction. The tracking row is locked first (FOR UPDATE, or SQLite's
    BEGIN IMMEDIATE), so concurrent runners serialise and the loser finds the work
    done: nothing is applied twice, nothing skipped, even after a crash mid-batch."""

    def __init__(self, app: Application, engine: Engine, projections: Iterable[Projection],
                 batch: int = BATCH) -> None:
        self.app = app
        self.engine = engine
        self.projections = {p.name: p for p in projections}
        self.batch = batch
        self._topics = {p.name: p.topics() for p in self.projections.values()}

    def create_tables(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)
        insert = (postgresql.insert if self.engine.dialect.name == 'postgresql' else sqlite.insert)
        with self.engine.begin() as conn:
            for name in self.projections:
                conn.execute(insert(tracking).values(name=name, position=0).on_conflict_do_nothing())

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tracking.c.name, tracking.c.position)).all()
        return {name: position for name, position in rows}

    def status(self) -> list[Status]:
        head = self.head()
        positions = self.positions()
        return [Status(name, positions.get(name, 0), head) for name in self.projections]

    def catch_up(self, until: int | None = None, names: Iterable[str] | None = None,
                 progress: Progress | None = None) -> None:
        """Apply everything up to `until` (default: the head) to each projection."""
        target = self.head() if until is None else until
        positions = self.positions()
        for name in (names or self.projections):
            if positions.get(name, 0) < target:
                self._advance(self.projections[name], target, progress)

    def _advance(self, projection: Projection, target: int, progress: Progress | None) -> None:
        while True:
            with self.engine.begin() as conn:
                position = self._lock(conn, projection.name)
                if position >= target:
                    return
                notifications = self.app.recorder.select_notifications(
                    start=position, limit=self.batch, stop=target,
                    topics=self._topics[projection.name], inclusive_of_start=False,
                )
                for notification in notifications:
                    projection.apply(conn, self.app.mapper.to_domain_event(notification), notification.id)
                done = len(notifications) < self.batch
                new_position = target if done else notifications[-1].id
                conn.execute(update(tracking).where(tracking.c.name == projection.name)
                             .values(position=new_position))
            if progress:
                progress(projection.name, new_position, target)
            if done:
                return

    def _lock(self, conn: Connection, name: str) -> int:
        query = select(tracking.c.position).where(tracking.c.name == name)
        if conn.dialect.name == 'postgresql':
            query = query.with_for_update()
        return conn.execute(query).scalar_one()

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> None:
        """Empty the read tables and replay the whole log into them."""
        chosen = list(names or self.projections)
        for name in chosen:
            projection = self.projections[name]
            with self.engine.begin() as conn:
                self._lock(conn, name)
                projection.clear(conn)
                conn.execute(update(tracking).where(tracking.c.name == name).values(position=0))
        self.catch_up(names=chosen, progress=progress)

    def run_forever(self, interval: float = 0.5, should_stop: Callable[[], bool] = lambda: False) -> None:
        while not should_stop():
            self.catch_up()
            time.sleep(interval)
