"""Wires the write side, the read side and the settings together for http and the CLI."""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import Connection, Engine, Table, func, make_url, select

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import CommandBus, Outcome
from sentrail.config import Config
from sentrail.projections.database import make_engines
from sentrail.projections.registry import all_projections
from sentrail.projections.runner import ProjectionRunner
from sentrail.projections.schema import tracking

log = logging.getLogger('sentrail.services')

POLL = 0.02  # how often the leading follower looks at the head of the log while events arrive
IDLE_POLL = 0.25  # ... and once none have for IDLE_AFTER seconds
IDLE_AFTER = 2.0
MAX_LAG = 300  # log entries after which the follower catches up without waiting for `interval`
LEASE_RETRY = 0.5  # how often a waiting follower tries to become the leader


def sqlite_file(database_url: str) -> str | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != 'sqlite' or url.database in (None, '', ':memory:'):
        return None
    return url.database


class FileLock:
    """An exclusive lock on a file beside the SQLite database, shared by the
    processes of one server (and by its threads). Without a path (other
    databases) it is always free: they need no such coordination."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._threads = threading.Lock()  # flock does not exclude threads sharing one open file
        self._opening = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for the lock, hold it for the block. The kernel hands it to the
        next waiter the moment it is released."""
        if self.path is None:
            yield
            return
        with self._threads:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def take(self) -> bool:
        """Take the lock if it is free and keep it until close() (or this
        process ends): a lease."""
        if self.path is None:
            return True
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _file(self) -> int:
        """This process's own open file: a lock on a file opened before fork
        would be shared with the parent instead of excluding it."""
        with self._opening:  # two threads opening it at once would leak one file, and any lock on it
            if self._pid != os.getpid():
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                self._pid = os.getpid()
            return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd, self._pid = None, 0


def write_turn(database_url: str) -> FileLock:
    """This server's SQLite writers (each worker's ingestion writer and every
    projection transaction) take turns: SQLite admits one writer at a time,
    and one that finds it busy sleeps and polls, napping up to 100 ms, while
    a file lock passes to the next the moment it is free. Each holds it for
    its transaction only (the ingestion writer for its INSERT and commit)."""
    path = sqlite_file(database_url)
    return FileLock(f'{path}.write-turn' if path else None)


def follower_lease(database_url: str) -> FileLock:
    """Which worker's follower catches up for the whole server (SQLite)."""
    path = sqlite_file(database_url)
    return FileLock(f'{path}.follower' if path else None)


class Follower:
    """A daemon thread that keeps the read models close to the head of the log,
    so ingestion never waits for them.

    On SQLite one follower does it for the whole server: the followers of all
    workers wait for one lease (a file lock) and only its holder works, so the
    read models are folded once instead of by each worker in turn, and if the
    holder's process dies another takes over. (Elsewhere every follower
    works; the runner applies each entry once.) The leader looks at the head
    of the log every POLL seconds (sooner when its own worker wakes it) and
    catches up at once after a quiet spell; while events keep arriving, when
    MAX_LAG entries are waiting or `interval` has passed, so each pass folds
    a large batch; and as soon as the stream pauses, so the last events of a
    burst are visible within about POLL."""

    def __init__(self, runner: ProjectionRunner, log_state: Callable[[], tuple[int, int]], interval: float,
                 retry_interval: float, lease: FileLock) -> None:
        self.runner = runner
        self.log_state = log_state
        self.interval = interval
        self.retry_interval = retry_interval
        self.lease = lease
        self.pid = os.getpid()
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name='sentrail-follower', daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wanted.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wanted.set()
        self._thread.join(timeout)
        self.lease.close()

    def _run(self) -> None:
        while not self.lease.take():
            if self._stopping.wait(LEASE_RETRY):
                return
        done, previous = -1, -1
        moved = last = float('-inf')
        while not self._stopping.is_set():
            now = time.monotonic()
            head = self._head()
            if head is not None:
                if head != previous:
                    moved = now
                if head != done and (head == previous or head - done >= MAX_LAG or now - last >= self.interval):
                    last = now
                    done = head if self._catch_up() else -1
                previous = head
            self._wanted.wait(POLL if now - moved < IDLE_AFTER else IDLE_POLL)
            self._wanted.clear()
            self._stopping.wait(POLL / 4)  # a stream of wakes does not make a stream of queries

    def _head(self) -> int | None:
        try:
            return self.log_state()[0]
        except Exception:  # noqa: BLE001 - the thread must outlive a database hiccup
            log.exception('reading the head of the log failed')
            self._stopping.wait(self.retry_interval)
            return None

    def _catch_up(self) -> bool:
        try:
            self.runner.catch_up()
        except Exception:  # noqa: BLE001 - the thread must outlive a failed batch
            log.exception('background catch-up failed; retrying')
            self._stopping.wait(self.retry_interval)
            return False
        return True


