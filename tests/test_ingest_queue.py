"""Group commit for ingestion: requests that wait together are recorded by one
save, each answered only once its events are stored; a bad request fails
alone; a request kept waiting too long is told to retry (and its retry is
stored once); an answered event survives its worker being killed."""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import orjson
import pytest
import requests
from falcon import testing
from sqlalchemy import func, select, text

from sentrail.commands.ingest import IngestEvent, IngestEvents
from sentrail.config import Config
from sentrail.domain.actor import SYSTEM
from sentrail.domain.ingested import ingested_id
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.http import ingest_queue
from sentrail.http.app import create_app
from sentrail.http.ingest_queue import IngestQueue, Unavailable
from sentrail.projections.events import events
from sentrail.services import Services, follower_lease
from tests.conftest import LiveServer
from tests.test_ingest_http import public_key, sentry_auth, stored_ids
from tests.test_issue_read import project_row


def command(project, event_id: str, message: str = 'queued') -> IngestEvent:
    data = normalize_event({'event_id': event_id, 'message': message}, received_at=time.time(),
                           project_id=project.number)
    return IngestEvent(project_id=UUID(project.id), project_number=project.number, data=data, actor=SYSTEM)


@contextmanager
def store_locked(services: Services):
    """Hold the event store's write lock: the writer's next save waits for it."""
    with services.writer.begin() as conn:  # on SQLite, BEGIN IMMEDIATE takes the lock
        if conn.dialect.name == 'postgresql':
            table = services.app.recorder.events_record_cls.__table__.name
            conn.execute(text(f'LOCK TABLE {table} IN EXCLUSIVE MODE'))  # what the store's inserts take
        yield


