"""The yardsticks bench/ingest.py measures ingestion against, mounted only with
SENTRAIL_BENCH_ENDPOINTS=1: parse-only, and the floor (the envelope endpoint
storing one scratch row per event). Neither records an event or an issue."""
from __future__ import annotations

import dataclasses
import gzip
import uuid

import orjson
import pytest
from falcon import testing
from sqlalchemy import func, select

from sentrail.commands.ingest_floor import floor_rows
from sentrail.domain.ingested import ingested_id
from sentrail.http.app import create_app
from sentrail.services import Services
from tests.conftest import basic
from tests.test_ingest_http import envelope, event_item, public_key, sentry_auth, stored_ids
from tests.test_issue_read import project_row


@pytest.fixture
def bench_client(config, install):
    services = Services(dataclasses.replace(config, bench_endpoints=True))
    yield testing.TestClient(create_app(services=services)), services
    services.close()


def post(client, install, endpoint: str, body: bytes, key: str | None = None):
    headers = {**sentry_auth(key or public_key(install)), 'Content-Encoding': 'gzip',
               'Content-Type': 'application/x-sentry-envelope'}
    return client.simulate_post(f'/api/{install.project_id}/{endpoint}/', body=gzip.compress(body), headers=headers)


def one_event(event_id: str) -> bytes:
    return envelope({'event_id': event_id}, event_item({'event_id': event_id, 'message': 'yardstick',
                                                        'exception': {'values': [{'type': 'E', 'value': 'v'}]}}))


def test_only_mounted_when_asked_for(client, install):
    for endpoint in ('envelope-parse', 'envelope-floor'):
        assert post(client, install, endpoint, one_event(uuid.uuid4().hex)).status_code == 404


def test_parse_only_answers_the_id_and_records_nothing(bench_client, install):
    client, services = bench_client
    event_id = uuid.uuid4().hex
    response = post(client, install, 'envelope-parse', one_event(event_id))
    assert response.status_code == 200, response.text
    assert response.json == {'id': event_id}
    assert post(client, install, 'envelope-parse', b'{"event_id": ').status_code == 400
    assert stored_ids(services) == []


def test_the_floor_stores_one_scratch_row_per_event_and_no_event(bench_client, install):
    client, services = bench_client
    ids = [uuid.uuid4().hex for _ in range(3)]
    for event_id in ids:
        response = post(client, install, 'envelope-floor', one_event(event_id))
        assert response.status_code == 200, response.text
        assert response.json == {'id': event_id}
    assert post(client, install, 'envelope-floor', b'not an envelope').status_code == 400
    assert post(client, install, 'envelope-floor', one_event(uuid.uuid4().hex), key='f' * 32).status_code == 401
    with services.app.recorder.datastore.engine.connect() as conn:
        rows = conn.execute(select(floor_rows).order_by(floor_rows.c.id)).all()
        assert conn.execute(select(func.count()).select_from(floor_rows)).scalar_one() == 3
    project_id = uuid.UUID(project_row(services).id)  # the rows carry the real store's ids and payloads
    assert [row.originator_id for row in rows] == [ingested_id(project_id, i).bytes for i in ids]
    states = [orjson.loads(row.state) for row in rows]
    assert [s['data']['event_id'] for s in states] == ids
    assert {s['summary']['title'] for s in states} == {'E: v'}
    assert stored_ids(services) == []
    services.runner.catch_up()
    issues = client.simulate_get('/api/0/projects/acme/web/issues/', headers=basic(install.api_key))
    assert issues.status_code == 200 and issues.json == []
