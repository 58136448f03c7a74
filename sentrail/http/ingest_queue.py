"""Group commit for ingestion: request threads queue their events, and one
writer thread per process records whatever has queued up as ONE `IngestEvents`
command, then answers every request in it.

A request is answered only after its events are committed, so a 2xx means the
event is durable (a worker killed mid-batch loses only requests it had not
answered). Saving many events at once costs far less per event than saving
each alone (one transaction, each issue and sequence touched once), and a
single writer per process keeps the process's request threads from queueing
on SQLite's write lock one by one.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, OperationalError, Recording
from sqlalchemy import Connection, Select, bindparam, func, insert, select

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import CommandBus
from sentrail.commands.ingest import IngestEvent, IngestEvents
from sentrail.services import Services

log = logging.getLogger('sentrail.ingest')

MAX_BATCH = 64  # events per save; more waiting requests go into the next batch
WAIT_SECONDS = 20.0  # how long a request waits for its batch before answering 503
MAX_KNOWN = 10_000  # aggregates the writer keeps in memory
MAX_CHANGES = 2_000  # log entries one sync looks at; beyond that it forgets everything


class Unavailable(Exception):
    """The events could not be recorded in time. They may still be recorded
    later; a retry with the same event ids is stored once."""


class WriterStore(Sentrail):
    """The event store as one ingestion writer sees it. The aggregates a batch
    reads (issues, releases, sequences) stay in memory for the next batches,
    and one query per batch (`sync`) finds those another process changed
    since, so a batch reads from the database only what is new to it. (The
    library's cache instead asks the database once per aggregate per batch
    whether it changed, and copies it.) A batch is written with one INSERT.

    One thread only. A read issue is at most one batch old, as with any read
    before a write; what a batch writes is checked by the store's version
    conflict as always. A failed save forgets everything, since the batch may
    have changed the aggregates it held.

    Only the INSERT and its commit wait for the server's write turn
    (`turn`): the batch is grouped and encoded before, while the other
    writers hold it. The store's version check, not the turn, is what keeps
    racing writers apart."""

    name = Sentrail.name  # the same store, not one of its own

    def __init__(self, database_url: str, turn: Callable[[], AbstractContextManager] = nullcontext) -> None:
        super().__init__(database_url)
        self._turn = turn
        self._known: dict[UUID, Aggregate] = {}
        self._position: int | None = None
        table = self._table = self.recorder.events_record_cls.__table__
        # Built once: building and keying a statement costs more than running it.
        self._head = select(func.max(table.c.id))
        self._changes = (select(table.c.id, table.c.originator_id, table.c.originator_version)
                         .where(table.c.id > bindparam('after')).order_by(table.c.id).limit(MAX_CHANGES))
        self._insert = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        self._conn: Connection | None = None  # held by the writer thread: a pool checkout per query costs more

    def sync(self) -> None:
        """Forget the aggregates that changed in the log since the last sync
        (what this writer saved itself it holds as saved)."""
        rows = None if self._position is None else self._query(self._changes, after=self._position)
        if rows is None or len(rows) == MAX_CHANGES:
            self._known.clear()
            self._position = self._query(self._head)[0][0] or 0
            return
        for _, originator_id, version in rows:
            known = self._known.get(originator_id)
            if known is not None and known.version < version:
                del self._known[originator_id]
        if rows:
            self._position = rows[-1][0]

    def _query(self, statement: Select, **params: Any) -> list:
        """Run a read on the held connection; one that the server closed
        (a restart, an idle timeout) is replaced once."""
        retried = False
        while True:
            conn = self._connection()
            try:
                rows = conn.execute(statement, params).all()
                conn.rollback()  # ends the read: the next batch must see newer commits
                return rows
            except sqlalchemy.exc.OperationalError as error:
                self._disconnect()
                if retried or not error.connection_invalidated:
                    raise OperationalError(error) from error
                retried = True

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.recorder.datastore.engine.connect()
        return self._conn

    def _disconnect(self) -> None:
        """After a database error the held connection may be unusable: the next use opens another."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlalchemy.exc.SQLAlchemyError:
                log.warning('closing the ingestion writer\'s connection failed', exc_info=True)

    def close(self) -> None:
        self._disconnect()
        super().close()

    def forget(self) -> None:
        self._known.clear()

    def find(self, aggregate_id: UUID) -> Aggregate | None:
        known = self._known.get(aggregate_id)
        if known is not None:
            return known
        found = super().find(aggregate_id)
        if found is not None:
            self._keep({aggregate_id: found})
        return found

    def find_many(self, aggregate_ids: list[UUID]) -> dict[UUID, Aggregate]:
        """The issues a batch may name: those held already, and one query for the rest."""
        found = {i: self._known[i] for i in aggregate_ids if i in self._known}
        missing = [i for i in aggregate_ids if i not in found]
        if missing:
            loaded = super().find_many(missing)
            self._keep(loaded)
            found.update(loaded)
        return found

    def _keep(self, aggregates: dict[UUID, Aggregate]) -> None:
        if len(self._known) + len(aggregates) > MAX_KNOWN:
            self._known.clear()
        self._known.update(aggregates)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording]:
        try:
            return super().save(*objs, **kwargs)
        except BaseException:
            self.forget()
            raise

    def _record(self, processing_event: ProcessingEvent) -> list[Recording]:
        """What the library's recorder does, with one Core INSERT ... RETURNING
        instead of ORM objects, which cost more than the insert itself for a
        batch: the same table, the same PostgreSQL table lock (notification ids
        in commit order), the same errors (a version conflict is an
        IntegrityError the bus retries on)."""
        events = processing_event.events
        stored = [self.mapper.to_stored_event(event) for event in events]
        rows = [{'originator_id': s.originator_id, 'originator_version': s.originator_version, 'topic': s.topic,
                 'state': s.state} for s in stored]
        conn = self._connection()
        try:
            with self._turn(), conn.begin():
                if conn.dialect.name == 'postgresql':
                    conn.exec_driver_sql(f'LOCK TABLE {self._table.name} IN EXCLUSIVE MODE')
                ids = conn.execute(self._insert, rows).scalars().all()
                if conn.dialect.name == 'postgresql':
                    conn.exec_driver_sql(f'NOTIFY {self.recorder.channel_name}')
        except sqlalchemy.exc.IntegrityError as error:
            raise IntegrityError(error) from error
        except sqlalchemy.exc.OperationalError as error:
            self._disconnect()
            raise OperationalError(error) from error
        return [Recording(event, Notification(originator_id=s.originator_id, originator_version=s.originator_version,
                                              topic=s.topic, state=s.state, id=id_))
                for event, s, id_ in zip(events, stored, ids, strict=True)]


