"""Rebuilds you can trust: over a sizeable store, the live read models equal a
rebuild from position 0, and a follower killed with SIGKILL five times during a
catch-up still ends with exactly the tables of a clean rebuild."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sentrail.config import Config
from sentrail.services import Services
from tests.conftest import DATABASES, module_database_url
from tests.support.snapshot import differences, snapshot
from tests.support.store import generate_store

pytestmark = pytest.mark.shared_database

EVENTS = int(os.environ.get('SENTRAIL_TEST_STORE_EVENTS', '50000'))


@pytest.fixture(scope='module', params=DATABASES)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One generated store per database, its projections kept live while it grew."""
    url = module_database_url(request, tmp_path_factory, 'store')
    services = Services(Config(database_url=url))
    generate_store(services, events=EVENTS)
    services.runner.catch_up()
    services.clean = None  # the tables of a rebuild from 0, once one was made
    yield services
    services.close()


def clean_rebuild(store) -> dict:
    if store.clean is None:
        store.runner.rebuild()
        store.clean = snapshot(store.runner)
    return store.clean


def test_live_projections_equal_a_rebuild_from_zero(store):
    live = snapshot(store.runner)
    assert sum(len(rows) for rows in live.values()) > EVENTS
    assert differences(live, clean_rebuild(store)) == {}


def test_follower_killed_five_times_ends_equal_to_a_clean_rebuild(store):
    clean = clean_rebuild(store)
    store.runner.reset()
    env = {**os.environ, 'SENTRAIL_DATABASE_URL': store.config.database_url}
    rng = random.Random(5)
    head, landed = store.runner.head(), 0

    def position() -> int:
        return min(status.position for status in store.runner.status())

    for _ in range(5):
        before = position()
        follower = subprocess.Popen([sys.executable, '-m', 'sentrail.cli', 'projections', 'run'], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while position() == before < head and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere inside the next batch
        os.kill(follower.pid, signal.SIGKILL)
        follower.wait()
        landed += position() < head
    follower = subprocess.Popen([sys.executable, '-m', 'sentrail.cli', 'projections', 'run'], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while any(status.lag for status in store.runner.status()) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        follower.terminate()
        follower.wait()
    assert landed == 5  # every kill landed mid catch-up
    assert differences(clean, snapshot(store.runner)) == {}
