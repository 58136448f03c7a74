"""Ingested events: their Sentry shape, an issue's events in order with latest
and oldest, one event by database id or by client id, the project's events,
and who may read them."""
from __future__ import annotations

import uuid
from uuid import UUID

from sentrail.commands.ingest import Batch
from sentrail.domain.actor import SYSTEM
from tests.conftest import basic
from tests.test_issue_read import HOUR, NOW, error, ingest, issue_list, iso, next_cursor, project_row
from tests.test_teams import key_with, other_credentials


def rich_event(**raw) -> dict:
    """An error with everything an SDK sends beside the exception."""
    return error(
        message='Checkout failed for %s', timestamp=NOW - HOUR, release='2.0', dist='a1', environment='prod',
        server_name='web-1', tags={'browser': 'Firefox'}, user={'id': '7', 'email': 'u@example.com'},
        request={'url': 'https://shop.example/cart?step=2', 'method': 'post', 'data': {'sku': 'x'},
                 'headers': {'Content-Type': 'application/json; charset=utf-8', 'Referer': 'https://shop.example/'},
                 'cookies': 'session=abc; theme=dark', 'env': {'REMOTE_ADDR': '10.0.0.1'}},
        breadcrumbs={'values': [{'timestamp': NOW - HOUR - 5, 'category': 'http', 'message': 'GET /cart',
                                 'data': {'status': 200}}]},
        contexts={'os': {'name': 'Linux'}}, extra={'order': 42}, modules={'django': '4.2'},
        sdk={'name': 'sentry.python', 'version': '1.40.0', 'clientIP': '10.0.0.9'}, **raw)


def test_event_detail_has_sentry_shape(client, services, install):
    key = basic(install.api_key)
    sent = ingest(services, rich_event(), received_at=NOW - HOUR + 2)
    number = issue_list(client, key).json[0]['id']
    response = client.simulate_get(f'/api/0/issues/{number}/events/latest/', headers=key)
    assert response.status_code == 200, response.text
    event = response.json
    assert event['eventID'] == sent['event_id'] and event['groupID'] == number and event['id'].isdigit()
    assert event['title'] == 'ValueError: bad input' and event['message'] == 'Checkout failed for %s'
    assert event['type'] == 'error' and event['metadata'] == {'type': 'ValueError', 'value': 'bad input'}
    assert event['dateCreated'] == iso(NOW - HOUR) and event['dateReceived'] == iso(NOW - HOUR + 2)
    assert event['platform'] == 'python' and event['dist'] == 'a1' and event['size'] > 500
    assert event['user'] == {'id': '7', 'email': 'u@example.com'}
    assert event['contexts']['os']['name'] == 'Linux' and event['context'] == {'order': 42}
    assert event['packages'] == {'django': '4.2'}
    assert event['sdk'] == {'name': 'sentry.python', 'version': '1.40.0'}
    assert event['tags'] == sorted(event['tags'], key=lambda t: t['key'])
    assert {'key': 'browser', 'value': 'Firefox'} in event['tags'] and {'key': 'user', 'value': 'id:7'} in event['tags']
    assert len(event['fingerprints']) == 2 and event['errors'] == []
    assert event['release'] == {'version': '2.0'} and event['userReport'] is None
    assert event['previousEventID'] is None and event['nextEventID'] is None

    assert [entry['type'] for entry in event['entries']] == ['message', 'exception', 'breadcrumbs', 'request']
    entries = {entry['type']: entry['data'] for entry in event['entries']}
    assert entries['message'] == {'formatted': 'Checkout failed for %s'}
    exception = entries['exception']
    assert exception['hasSystemFrames'] is True and exception['excOmitted'] is None
    value = exception['values'][0]
    assert (value['type'], value['value'], value['module']) == ('ValueError', 'bad input', 'builtins')
    frame = value['stacktrace']['frames'][1]
    assert frame['absPath'] == '/srv/shop/views.py' and frame['filename'] == 'shop/views.py'
    assert (frame['lineNo'], frame['colNo'], frame['inApp'], frame['function']) == (20, 4, True, 'checkout')
    assert frame['context'] == [[19, 'def checkout():'], [20, '    total = cart.total()'], [21, '    return total']]
    assert frame['vars'] == {'cart': '<Cart>'} and value['stacktrace']['frames'][0]['inApp'] is False
    request = entries['request']
    assert request['url'] == 'https://shop.example/cart' and request['query'] == 'step=2'
    assert request['method'] == 'POST' and request['data'] == {'sku': 'x'}
    assert ['Referer', 'https://shop.example/'] in request['headers']
    assert request['cookies'] == [['session', 'abc'], ['theme', 'dark']]
    assert request['env'] == {'REMOTE_ADDR': '10.0.0.1'} and request['inferredContentType'] == 'application/json'
    crumb = entries['breadcrumbs']['values'][0]
    assert crumb['category'] == 'http' and crumb['message'] == 'GET /cart' and crumb['data'] == {'status': 200}
    assert crumb['timestamp'] == iso(NOW - HOUR - 5) and crumb['type'] == 'default' and crumb['level'] == 'info'

    # A message event has only its message entry; a formatted one keeps its template and params.
    ingest(services, {'logentry': {'message': 'Disk %s is full', 'params': ['/var']}, 'timestamp': NOW,
                      'extra': 'not an object'})
    message_issue = issue_list(client, key).json[0]['id']
    logged = client.simulate_get(f'/api/0/issues/{message_issue}/events/latest/', headers=key).json
    assert logged['entries'] == [{'type': 'message', 'data': {'message': 'Disk %s is full',
                                                              'formatted': 'Disk /var is full', 'params': ['/var']}}]
    assert logged['errors'] == [{'type': 'invalid_data', 'message': "Discarded invalid value for parameter 'extra'",
                                 'data': {'name': 'extra'}}]


