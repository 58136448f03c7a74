"""Issues as ingestion forms them: grouping, counters, the issue list and the
issue detail, status changes, deletion, hashes, and who may read them."""
from __future__ import annotations

import re
import time
from uuid import UUID

from sentrail.commands.ingest import IngestEvent
from sentrail.domain.actor import SYSTEM, Actor
from sentrail.domain.group import Group
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.projections import issues, organizations, projects
from tests.conftest import basic, bearer
from tests.test_teams import key_with, other_credentials

NOW = time.time()
HOUR = 3600


def project_row(services, slug: str = 'web', org: str = 'acme'):
    with services.read() as conn:
        return projects.project_by_slug(conn, organizations.org_by_slug(conn, org).id, slug)


def ingest(services, raw: dict, project: str = 'web', *, received_at: float | None = None,
           catch_up: bool = True) -> dict:
    """Record one SDK payload as ingestion does; the normalized event comes back.
    Without `catch_up` the read models are left behind, as after a real ingestion."""
    row = project_row(services, project)
    data = normalize_event(raw, received_at=received_at or time.time(), project_id=row.number)
    command = IngestEvent(project_id=UUID(row.id), project_number=row.number, data=data, actor=SYSTEM)
    services.execute(command) if catch_up else services.bus.handle(command)
    return data


def error(exc_type: str = 'ValueError', value: str = 'bad input', *, function: str = 'checkout', **raw) -> dict:
    """A Python SDK error event: library frames, then the application's frame."""
    frames = [
        {'module': 'django.core.handlers', 'function': 'inner', 'filename': 'django/core/handlers.py',
         'lineno': 41, 'in_app': False},
        {'module': 'shop.views', 'function': function, 'filename': 'shop/views.py', 'abs_path': '/srv/shop/views.py',
         'lineno': 20, 'colno': 4, 'context_line': '    total = cart.total()', 'pre_context': ['def checkout():'],
         'post_context': ['    return total'], 'in_app': True, 'vars': {'cart': '<Cart>'}},
    ]
    return {'platform': 'python', 'level': 'error', 'logger': 'shop',
            'exception': {'values': [{'type': exc_type, 'value': value, 'module': 'builtins',
                                      'stacktrace': {'frames': frames}}]}, **raw}


def group_of(services, number: str):
    with services.read() as conn:
        return issues.group_by_number(conn, int(number))


def change(services, number: str, act) -> None:
    """Change an issue as the issue commands will: act on the aggregate, save, catch up."""
    group = services.app.load(Group, UUID(group_of(services, number).id))
    act(group)
    services.app.save(group)
    services.runner.catch_up()


def issue_list(client, headers, **params):
    return client.simulate_get('/api/0/projects/acme/web/issues/', params=params, headers=headers)


def next_cursor(response) -> tuple[str, bool]:
    match = re.search(r'rel="next"; results="(true|false)"; cursor="([^"]+)"', response.headers['Link'])
    return match.group(2), match.group(1) == 'true'