def submit_in_thread(queue: IngestQueue, commands: list[IngestEvent], outcomes: dict, name: str) -> threading.Thread:
    def run() -> None:
        try:
            queue.submit(commands)
            outcomes[name] = 'ok'
        except Exception as error:  # noqa: BLE001 - asserted by the test
            outcomes[name] = error
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def eventually(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'condition not met in time'
        time.sleep(0.05)


def test_requests_waiting_together_are_one_save_and_answered_once_stored(services, install):
    project = project_row(services)
    services.bus.handle(IngestEvents([command(project, 'e' * 32)]))
    queue = IngestQueue(services)
    outcomes: dict = {}
    ids = [f'{n + 1:032x}' for n in range(12)]  # (the nil id would be replaced)
    with store_locked(services):
        first = submit_in_thread(queue, [command(project, ids[0])], outcomes, 'first')
        time.sleep(0.3)  # the writer holds `first` and waits for the lock
        requests_ = {f'r{n}': [command(project, ids[n])] for n in range(1, 10)}
        requests_['pair'] = [command(project, ids[10]), command(project, ids[11], 'second of a pair')]
        requests_['again in batch'] = [command(project, ids[3])]  # the same event id twice in one batch
        requests_['stored before'] = [command(project, 'e' * 32), command(project, 'f' * 32)]
        threads = [submit_in_thread(queue, commands, outcomes, name) for name, commands in requests_.items()]
        time.sleep(0.3)
        assert outcomes == {}  # nobody is answered before the save commits
    for thread in [first, *threads]:
        thread.join(30)
    assert outcomes == {name: 'ok' for name in ['first', *requests_]}
    assert queue.batches == 2  # `first`, then everything that queued behind it
    assert sorted(stored_ids(services)) == sorted({'e' * 32, 'f' * 32, *ids})
    assert stored_ids(services)[1] == ids[0]


def test_a_failing_request_fails_alone(services, install):
    project = project_row(services)
    queue = IngestQueue(services)
    outcomes: dict = {}
    broken = IngestEvent(project_id=UUID(project.id), project_number=project.number, data=None, actor=SYSTEM)
    with store_locked(services):
        threads = [submit_in_thread(queue, [command(project, 'a' * 32)], outcomes, 'before')]
        time.sleep(0.3)
        threads += [submit_in_thread(queue, [command(project, 'b' * 32)], outcomes, 'good'),
                    submit_in_thread(queue, [command(project, 'c' * 32), broken], outcomes, 'bad'),
                    submit_in_thread(queue, [command(project, 'd' * 32)], outcomes, 'also good')]
        time.sleep(0.3)
    for thread in threads:
        thread.join(30)
    assert outcomes['before'] == outcomes['good'] == outcomes['also good'] == 'ok'
    assert isinstance(outcomes['bad'], (TypeError, AttributeError))  # what recording it raised
    assert sorted(stored_ids(services)) == ['a' * 32, 'b' * 32, 'd' * 32]  # nothing of the bad request
    queue.submit([command(project, 'e' * 32)])  # the writer goes on
    assert stored_ids(services)[-1] == 'e' * 32  # answered means stored


def test_a_request_kept_waiting_gets_503_and_its_retry_is_stored_once(services, install, monkeypatch):
    monkeypatch.setattr(ingest_queue, 'WAIT_SECONDS', 0.3)
    client = testing.TestClient(create_app(services=services))
    event_id = uuid.uuid4().hex
    path = f'/api/{install.project_id}/store/'
    body = orjson.dumps({'event_id': event_id, 'message': 'slow store'})
    with store_locked(services):
        started = time.monotonic()
        response = client.simulate_post(path, body=body, headers=sentry_auth(public_key(install)))
        assert time.monotonic() - started < 5
    assert response.status_code == 503, response.text
    assert response.json == {'detail': 'The event could not be stored right now; please retry'}
    assert response.headers['X-Sentry-Error'] == response.json['detail']
    assert int(response.headers['Retry-After']) > 0
    eventually(lambda: stored_ids(services) == [event_id])  # late, but not lost
    retried = client.simulate_post(path, body=body, headers=sentry_auth(public_key(install)))
    assert retried.status_code == 200 and retried.json == {'id': event_id}
    assert stored_ids(services) == [event_id]
    with pytest.raises(Unavailable), store_locked(services):
        IngestQueue(services, wait=0.1).submit([command(project_row(services), '1' * 32)])


def test_what_another_process_did_to_an_issue_counts_for_the_next_event(services, install, config):
    """The writer keeps issues in memory between batches; a change made elsewhere
    (here: resolving through another process's store) must still reach the next
    event, which then reopens the issue."""
    project = project_row(services)
    queue = IngestQueue(services)
    queue.submit([command(project, '1' * 32, 'disk full')])
    # Batches of two look their issues up together (find_many): now the writer holds the issue.
    queue.submit([command(project, '2' * 32, 'disk full'), command(project, 'a' * 32, 'disk full')])
    other = Services(config)
    try:
        received = other.app.repository.get(ingested_id(UUID(project.id), '1' * 32))
        issue = other.app.repository.get(received.group_id)
        issue.change_status('resolved', {}, SYSTEM.meta())
        other.app.save(issue)
    finally:
        other.close()
    queue.submit([command(project, '3' * 32, 'disk full'), command(project, 'b' * 32, 'disk full')])
    issue = services.app.repository.get(received.group_id)
    assert issue.status == 'unresolved'  # a regression, decided on the write side
    assert [type(e).__name__ for e in services.app.events.get(issue.id)][-2:] == ['StatusChanged', 'Regressed']


def test_the_writer_replaces_a_connection_the_server_closed(services, install):
    """The writer holds one connection; after the server ends that session
    (a restart, an idle timeout) the next request is still recorded."""
    if services.writer.dialect.name != 'postgresql':
        pytest.skip('only a database server can end a session')
    project = project_row(services)
    queue = IngestQueue(services)
    queue.submit([command(project, '1' * 32)])
    session = queue._recorder.store._conn.connection.driver_connection.info.backend_pid
    with services.writer.connect() as conn:
        assert conn.execute(text('SELECT pg_terminate_backend(:pid)'), {'pid': session}).scalar_one()
    queue.submit([command(project, '2' * 32)])
    assert stored_ids(services) == ['1' * 32, '2' * 32]
    assert queue._recorder.store._conn.connection.driver_connection.info.backend_pid != session


def test_writers_of_two_processes_share_new_issues(services, install, config):
    """Two workers' writers recording the first events of the same new
    fingerprints at once: every event stored, one issue per fingerprint."""
    project = project_row(services)
    others = [Services(config) for _ in range(2)]
    queues = [IngestQueue(other) for other in others]
    outcomes: dict = {}
    try:
        threads = [submit_in_thread(queues[n % 2], [command(project, f'{n + 1:032x}', f'race {n % 4}')],
                                    outcomes, str(n)) for n in range(24)]
        for thread in threads:
            thread.join(60)
    finally:
        for other in others:
            other.close()
    assert set(outcomes.values()) == {'ok'}
    assert len(stored_ids(services)) == 24
    groups = {services.app.repository.get(ingested_id(UUID(project.id), event_id)).group_id
              for event_id in stored_ids(services)}
    assert len(groups) == 4


def test_one_follower_keeps_the_read_models_current_for_every_worker(services, install, config):
    """Events recorded by any worker become visible without that worker
    catching up; on SQLite one follower does it for all, and another takes
    over when its process goes."""
    project = project_row(services)
    workers = [Services(config) for _ in range(2)]

    def visible() -> int:
        with services.read() as conn:
            return conn.execute(select(func.count()).select_from(events)).scalar_one()

    try:
        workers[0].catch_up_soon()
        workers[1].catch_up_soon()
        if services.write_turn.path:  # SQLite: one leader, the other waits for the lease
            eventually(lambda: workers[0]._follower.lease.take() != workers[1]._follower.lease.take())
        for n, worker in enumerate(workers):  # recorded without catching up, as a busy worker's writer does
            worker.bus.handle(IngestEvents([command(project, f'{n + 1:032x}')]))
        eventually(lambda: visible() == 2)
        leader = 0 if workers[0]._follower.lease.take() else 1
        workers[leader].close()
        workers[1 - leader].bus.handle(IngestEvents([command(project, '3' * 32)]))
        eventually(lambda: visible() == 3)
    finally:
        for worker in workers:
            worker.close()


def test_projection_transactions_take_the_servers_write_turn(services, install):
    """On SQLite a catch-up waits for the server's write turn, as the ingestion
    writer does, instead of napping in SQLite's busy handler."""
    if not services.write_turn.path:
        pytest.skip('only SQLite writers take turns')
    services.bus.handle(IngestEvents([command(project_row(services), '1' * 32)]))  # recorded, not projected
    caught_up = threading.Event()
    thread = threading.Thread(target=lambda: (services.runner.catch_up(), caught_up.set()))
    with services.write_turn.held():
        thread.start()
        assert not caught_up.wait(0.5)
    assert caught_up.wait(10)
    thread.join()
    with services.read() as conn:
        assert conn.execute(select(events.c.event_id)).scalars().all() == ['1' * 32]


def gone(pid: int) -> bool:
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] == 'Z'  # exited, not yet reaped
    except OSError:
        return True


