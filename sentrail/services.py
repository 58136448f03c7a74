"""Wires the write side, the read side and the settings together for http and the CLI."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import CommandBus, Outcome
from sentrail.config import Config
from sentrail.projections.database import make_engines
from sentrail.projections.registry import all_projections
from sentrail.projections.runner import ProjectionRunner


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

    def execute(self, command: object) -> Outcome:
        """Run a command, then bring the read models up to it so the caller's
        next GET (on any worker) sees the change."""
        outcome = self.bus.handle(command)
        if outcome.position:
            self.runner.catch_up(until=outcome.position)
        return outcome

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as conn:
            yield conn

    def close(self) -> None:
        self.app.close()
        self.writer.dispose()
        self.reader.dispose()