def test_events_group_into_issues_with_counters(client, services, install):
    key = basic(install.api_key)
    first = ingest(services, error(timestamp=NOW - 3 * HOUR, user={'id': '1'}, release='1.0'))
    ingest(services, error(timestamp=NOW - 2 * HOUR, user={'email': 'b@example.com'}, release='1.1'))
    ingest(services, error(timestamp=NOW - 2.5 * HOUR, user={'id': '1'}))
    ingest(services, error('KeyError', "'sku'", function='cart', timestamp=NOW - HOUR))
    # Accepted but not yet projected, as after the store endpoint: the GET catches up itself.
    ingest(services, {'message': 'Disk %s is full', 'level': 'warning', 'timestamp': NOW - 60,
                      'logentry': {'message': 'Disk %s is full', 'params': ['/var']}}, catch_up=False)

    listed = issue_list(client, key, query='')
    assert listed.status_code == 200, listed.text
    assert [(i['title'], i['count'], i['userCount']) for i in listed.json] == [
        ('Disk /var is full', '1', 0), ("KeyError: 'sku'", '1', 0), ('ValueError: bad input', '3', 2)]
    assert listed.headers['X-Hits'] == '3' and listed.headers['X-Max-Hits'] == '1000'
    assert listed.headers['Link'].startswith('<http://testserver/api/0/projects/acme/web/issues/?query=&cursor=')
    value_error = listed.json[2]
    assert value_error['shortId'] == 'WEB-1' and value_error['status'] == 'unresolved'
    assert value_error['culprit'] == 'shop.views in checkout' and value_error['level'] == 'error'
    assert value_error['type'] == 'error' and value_error['metadata'] == {'type': 'ValueError', 'value': 'bad input'}
    assert value_error['project'] == {'id': install.project_id, 'name': 'web', 'slug': 'web'}
    assert value_error['permalink'] == f'http://testserver/acme/web/issues/{value_error["id"]}/'
    assert value_error['firstSeen'] == iso(first['timestamp']) and value_error['lastSeen'] == iso(NOW - 2 * HOUR)
    assert value_error['logger'] == 'shop' and value_error['assignedTo'] is None
    day = value_error['stats']['24h']
    assert len(day) == 24 and sum(n for _, n in day) == 3 and day[-1][0] % HOUR == 0
    assert listed.json[0]['level'] == 'warning' and listed.json[0]['type'] == 'default'

    detail = client.simulate_get(f'/api/0/issues/{value_error["id"]}/', headers=key)
    assert detail.status_code == 200
    body = detail.json
    assert body['count'] == '3' and body['userCount'] == 2
    # Ingestion makes the releases events name, so these are whole Release objects.
    assert body['firstRelease']['version'] == '1.0' and body['lastRelease']['version'] == '1.1'
    assert body['activity'] == [{'id': '0', 'user': None, 'type': 'first_seen', 'data': {},
                                 'dateCreated': body['firstSeen']}]
    assert [(t['name'], t['uniqueValues'], t['totalValues']) for t in body['tags']] == [
        ('Level', 1, 3), ('Logger', 1, 3), ('Release', 2, 2), ('User', 2, 3)]
    assert len(body['stats']['24h']) == 24 and len(body['stats']['30d']) == 30
    assert sum(n for _, n in body['stats']['30d']) == 3
    for extra in ('seenBy', 'pluginActions', 'pluginIssues', 'pluginContexts', 'participants'):
        assert body[extra] == []
    assert client.simulate_get(f'/api/0/groups/{value_error["id"]}/', headers=key).json['id'] == value_error['id']

    # The issue list's default is unresolved issues only, with the same stats; none asked, none given.
    assert [i['id'] for i in issue_list(client, key).json] == [i['id'] for i in listed.json]
    assert 'stats' not in issue_list(client, key, statsPeriod='').json[0]
    assert len(issue_list(client, key, statsPeriod='14d').json[0]['stats']['14d']) == 14

    # A rebuild from the log (one folded batch) gives what the live projection gave.
    services.runner.rebuild(['issues', 'events'])
    assert issue_list(client, key, query='').json == listed.json


def iso(seconds: float) -> str:
    from sentrail.http.serializers.dates import iso as render
    return render(int(seconds * 1000))