class LogState:
    """(head of the log, position of the slowest read model), asked before every
    read of ingested data, for every key or token and by the follower every
    POLL: one statement compiled once. On a SQLite file it runs on a connection
    of each thread's own in autocommit mode (each statement sees the latest
    commit), because a pool checkout costs more than the statement."""

    def __init__(self, engine: Engine, events: Table) -> None:
        self.engine = engine
        query = select(select(func.max(events.c.id)).scalar_subquery(),
                       select(func.min(tracking.c.position)).scalar_subquery())
        self.sql = str(query.compile(dialect=engine.dialect))
        self.path = sqlite_file(engine.url.render_as_string(hide_password=False))
        self.local = threading.local()
        self.opened: list[tuple[int, sqlite3.Connection]] = []

    def __call__(self) -> tuple[int, int]:
        if self.path is None:
            with self.engine.connect() as conn:
                head, slowest = conn.exec_driver_sql(self.sql).one()
        else:
            head, slowest = self._connection().execute(self.sql).fetchone()
        return head or 0, slowest or 0

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self.local, 'conn', None)
        if conn is None or self.local.pid != os.getpid():  # a thread-local survives fork; its connection may not
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.local.conn, self.local.pid = conn, os.getpid()
            self.opened.append((os.getpid(), conn))
        return conn

    def close(self) -> None:
        for pid, conn in self.opened:
            if pid == os.getpid():
                conn.close()
        self.opened.clear()


class Services:
    """One per process: the event store application, the command bus, the
    projection runner and the read engine."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = Sentrail(config.database_url)
        self.writer, self.reader = make_engines(config.database_url)
        self.write_turn = write_turn(config.database_url)
        self.runner = ProjectionRunner(self.app, self.writer, all_projections(), turn=self.write_turn.held)
        self.runner.create_tables()
        self.bus = CommandBus(self.app)
        self._follower: Follower | None = None
        self._follower_lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []
        self._log_state = LogState(self.reader, self.app.recorder.events_record_cls.__table__)

    def execute(self, command: object) -> Outcome:
        """Run a command, then bring the read models up to it so the caller's
        next GET (on any worker) sees the change."""
        outcome = self.bus.handle(command)
        if outcome.position:
            self.runner.catch_up(until=outcome.position)
        return outcome

    def catch_up_soon(self) -> None:
        """Ask this process's follower thread to catch the read models up.

        The thread starts on first use and again in a forked child (a thread
        does not survive fork), so it is always born in the worker process."""
        follower = self._follower
        if follower is None or follower.pid != os.getpid():
            with self._follower_lock:
                follower = self._follower
                if follower is None or follower.pid != os.getpid():
                    follower = self._follower = Follower(
                        self.runner, self.log_state, self.config.follow_interval, self.config.catch_up_interval,
                        follower_lease(self.config.database_url))
        follower.wake()

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run `callback` first when closing: threads built on these services
        (the ingestion writer) finish before the engines go away."""
        self._closers.append(callback)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as conn:
            yield conn

    def log_state(self) -> tuple[int, int]:
        """(head of the log, position of the slowest read model)."""
        return self._log_state()

    def close(self) -> None:
        for callback in reversed(self._closers):
            callback()
        follower = self._follower
        if follower is not None and follower.pid == os.getpid():
            follower.stop()
        self._log_state.close()
        self.write_turn.close()
        self.app.close()
        self.writer.dispose()
        self.reader.dispose()
