"""A projection that records every notification it applies, to prove exactly-once.

Run as a module it is a standing follower, so a test can SIGKILL it mid-batch:
`python -m tests.support.markers DATABASE_URL BATCH DELAY`.
"""
from __future__ import annotations

import sys
import time

from sqlalchemy import BigInteger, Column, Connection, Integer, Table, insert

from sentrail.commands.application import Sentrail
from sentrail.domain.sequence import Sequence
from sentrail.projections.base import Projection, handles
from sentrail.projections.database import make_engines
from sentrail.projections.runner import ProjectionRunner
from sentrail.projections.schema import metadata

markers = Table(
    'test_markers', metadata,
    Column('row', Integer, primary_key=True, autoincrement=True),
    Column('position', BigInteger, nullable=False),
    Column('value', Integer, nullable=False),
)


class MarkerProjection(Projection):
    name = 'markers'
    tables = (markers,)
    delay = 0.0

    @handles(Sequence.Advanced)
    def advanced(self, conn: Connection, event: Sequence.Advanced, position: int) -> None:
        conn.execute(insert(markers).values(position=position, value=event.value))
        if self.delay:
            time.sleep(self.delay)


def marker_runner(app: Sentrail, database_url: str, batch: int = 1000, delay: float = 0.0) -> ProjectionRunner:
    projection = MarkerProjection()
    projection.delay = delay
    writer, _ = make_engines(database_url)
    runner = ProjectionRunner(app, writer, [projection], batch=batch)
    runner.create_tables()
    return runner


def append_events(app: Sentrail, kind: str, count: int, per_save: int = 100) -> None:
    """Append `count` Sequence.Advanced events in saves of `per_save`."""
    sequence = app.find(Sequence.create_id(kind)) or Sequence(kind)
    for start in range(0, count, per_save):
        for _ in range(min(per_save, count - start)):
            sequence.allocate()
        app.save(sequence)


if __name__ == '__main__':
    url, batch, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    marker_runner(Sentrail(url), url, batch, delay).run_forever(interval=0.05)
