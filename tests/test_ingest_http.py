"""The ingestion endpoints over HTTP: bodies, envelopes, client-key auth, CORS,
rate limits. What got stored is read from the event store itself."""
from __future__ import annotations

import base64
import gzip
import uuid
import zlib

import brotli
import orjson
from eventsourcing.utils import get_topic

from sentrail.domain.ingested import IngestedEvent
from sentrail.seed import ensure_installation
from tests.conftest import basic


def public_key(install) -> str:
    return install.dsn.split('//')[1].split('@')[0]


def sentry_auth(key: str, secret: str | None = None) -> dict:
    value = f'Sentry sentry_key={key}, sentry_version=7, sentry_client=test/1.0'
    return {'X-Sentry-Auth': value + (f', sentry_secret={secret}' if secret else '')}


def stored(services) -> list[IngestedEvent.Received]:
    """Every ingested event in the event store, oldest first."""
    notifications = services.app.recorder.select_notifications(
        start=0, limit=100_000, topics=[get_topic(IngestedEvent.Received)])
    return [services.app.mapper.to_domain_event(n) for n in notifications]


def stored_ids(services) -> list[str]:
    return [e.data['event_id'] for e in stored(services)]


def envelope(header: dict, *items: tuple[dict, bytes]) -> bytes:
    lines = [orjson.dumps(header)]
    for item_header, payload in items:
        lines += [orjson.dumps(item_header), payload]
    return b'\n'.join(lines) + b'\n'


def event_item(event: dict) -> tuple[dict, bytes]:
    payload = orjson.dumps(event)
    return {'type': 'event', 'content_type': 'application/json', 'length': len(payload)}, payload


def add_key(client, install, **changes) -> dict:
    created = client.simulate_post('/api/0/projects/acme/web/keys/', json={'name': 'extra'},
                                   headers=basic(install.api_key))
    assert created.status_code == 201, created.text
    if changes:
        updated = client.simulate_put(f'/api/0/projects/acme/web/keys/{created.json["public"]}/', json=changes,
                                      headers=basic(install.api_key))
        assert updated.status_code == 200, updated.text
    return created.json


def test_store_accepts_every_encoding_sdks_use(client, services, install):
    key = public_key(install)
    path = f'/api/{install.project_id}/store/'
    ids = [uuid.uuid4().hex for _ in range(8)]

    def body(n: int) -> bytes:
        return orjson.dumps({'event_id': ids[n], 'message': f'encoded {n}', 'level': 40})

    cases = [
        (body(0), {}),
        (body(1), {'Content-Type': 'application/json'}),
        (gzip.compress(body(2)), {'Content-Encoding': 'gzip', 'Content-Type': 'application/json'}),
        (zlib.compress(body(3)), {'Content-Encoding': 'deflate', 'Content-Type': 'application/octet-stream'}),
        (zlib.compress(body(4))[2:-4], {'Content-Encoding': 'deflate'}),  # raw RFC 1951
        (brotli.compress(body(5)), {'Content-Encoding': 'br'}),
        (base64.b64encode(zlib.compress(body(6))), {'Content-Type': 'application/octet-stream'}),  # old raven
        (gzip.compress(body(7)), {}),  # unlabelled, recognised by its magic bytes
    ]
    for n, (data, headers) in enumerate(cases):
        response = client.simulate_post(path, body=data, headers={**sentry_auth(key), **headers})
        assert response.status_code == 200, (n, response.text)
        assert response.json == {'id': ids[n]}
        assert response.headers['Content-Type'].startswith('application/json')
    events = stored(services)
    assert [e.data['event_id'] for e in events] == ids
    assert [e.data['message'] for e in events] == [f'encoded {n}' for n in range(8)]
    assert {e.data['level'] for e in events} == {'error'}
    assert {e.project_number for e in events} == {int(install.project_id)}
    assert events[0].meta['actor'] == {'type': 'client_key', 'label': key, 'user_id': None, 'credential_id': None}
    services.runner.catch_up()
    for n in (0, 5, 6):
        shown = client.simulate_get(f'/api/0/projects/acme/web/events/{ids[n]}/', headers=basic(install.api_key))
        assert shown.status_code == 200, shown.text
        assert shown.json['eventID'] == ids[n] and shown.json['message'] == f'encoded {n}'


def test_same_event_twice_is_stored_once_and_accepted_twice(client, services, install):
    event_id = uuid.uuid4().hex
    body = orjson.dumps({'event_id': event_id, 'message': 'twice'})
    for _ in range(2):
        response = client.simulate_post(f'/api/{install.project_id}/store/', body=body,
                                        headers=sentry_auth(public_key(install)))
        assert response.status_code == 200
        assert response.json == {'id': event_id}
    assert stored_ids(services) == [event_id]
    services.runner.catch_up()
    listed = client.simulate_get('/api/0/projects/acme/web/issues/', params={'query': ''},
                                 headers=basic(install.api_key))
    assert [(issue['title'], issue['count']) for issue in listed.json] == [('twice', '1')]


