"""Wires the write side, the read side and the settings together for http and the CLI."""
from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import CommandBus, Outcome
from sentrail.config import Config
from sentrail.projections.database import make_engines
from sentrail.projections.registry import all_projections
from sentrail.projections.runner import ProjectionRunner

log = logging.getLogger('sentrail.services')


class Follower:
    """A daemon thread that brings the read models up to the head whenever it is
    woken. Ingestion wakes it instead of catching up itself, so a client is not
    kept waiting. The first wake after a quiet spell catches up at once; under
    a stream of events it catches up at most once per `interval`, so each pass
    folds a large batch and holds the write lock once rather than per event."""

    def __init__(self, runner: ProjectionRunner, interval: float, retry_interval: float) -> None:
        self.runner = runner
        self.interval = interval
        self.retry_interval = retry_interval
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

    def _run(self) -> None:
        last = float('-inf')
        while True:
            self._wanted.wait()
            if self._stopping.wait(max(0.0, last + self.interval - time.monotonic())):
                return
            self._wanted.clear()
            last = time.monotonic()
            try:
                self.runner.catch_up()
            except Exception:  # noqa: BLE001 - the thread must outlive a failed batch
                log.exception('background catch-up failed; retrying')
                self._wanted.set()
                self._stopping.wait(self.retry_interval)


class Services:
    """One per process: the event store application, the command bus, the
    projection runner and the read engine."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = Sentrail(config.database_url)
        self.writer, self.reader = make_engines(config.database_url)
        self.runner = ProjectionRunner(self.app, self.writer, all_projections())
        self.runner.create_tables()
        self.bus = CommandBus(self.app)
        self._follower: Follower | None = None
        self._follower_lock = threading.Lock()

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
                    follower = self._follower = Follower(self.runner, self.config.follow_interval,
                                                          self.config.catch_up_interval)
        follower.wake()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as conn:
            yield conn

    def close(self) -> None:
        follower = self._follower
        if follower is not None and follower.pid == os.getpid():
            follower.stop()
        self.app.close()
        self.writer.dispose()
        self.reader.dispose()