def test_list_pages_statuses_regression_and_deletion(client, services, install):
    key = basic(install.api_key)
    for n in range(5):
        ingest(services, error(f'Error{n}', timestamp=NOW - (10 - n) * 60))
    ids = [i['id'] for i in issue_list(client, key, query='').json]
    assert len(ids) == 5

    # Walk the list two at a time, as sentry-cli does, newest first.
    pages, cursor = [], ''
    while True:
        response = issue_list(client, key, query='', limit='2', cursor=cursor)
        pages.append([i['id'] for i in response.json])
        cursor, more = next_cursor(response)
        if not more:
            break
    assert pages == [ids[:2], ids[2:4], ids[4:]]
    assert issue_list(client, key, sort='freq', query='').status_code == 200
    for params, detail in ((dict(limit='x'), 'invalid limit'),
                           (dict(statsPeriod='7d'), "Invalid stats_period. Valid choices are '', '24h', and '14d'"),
                           (dict(query='is:sleeping'),
                            "Your search query could not be parsed: 'is:' had unknown status code 'sleeping'."),
                           (dict(cursor='nope'), 'Invalid cursor parameter.')):
        bad = issue_list(client, key, **params)
        assert (bad.status_code, bad.json) == (400, {'detail': detail})

    # Resolving one takes it off the default list and records who did it.
    change(services, ids[0], lambda g: g.change_status('resolved', {}, SYSTEM.meta()))
    assert ids[0] not in [i['id'] for i in issue_list(client, key).json]
    assert [i['id'] for i in issue_list(client, key, query='is:resolved').json] == [ids[0]]
    assert len(issue_list(client, key, query='').json) == 5
    resolved = client.simulate_get(f'/api/0/issues/{ids[0]}/', headers=key).json
    assert resolved['status'] == 'resolved'
    assert [a['type'] for a in resolved['activity']] == ['set_resolved', 'first_seen']

    # A new event for it is a regression: unresolved again, and on top of the list.
    ingest(services, error('Error4', timestamp=NOW))
    regressed = client.simulate_get(f'/api/0/issues/{ids[0]}/', headers=key).json
    assert regressed['status'] == 'unresolved' and regressed['count'] == '2'
    assert [a['type'] for a in regressed['activity']] == ['set_regression', 'set_resolved', 'first_seen']
    assert issue_list(client, key).json[0]['id'] == ids[0]

    owner = Actor(kind='user', label='owner@example.com', user_id=install.user_id)
    change(services, ids[1], lambda g: g.change_status('ignored', {'ignoreCount': 10}, owner.meta()))
    ignored = client.simulate_get(f'/api/0/issues/{ids[1]}/', headers=key).json
    assert ignored['status'] == 'ignored' and ignored['statusDetails'] == {'ignoreCount': 10}
    assert ignored['activity'][0]['data'] == {'ignoreCount': 10}
    assert ignored['activity'][0]['user']['email'] == 'owner@example.com'
    assert [i['id'] for i in issue_list(client, key, query='is:muted').json] == [ids[1]]

    # A deleted issue leaves the lists and its pages.
    change(services, ids[2], lambda g: g.delete(SYSTEM.meta()))
    assert ids[2] not in [i['id'] for i in issue_list(client, key, query='').json]
    for path in ('', 'events/', 'events/latest/', 'hashes/', 'tags/'):
        assert client.simulate_get(f'/api/0/issues/{ids[2]}/{path}', headers=key).status_code == 404


def test_hashes_list_each_hash_with_its_latest_event(client, services, install):
    key = basic(install.api_key)
    ingest(services, error())
    latest = ingest(services, error())
    number = issue_list(client, key).json[0]['id']
    # In-app frames and all frames differ, so the issue has two hashes.
    response = client.simulate_get(f'/api/0/issues/{number}/hashes/', headers=key)
    assert response.status_code == 200
    assert len(response.json) == 2 and all(len(h['id']) == 32 for h in response.json)
    assert {h['latestEvent']['eventID'] for h in response.json} == {latest['event_id']}
    assert response.json[0]['latestEvent']['fingerprints'] == [h['id'] for h in response.json]
    page = client.simulate_get(f'/api/0/issues/{number}/hashes/', params={'per_page': '1'}, headers=key)
    assert [h['id'] for h in page.json] == [response.json[0]['id']]
    cursor, more = next_cursor(page)
    assert more
    rest = client.simulate_get(f'/api/0/issues/{number}/hashes/', params={'per_page': '1', 'cursor': cursor},
                               headers=key)
    assert [h['id'] for h in rest.json] == [response.json[1]['id']]


def test_who_may_read_issues(client, services, install):
    ingest(services, error())
    number = issue_list(client, basic(install.api_key)).json[0]['id']
    paths = [f'/api/0/issues/{number}/', f'/api/0/issues/{number}/events/', f'/api/0/issues/{number}/hashes/',
             '/api/0/projects/acme/web/issues/']
    owner = bearer(install.auth_token)
    narrow = key_with(services, 'project:read', 'org:read')
    foreigners = other_credentials(services)
    for path in paths:
        assert client.simulate_get(path, headers=owner).status_code == 200
        assert client.simulate_get(path, headers=narrow).status_code == 403
        for headers in foreigners:
            foreign = client.simulate_get(path, headers=headers)
            assert foreign.status_code in (403, 404) and 'ValueError' not in foreign.text
    assert client.simulate_get(paths[0]).status_code == 401
    assert client.simulate_get(paths[0], headers=key_with(services, 'event:read')).status_code == 200
    for missing in ('/api/0/issues/999999/', '/api/0/issues/abc/', '/api/0/projects/acme/nope/issues/'):
        response = client.simulate_get(missing, headers=owner)
        assert response.status_code == 404 and response.json == {'detail': 'The requested resource does not exist'}