def test_auth_comes_from_header_authorization_or_query(client, services, install):
    key = public_key(install)
    secret = add_key(client, install)  # any key of the project works
    path = f'/api/{install.project_id}/store/'
    answers = [
        client.simulate_post(path, body=b'{"message": "header"}', headers=sentry_auth(key)),
        client.simulate_post(path, body=b'{"message": "authorization"}',
                             headers={'Authorization': f'Sentry sentry_key={key}, sentry_version=7'}),
        client.simulate_post(path, body=b'{"message": "query"}', params={'sentry_key': key, 'sentry_version': '7'}),
        client.simulate_post(path, body=b'{"message": "secret"}',
                             headers=sentry_auth(secret['public'], secret['secret'])),
        client.simulate_post('/api/store/', body=b'{"message": "legacy"}', headers=sentry_auth(key)),
    ]
    assert [a.status_code for a in answers] == [200] * 5
    assert [e.data['message'] for e in stored(services)] == ['header', 'authorization', 'query', 'secret', 'legacy']


def test_bad_credentials_are_refused_with_sentry_statuses(client, services, install):
    other = ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')
    disabled = add_key(client, install, isActive=False)
    key = public_key(install)
    path = f'/api/{install.project_id}/store/'
    cases = [
        ({}, 401, 'Unable to find authentication information'),
        ({'X-Sentry-Auth': 'Sentry sentry_version=7'}, 401, 'Unable to find authentication information'),
        ({'Authorization': 'Bearer abc'}, 401, 'Unable to find authentication information'),
        (sentry_auth('0' * 32), 401, 'Invalid api key'),
        (sentry_auth(key, 'wrong-secret'), 401, 'Invalid api key'),
        (sentry_auth(disabled['public']), 403, 'API key is disabled'),
        (sentry_auth(public_key(other)), 403, 'The client key does not belong to the project in the URL'),
    ]
    for headers, status, detail in cases:
        response = client.simulate_post(path, body=b'{"message": "no"}', headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert response.json == {'detail': detail}
        assert response.headers['X-Sentry-Error'] == detail
    wrong_project = client.simulate_post(f'/api/{other.project_id}/envelope/', headers=sentry_auth(key),
                                         body=envelope({}, event_item({'message': 'no'})))
    assert wrong_project.status_code == 403
    assert stored(services) == []


def test_envelope_ingests_events_and_accepts_every_other_item(client, services, install):
    key = public_key(install)
    path = f'/api/{install.project_id}/envelope/'
    header_id = str(uuid.uuid4())
    # sentry-cli: no Content-Type, no compression, hyphenated id in the header only.
    cli = envelope({'event_id': header_id}, event_item({'logentry': {'message': 'from cli'}, 'platform': 'native'}))
    response = client.simulate_post(path, body=cli, headers=sentry_auth(key))
    assert response.status_code == 200, response.text
    assert response.json == {'id': uuid.UUID(header_id).hex}

    # An item without length runs to the end of its line; sentry-cli --raw sends the nil id.
    raw = (b'{"event_id":"00000000-0000-0000-0000-000000000000"}\n{"type":"event"}\n'
           b'{"message": "raw", "level": "info"}\n')
    response = client.simulate_post(path, body=raw, headers=sentry_auth(key))
    assert response.status_code == 200
    raw_id = response.json['id']
    assert len(raw_id) == 32 and raw_id != '0' * 32

    others = envelope(
        {'event_id': uuid.uuid4().hex},
        ({'type': 'transaction', 'length': 19}, b'{"type":"transact"}'),
        ({'type': 'session'}, b'{"sid": "x", "status": "ok"}'),
        ({'type': 'sessions'}, b'{"aggregates": []}'),
        ({'type': 'client_report'}, b'{"discarded_events": []}'),
        ({'type': 'check_in'}, b'{"check_in_id": "a", "monitor_slug": "m", "status": "ok"}'),
        ({'type': 'attachment', 'length': 5, 'filename': 'a.bin'}, b'\x00\x01\n\x02\xff'),
        ({'type': 'user_report'}, b'{"event_id": "x", "name": "n", "comments": "c"}'),
        ({'type': 'feedback'}, b'{"contexts": {}}'),
        ({'type': 'something_new'}, b'not even json'),
    )
    response = client.simulate_post(path, body=gzip.compress(others),
                                    headers={**sentry_auth(key), 'Content-Encoding': 'gzip',
                                             'Content-Type': 'application/x-sentry-envelope'})
    assert response.status_code == 200, response.text
    assert response.json == {'id': orjson.loads(others.split(b'\n')[0])['event_id']}
    report = client.simulate_post(path, body=envelope({}, ({'type': 'client_report'}, b'{}')),
                                  headers=sentry_auth(key))
    assert report.status_code == 200 and report.json == {}

    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    mixed = envelope({}, event_item({'event_id': first, 'message': 'one'}), ({'type': 'session'}, b'{}'),
                     event_item({'event_id': second, 'message': 'two'}))
    response = client.simulate_post(path, body=brotli.compress(mixed),
                                    headers={**sentry_auth(key), 'Content-Encoding': 'br'})
    assert response.json == {'id': first}
    assert [e.data['message'] for e in stored(services)] == ['from cli', 'raw', 'one', 'two']
    assert stored_ids(services) == [uuid.UUID(header_id).hex, raw_id, first, second]


def test_cors_preflight_and_answers(client, install):
    path = f'/api/{install.project_id}/envelope/'
    preflight = client.simulate_options(path, headers={'Origin': 'https://app.example',
                                                       'Access-Control-Request-Method': 'POST'})
    assert preflight.status_code == 200
    assert preflight.headers['Access-Control-Allow-Origin'] == 'https://app.example'
    assert preflight.headers['Access-Control-Allow-Methods'] == 'POST, OPTIONS'
    allowed = {h.strip().lower() for h in preflight.headers['Access-Control-Allow-Headers'].split(',')}
    assert {'x-sentry-auth', 'content-type', 'content-encoding', 'authorization', 'sentry-trace',
            'baggage'} <= allowed
    exposed = {h.strip() for h in preflight.headers['Access-Control-Expose-Headers'].split(',')}
    assert exposed == {'X-Sentry-Error', 'X-Sentry-Rate-Limits', 'Retry-After'}
    assert client.simulate_options(f'/api/{install.project_id}/store/').headers[
        'Access-Control-Allow-Origin'] == '*'

    origin = {'Origin': 'https://app.example'}
    accepted = client.simulate_post(path, body=envelope({}, event_item({'message': 'browser'})),
                                    params={'sentry_key': public_key(install), 'sentry_version': '7'},
                                    headers={**origin, 'Content-Type': 'text/plain;charset=UTF-8'})
    assert accepted.status_code == 200
    assert accepted.headers['Access-Control-Allow-Origin'] == 'https://app.example'
    refused = client.simulate_post(path, body=b'{}', headers=origin)
    assert refused.status_code == 401
    assert refused.headers['Access-Control-Allow-Origin'] == 'https://app.example'
    assert 'X-Sentry-Error' in refused.headers['Access-Control-Expose-Headers']
    no_origin = client.simulate_post(path, body=envelope({}, event_item({'message': 'server'})),
                                     headers=sentry_auth(public_key(install)))
    assert 'Access-Control-Allow-Origin' not in no_origin.headers


def test_client_key_rate_limit_answers_429_and_stores_nothing_more(client, services, install):
    limited = add_key(client, install, rateLimit={'count': 2, 'window': 3600})
    path = f'/api/{install.project_id}/store/'
    answers = [client.simulate_post(path, body=orjson.dumps({'message': f'n{n}'}),
                                    headers=sentry_auth(limited['public'])) for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    refused = answers[2]
    assert refused.json == {'detail': 'Creation of this event was denied due to rate limiting'}
    assert refused.headers['X-Sentry-Error'] == refused.json['detail']
    retry_after = int(refused.headers['Retry-After'])
    assert 1 <= retry_after <= 3600
    seconds, categories, scope = refused.headers['X-Sentry-Rate-Limits'].split(':')
    assert abs(int(seconds) - retry_after) <= 1 and categories == '' and scope == 'key'
    # Envelopes without an event (client reports, sessions) are not counted or refused.
    report = client.simulate_post(f'/api/{install.project_id}/envelope/', headers=sentry_auth(limited['public']),
                                  body=envelope({}, ({'type': 'client_report'}, b'{}')))
    assert report.status_code == 200
    # Other keys of the project have their own window.
    other = client.simulate_post(path, body=b'{"message": "free"}', headers=sentry_auth(public_key(install)))
    assert other.status_code == 200
    assert [e.data['message'] for e in stored(services)] == ['n0', 'n1', 'free']


def test_oversized_bodies_are_413(client, services, install):
    key = public_key(install)
    config = services.config
    too_big = orjson.dumps({'message': 'x' * config.max_event_bytes})
    cases = [
        (f'/api/{install.project_id}/store/', too_big, {}),
        (f'/api/{install.project_id}/store/', gzip.compress(too_big), {'Content-Encoding': 'gzip'}),
        (f'/api/{install.project_id}/envelope/', envelope({}, ({'type': 'event'}, too_big)), {}),
    ]
    for path, body, headers in cases:
        response = client.simulate_post(path, body=body, headers={**sentry_auth(key), **headers})
        assert response.status_code == 413, response.text
        assert response.headers['X-Sentry-Error'] == response.json['detail']
    assert stored(services) == []