@dataclass
class Pending:
    """One request's events and, once the writer is done, its outcome."""

    commands: list[IngestEvent]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        self.done.set()


class Recorder(Protocol):
    """What a writer thread records its batches with, built in the writer's
    own process: a database connection does not survive fork."""

    def record(self, commands: list[IngestEvent]) -> None:
        """Record the batch durably, or raise and record none of it."""

    def close(self) -> None: ...


class EventStoreRecorder:
    """Records a batch as one `IngestEvents` command on the writer's own view
    of the event store."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = WriterStore(services.config.database_url, services.write_turn.held)
        self.bus = CommandBus(self.store)

    def record(self, commands: list[IngestEvent]) -> None:
        try:
            self.store.sync()
            self.bus.handle(IngestEvents(commands))
        except Exception:
            self.store.forget()  # the batch may have changed the aggregates it held
            raise

    def close(self) -> None:
        self.store.close()


class IngestQueue:
    """The per-process queue and its writer thread. The thread (and its
    recorder) start on first use, and again in a forked child (threads do not
    survive fork), like the projection follower."""

    def __init__(self, services: Services, max_batch: int = MAX_BATCH, wait: float | None = None,
                 recorder: Callable[[Services], Recorder] = EventStoreRecorder) -> None:
        self.services = services
        self.max_batch = max_batch
        self.wait = WAIT_SECONDS if wait is None else wait
        self.batches = 0  # saves that recorded a batch, for logs and tests
        self._new_recorder = recorder
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._recorder: Recorder | None = None
        self._pid = 0
        self._lock = threading.Lock()
        services.on_close(self.stop)

    def submit(self, commands: list[IngestEvent]) -> None:
        """Record the events; return once they are committed. Raises Unavailable
        after `wait` seconds, or the error that recording them raised."""
        if not commands:
            return
        pending = Pending(commands)
        self._ensure_writer()
        self._queue.put(pending)
        if not pending.done.wait(self.wait):
            raise Unavailable(f'not recorded within {self.wait:g} s')
        if pending.error is not None:
            raise pending.error

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then end this process's writer."""
        if self._pid != os.getpid() or self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._recorder is not None:
            self._recorder.close()

    def _ensure_writer(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()  # whatever a parent process queued is not ours
                self._recorder = self._new_recorder(self.services)
                self._thread = threading.Thread(target=self._run, args=(self._recorder,),
                                                name='sentrail-ingest-writer', daemon=True)
                self._thread.start()
                self._pid = os.getpid()

    def _run(self, recorder: Recorder) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = [first], False
            try:
                batch, stopping = self._gather(first)
                self._commit(recorder, batch)
                self.services.catch_up_soon()
            except Exception as error:  # noqa: BLE001 - the writer must outlive whatever a batch meets
                log.exception('the ingestion writer failed a batch')
                for pending in batch:
                    if not pending.done.is_set():
                        pending.finish(error)
            if stopping:
                return

    def _gather(self, first: Pending) -> tuple[list[Pending], bool]:
        """The first request and whatever else queued up while the writer
        recorded the previous batch: (batch, whether to stop after it)."""
        batch, size = [first], len(first.commands)
        while size < self.max_batch:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is None:
                return batch, True
            batch.append(pending)
            size += len(pending.commands)
        return batch, False

    def _commit(self, recorder: Recorder, batch: list[Pending]) -> None:
        """One save for the whole batch. If it fails, each request is tried on
        its own, so one bad request fails alone and the others are recorded."""
        try:
            recorder.record([c for pending in batch for c in pending.commands])
        except Exception as error:  # noqa: BLE001 - handed to the waiting request(s)
            if len(batch) == 1:
                log.warning('recording %d ingested event(s) failed: %r', len(batch[0].commands), error)
                batch[0].finish(error)
                return
            for pending in batch:
                self._commit(recorder, [pending])
            return
        self.batches += 1
        for pending in batch:
            pending.finish()
