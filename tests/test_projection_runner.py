"""The projection runner applies every notification exactly once: with
concurrent runners, with concurrent writers, and across a SIGKILL mid-batch."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from sentrail.commands.application import Sentrail
from sentrail.projections.base import Fold
from sentrail.projections.schema import tracking
from tests.support.markers import append_events, marker_runner, markers


def marker_positions(runner) -> list[int]:
    with runner.engine.connect() as conn:
        return list(conn.execute(select(markers.c.position).order_by(markers.c.position)).scalars())


def duplicates(runner) -> int:
    with runner.engine.connect() as conn:
        counted = select(markers.c.position, func.count().label('n')).group_by(markers.c.position).subquery()
        return conn.execute(select(func.count()).select_from(counted).where(counted.c.n > 1)).scalar_one()


def expected_positions(app: Sentrail) -> list[int]:
    notifications = app.recorder.select_notifications(start=0, limit=10 ** 6, inclusive_of_start=False)
    return [n.id for n in notifications if n.topic.endswith('Sequence.Advanced')]


def test_catch_up_applies_each_event_once_and_tracks_position(database_url):
    app = Sentrail(database_url)
    runner = marker_runner(app, database_url, batch=50)
    append_events(app, 'a', 230)
    runner.catch_up()
    assert marker_positions(runner) == expected_positions(app)
    assert runner.status()[0].lag == 0
    runner.catch_up()
    assert len(marker_positions(runner)) == 230


def test_a_transaction_takes_several_batches_as_chunks_of_one_fold(database_url):
    """A rebuild reads several batches per transaction (fewer, larger
    transactions, with the decoded entries' memory bounded by the batch): each
    projection folds them as chunks and finishes once, before the position moves."""
    app = Sentrail(database_url)
    runner = marker_runner(app, database_url, batch=50)
    append_events(app, 'a', 230)
    projection = runner.projections['markers']
    folds: list[tuple[list[int], int]] = []

    class RecordingFold(Fold):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            self.chunks: list[int] = []

        def add(self, batch) -> None:
            self.chunks.append(len(batch))
            super().add(batch)

        def finish(self) -> None:
            tracked = select(tracking.c.position).where(tracking.c.name == 'markers')
            folds.append((self.chunks, self.conn.execute(tracked).scalar_one()))

    projection.fold = lambda conn: RecordingFold(projection, conn)
    runner.catch_up(chunks=3)
    first = expected_positions(app)[149]
    assert folds == [([50, 50, 50], 0), ([50, 30], first)]
    assert marker_positions(runner) == expected_positions(app)
    assert runner.status()[0].lag == 0


def test_a_batch_read_before_a_reset_is_read_again(database_url):
    """A runner reads and decodes a batch before it takes the write turn; if
    another runner resets the read model in between, what the lock finds
    decides, and the log is read again from there."""
    app = Sentrail(database_url)
    runner = marker_runner(app, database_url, batch=50)
    other = marker_runner(app, database_url)
    append_events(app, 'a', 120)
    runner.catch_up()
    append_events(app, 'b', 30)
    resets: list[str] = []

    @contextmanager
    def turn_after_a_reset() -> Iterator[None]:
        if not resets:
            resets.extend(other.reset())  # a rebuild elsewhere, between the read and the lock
        yield

    runner.turn = turn_after_a_reset
    runner.catch_up()
    assert resets == ['markers']
    assert marker_positions(runner) == expected_positions(app)
    assert duplicates(runner) == 0


def test_concurrent_runners_and_writers_lose_and_repeat_nothing(database_url):
    app = Sentrail(database_url)
    runners = [marker_runner(Sentrail(database_url), database_url, batch=40) for _ in range(3)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def follow(runner) -> None:
        try:
            while not stop.is_set():
                runner.catch_up()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    def write(kind: str) -> None:
        append_events(Sentrail(database_url), kind, 300, per_save=7)

    followers = [threading.Thread(target=follow, args=(r,)) for r in runners]
    writers = [threading.Thread(target=write, args=(k,)) for k in ('w1', 'w2')]
    for thread in followers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in followers:
        thread.join()
    assert not errors
    runners[0].catch_up()
    assert duplicates(runners[0]) == 0
    assert marker_positions(runners[0]) == expected_positions(app)
    assert len(marker_positions(runners[0])) == 600


def test_follower_killed_mid_batch_resumes_exactly_once(database_url):
    app = Sentrail(database_url)
    runner = marker_runner(app, database_url, batch=100)
    append_events(app, 'k', 1500)
    env = {**os.environ, 'PYTHONPATH': os.getcwd()}
    for _ in range(4):
        seen = len(marker_positions(runner))
        follower = subprocess.Popen([sys.executable, '-m', 'tests.support.markers', database_url, '100', '0.002'],
                                    env=env)
        deadline = time.monotonic() + 20
        while len(marker_positions(runner)) == seen and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # into the next batch, which the kill must roll back whole
        os.kill(follower.pid, signal.SIGKILL)
        follower.wait()
        append_events(app, 'k', 100)
    applied_before_cleanup = len(marker_positions(runner))
    runner.catch_up()
    assert 0 < applied_before_cleanup
    assert duplicates(runner) == 0
    assert marker_positions(runner) == expected_positions(app)
