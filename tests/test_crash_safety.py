"""kill -9 of web workers in the middle of ingestion: every event answered 2xx is
in the event store, and after catch-up in the events read model."""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import orjson
import requests
from sqlalchemy import select

from sentrail.config import Config
from sentrail.projections.events import events
from sentrail.services import Services
from tests.conftest import LiveServer
from tests.test_ingest_http import sentry_auth, stored_ids
from tests.test_security import start


class Senders:
    """Threads posting events with fresh ids, noting which ones were answered 2xx."""

    def __init__(self, url: str, project_id: str, public: str, threads: int = 4) -> None:
        self.url = f'{url}/api/{project_id}/store/'
        self.headers = sentry_auth(public)
        self.accepted: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _send(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            event_id = uuid.uuid4().hex
            try:
                response = session.post(self.url, headers=self.headers, timeout=30,
                                        data=orjson.dumps({'event_id': event_id, 'message': 'kill -9 me',
                                                           'level': 'error'}))
            except requests.RequestException as error:  # the worker died under this request
                self.failures.append(type(error).__name__)
                session = requests.Session()
                continue
            self.statuses.append(response.status_code)
            if 200 <= response.status_code < 300:
                assert response.json()['id'] == event_id
                self.accepted.append((time.monotonic(), event_id))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def test_killing_workers_mid_ingestion_loses_no_acknowledged_event(database_url):
    server = LiveServer(database_url, workers=2)
    credentials = server.bootstrap()
    start(server)
    public = credentials['dsn'].split('//')[1].split('@')[0]
    killed: list[int] = []
    try:
        senders = Senders(server.url, credentials['project']['id'], public)
        time.sleep(1.0)
        for _ in range(2):  # each of the original workers, mid-stream
            victim = sorted(set(server.worker_pids()) - set(killed))[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            time.sleep(1.0)
        deadline = time.monotonic() + 20
        while not (len(set(server.worker_pids()) - set(killed)) == 2 and senders.accepted
                   and senders.accepted[-1][0] > time.monotonic() - 0.5) and time.monotonic() < deadline:
            time.sleep(0.1)
        after_kills = time.monotonic()
        time.sleep(1.0)
        senders.stop()
    finally:
        server.stop()
    assert not [s for s in senders.statuses if s >= 500 or not 200 <= s < 300], senders.statuses
    assert sum(1 for moment, _ in senders.accepted if moment > after_kills) > 0, 'replacement workers never answered'
    acknowledged = {event_id for _, event_id in senders.accepted}
    assert len(acknowledged) > 50
    services = Services(Config(database_url=database_url))
    try:
        missing = acknowledged - set(stored_ids(services))
        assert not missing, f'{len(missing)} of {len(acknowledged)} acknowledged events are not in the store'
        services.runner.catch_up()
        with services.read() as conn:
            projected = set(conn.execute(select(events.c.event_id)).scalars())
        assert not acknowledged - projected
    finally:
        services.close()
    print(f'\n{len(acknowledged)} events acknowledged, {len(senders.failures)} requests cut off by kill -9 '
          f'of workers {killed}; none lost')