def test_issue_events_in_order_and_by_id(client, services, install):
    key = basic(install.api_key)
    sent = [ingest(services, error(timestamp=NOW - minutes * 60)) for minutes in (30, 10, 50, 20, 40)]
    by_time = sorted(sent, key=lambda e: -e['timestamp'])
    number = issue_list(client, key).json[0]['id']
    path = f'/api/0/issues/{number}/events/'

    pages, cursor = [], ''
    while True:
        response = client.simulate_get(path, params={'per_page': '2', 'cursor': cursor}, headers=key)
        assert response.status_code == 200
        pages.append([e['eventID'] for e in response.json])
        cursor, more = next_cursor(response)
        if not more:
            break
    assert pages == [[e['event_id'] for e in by_time[i:i + 2]] for i in (0, 2, 4)]
    assert client.simulate_get(path, params={'per_page': '101'}, headers=key).status_code == 400

    latest = client.simulate_get(f'/api/0/issues/{number}/events/latest/', headers=key).json
    oldest = client.simulate_get(f'/api/0/groups/{number}/events/oldest/', headers=key).json
    assert latest['eventID'] == by_time[0]['event_id'] and oldest['eventID'] == by_time[-1]['event_id']
    assert latest['nextEventID'] is None and oldest['previousEventID'] is None

    # By database id: neighbours in time are database ids as well.
    middle = client.simulate_get(f'/api/0/events/{oldest["nextEventID"]}/', headers=key).json
    assert middle['eventID'] == by_time[-2]['event_id'] and middle['previousEventID'] == oldest['id']
    assert middle['release'] is None and 'userReport' in middle

    # By client id (hyphenated or not): neighbours are client ids.
    hyphenated = str(UUID(by_time[2]['event_id']))
    found = client.simulate_get(f'/api/0/projects/acme/web/events/{hyphenated}/', headers=key).json
    assert found['eventID'] == by_time[2]['event_id']
    assert (found['previousEventID'], found['nextEventID']) == (by_time[3]['event_id'], by_time[1]['event_id'])
    assert 'userReport' not in found

    for missing in ('/api/0/events/999999/', '/api/0/events/x/', f'/api/0/projects/acme/web/events/{"0" * 32}/',
                    '/api/0/projects/acme/web/events/not-an-id/'):
        response = client.simulate_get(missing, headers=key)
        assert (response.status_code, response.json) == (404, {'detail': 'Event not found'})

    # An issue without events (its first is still on its way) has no latest one.
    row = project_row(services)
    batch = Batch(services.app)
    group = batch.new_group(UUID(row.id), uuid.uuid4().hex, 0, SYSTEM.meta())
    batch.save()
    empty = client.simulate_get(f'/api/0/issues/{group.number}/events/latest/', headers=key)
    assert (empty.status_code, empty.json) == (404, {'detail': 'No events found for group'})


def test_project_events_for_sentry_cli(client, services, install):
    key = basic(install.api_key)
    first = ingest(services, error(timestamp=NOW - 120, user={'username': 'ann'}))
    second = ingest(services, {'message': 'cache miss', 'timestamp': NOW - 60})
    response = client.simulate_get('/api/0/projects/acme/web/events/', params={'cursor': ''}, headers=key)
    assert response.status_code == 200
    assert [e['eventID'] for e in response.json] == [second['event_id'], first['event_id']]
    for event in response.json:
        assert isinstance(event['title'], str) and isinstance(event['dateCreated'], str)
        assert all(set(tag) == {'key', 'value'} for tag in event['tags'])
    assert response.json[1]['user'] == {'username': 'ann'}
    assert response.headers['Link'].startswith('<http://testserver/api/0/projects/acme/web/events/?&cursor=')
    searched = client.simulate_get('/api/0/projects/acme/web/events/', params={'query': 'CACHE'}, headers=key)
    assert [e['eventID'] for e in searched.json] == [second['event_id']]

    # Project events take project:read; issue events take event:read.
    number = issue_list(client, key).json[-1]['id']
    event_id = response.json[1]['id']
    readers = {'/api/0/projects/acme/web/events/': 'project:read',
               f'/api/0/projects/acme/web/events/{first["event_id"]}/': 'project:read',
               f'/api/0/issues/{number}/events/': 'event:read', f'/api/0/events/{event_id}/': 'event:read'}
    foreigners = other_credentials(services)
    for path, scope in readers.items():
        assert client.simulate_get(path, headers=key_with(services, scope)).status_code == 200
        other = 'event:read' if scope == 'project:read' else 'project:read'
        assert client.simulate_get(path, headers=key_with(services, other)).status_code == 403
        for headers in foreigners:
            foreign = client.simulate_get(path, headers=headers)
            assert foreign.status_code in (403, 404) and first['event_id'] not in foreign.text