def test_serve_runs_a_projection_follower_beside_its_workers(database_url):
    """`sentrail serve` starts `sentrail projections run`: it keeps the read
    models current without any request asking, on SQLite it holds the lease
    (the workers' followers stand by and take over if it dies), and it ends
    when its server does, however the server ends."""
    server = LiveServer(database_url)
    credentials = server.bootstrap()
    server.start()
    services = Services(Config(database_url=database_url))
    store = f'{server.url}/api/{credentials["project"]["id"]}/store/'
    auth = sentry_auth(credentials['dsn'].split('//')[1].split('@')[0])

    def projected(event_id: str) -> None:
        response = requests.post(store, data=orjson.dumps({'event_id': event_id, 'message': 'follow'}),
                                 headers=auth, timeout=30)
        assert response.status_code == 200, response.text
        eventually(lambda: not any(status.lag for status in services.runner.status()))

    try:
        (follower,) = server.follower_pids()
        assert len(server.worker_pids()) == 2
        projected('1' * 32)
        lease = follower_lease(database_url)
        if lease.path:
            assert not lease.take()  # held: by the follower process
            os.kill(follower, signal.SIGKILL)
            projected('2' * 32)  # a worker's follower took over
            eventually(lambda: not lease.take())
        lease.close()
        server.stop()

        server = LiveServer(database_url).start()  # stopped gracefully, it stops its follower
        (follower,) = server.follower_pids()
        server.process.terminate()
        server.process.wait(30)
        eventually(lambda: gone(follower))

        server = LiveServer(database_url).start()  # its master killed, the follower sees it gone
        (follower,) = server.follower_pids()
        os.kill(server.process.pid, signal.SIGKILL)
        eventually(lambda: gone(follower))
    finally:
        server.stop()
        services.close()


def test_every_answered_event_survives_killed_workers(database_url):
    server = LiveServer(database_url)
    credentials = server.bootstrap()
    server.start()
    dsn = credentials['dsn']
    store = f'{server.url}/api/{dsn.rsplit("/", 1)[1]}/store/'
    auth = sentry_auth(dsn.split('//')[1].split('@')[0])
    answered: list[str] = []
    failed: list[str] = []
    stop = time.monotonic() + 2.0

    def send() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            event_id = uuid.uuid4().hex
            try:
                response = session.post(store, data=orjson.dumps({'event_id': event_id, 'message': 'kill'}),
                                        headers=auth, timeout=30)
            except requests.RequestException:
                failed.append(event_id)
                session = requests.Session()
                continue
            (answered if response.status_code == 200 else failed).append(event_id)

    try:
        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.7)
        for pid in server.worker_pids():
            os.kill(pid, signal.SIGKILL)  # mid-batch: requests in flight get no answer
        for thread in threads:
            thread.join(60)
    finally:
        server.stop()
    assert answered and failed
    services = Services(Config(database_url=database_url))
    try:
        assert set(answered) <= set(stored_ids(services))
    finally:
        services.close()
