"""Tags (a project's keys and values, an issue's keys and values) and the stats
series of projects, teams, organizations and issues."""
from __future__ import annotations

import time

from tests.conftest import basic
from tests.test_issue_read import HOUR, NOW, error, ingest, issue_list, iso, next_cursor
from tests.test_projects import add_projects
from tests.test_teams import key_with, other_credentials


def tagged(browser: str, minutes_ago: int, **raw) -> dict:
    return error(timestamp=NOW - minutes_ago * 60, tags={'browser': browser}, environment='prod',
                 server_name='web-1', **raw)


def test_project_and_issue_tags(client, services, install):
    key = basic(install.api_key)
    ingest(services, tagged('Firefox', 40, user={'email': 'a@example.com'}, release='1.0'))
    ingest(services, tagged('Chrome', 30, user={'id': '2'}))
    ingest(services, tagged('Firefox', 20, user={'email': 'a@example.com'}, release='1.1'))
    ingest(services, tagged('Firefox', 50))
    ingest(services, {'message': 'elsewhere', 'tags': {'browser': 'Safari'}, 'timestamp': NOW - 10 * 60})

    keys = client.simulate_get('/api/0/projects/acme/web/tags/', headers=key)
    assert keys.status_code == 200
    assert [(k['key'], k['name'], k['uniqueValues']) for k in keys.json] == [
        ('browser', 'Browser', 3), ('environment', 'Environment', 1), ('level', 'Level', 1),
        ('logger', 'Logger', 1), ('release', 'Release', 2), ('server_name', 'Server Name', 1), ('user', 'User', 2)]

    values_path = '/api/0/projects/acme/web/tags/browser/values/'
    values = client.simulate_get(values_path, headers=key).json
    assert [(v['value'], v['count']) for v in values] == [('Safari', 1), ('Firefox', 3), ('Chrome', 1)]
    firefox = values[1]
    assert firefox['key'] == 'browser' and firefox['name'] == 'Firefox'
    assert (firefox['firstSeen'], firefox['lastSeen']) == (iso(NOW - 50 * 60), iso(NOW - 20 * 60))
    first_page = client.simulate_get(values_path, params={'per_page': '2'}, headers=key)
    cursor, more = next_cursor(first_page)
    rest = client.simulate_get(values_path, params={'per_page': '2', 'cursor': cursor}, headers=key)
    assert more and [v['value'] for v in first_page.json + rest.json] == ['Safari', 'Firefox', 'Chrome']
    assert [v['value'] for v in client.simulate_get(values_path, params={'query': 'fire'}, headers=key).json] == [
        'Firefox']
    releases = client.simulate_get('/api/0/projects/acme/web/tags/sentry:release/values/', headers=key).json
    assert [v['value'] for v in releases] == ['1.1', '1.0']
    assert client.simulate_get('/api/0/projects/acme/web/tags/os/values/', headers=key).status_code == 404

    number = [i for i in issue_list(client, key).json if i['title'].startswith('ValueError')][0]['id']
    issue_tags = client.simulate_get(f'/api/0/issues/{number}/tags/', headers=key).json
    browser = [t for t in issue_tags if t['key'] == 'browser'][0]
    assert (browser['name'], browser['uniqueValues'], browser['totalValues']) == ('Browser', 2, 4)
    assert [(v['value'], v['count']) for v in browser['topValues']] == [('Firefox', 3), ('Chrome', 1)]
    detail = client.simulate_get(f'/api/0/issues/{number}/tags/user/', headers=key).json
    assert (detail['key'], detail['uniqueValues'], detail['totalValues']) == ('user', 2, 3)
    top_user = detail['topValues'][0]
    assert (top_user['value'], top_user['count'], top_user['email']) == ('email:a@example.com', 2, 'a@example.com')
    assert top_user['identifier'] is None and top_user['avatarUrl'].startswith('https://secure.gravatar.com/')
    assert client.simulate_get(f'/api/0/issues/{number}/tags/os/', headers=key).status_code == 404

    values_of = f'/api/0/issues/{number}/tags/browser/values/'
    for sort, expected in (('date', ['Firefox', 'Chrome']), ('age', ['Chrome', 'Firefox']),
                           ('count', ['Firefox', 'Chrome']), (None, ['Chrome', 'Firefox'])):
        params = {'sort': sort} if sort else {}
        listed = client.simulate_get(values_of, params=params, headers=key)
        assert [v['value'] for v in listed.json] == expected, sort
    assert client.simulate_get(f'/api/0/issues/{number}/tags/os/values/', headers=key).status_code == 404

    scoped = {'/api/0/projects/acme/web/tags/': 'project:read', values_path: 'project:read',
              f'/api/0/issues/{number}/tags/': 'event:read', values_of: 'event:read'}
    foreigners = other_credentials(services)
    for path, scope in scoped.items():
        assert client.simulate_get(path, headers=key_with(services, scope)).status_code == 200
        other = 'event:read' if scope == 'project:read' else 'project:read'
        assert client.simulate_get(path, headers=key_with(services, other)).status_code == 403
        for headers in foreigners:
            foreign = client.simulate_get(path, headers=headers)
            assert foreign.status_code in (403, 404) and 'Firefox' not in foreign.text


def counts(series: list) -> dict[int, int]:
    return {ts: n for ts, n in series if n}


def test_stats_series(client, services, install):
    key = basic(install.api_key)
    add_projects(services, 'web', 'api')
    early, late = NOW - 3 * HOUR, NOW - HOUR
    for received in (early, early + 1, late):
        ingest(services, error(), received_at=received)
    ingest(services, error(), 'api', received_at=late)
    hour_of = lambda moment: int(moment) // HOUR * HOUR  # noqa: E731

    project = client.simulate_get('/api/0/projects/acme/web/stats/', headers=key)
    assert project.status_code == 200
    # NOW is taken when the module loads; the suite may have crossed an hour since.
    assert len(project.json) == 24 and project.json[-1][0] in (hour_of(NOW), hour_of(time.time()))
    assert counts(project.json) == {hour_of(early): 2, hour_of(late): 1}
    daily = client.simulate_get('/api/0/projects/acme/web/stats/', params={'resolution': '1d'}, headers=key).json
    assert sum(n for _, n in daily) == 3 and all(ts % 86400 == 0 for ts, _ in daily)
    around = {'since': str(early - 30), 'until': str(early + 30), 'resolution': '10s'}
    fine = client.simulate_get('/api/0/projects/acme/web/stats/', params=around, headers=key).json
    assert len(fine) == 7 and sum(n for _, n in fine) == 2
    rejected = client.simulate_get('/api/0/projects/acme/web/stats/', params={'stat': 'rejected'}, headers=key).json
    assert len(rejected) == 24 and not counts(rejected)
    for params in ({'resolution': '5m'}, {'stat': 'bogus'}, {'since': 'yesterday'},
                   {'resolution': '10s', 'since': str(NOW - 30 * 86400)}):
        bad = client.simulate_get('/api/0/projects/acme/web/stats/', params=params, headers=key)
        assert bad.status_code == 400 and 'detail' in bad.json, params

    team = client.simulate_get('/api/0/teams/acme/web/stats/', headers=key).json
    assert counts(team) == {hour_of(early): 2, hour_of(late): 2}
    org = client.simulate_get('/api/0/organizations/acme/stats/', headers=key).json
    assert counts(org) == counts(team)
    api_id = str(int(install.project_id) + 1)
    grouped = client.simulate_get('/api/0/organizations/acme/stats/', params={'group': 'project'}, headers=key).json
    assert set(grouped) == {install.project_id, api_id} and counts(grouped[api_id]) == {hour_of(late): 1}
    only = client.simulate_get('/api/0/organizations/acme/stats/', params={'group': 'project', 'id': api_id},
                               headers=key).json
    assert list(only) == [api_id]

    number = [i for i in issue_list(client, key).json if i['project']['slug'] == 'web'][0]['id']
    issue = client.simulate_get(f'/api/0/issues/{number}/stats/', headers=key).json
    assert len(issue) == 24 and sum(n for _, n in issue) == 3
    assert client.simulate_get(f'/api/0/issues/{number}/stats/', params={'resolution': '10s'},
                               headers=key).status_code == 400

    scoped = {'/api/0/projects/acme/web/stats/': ('project:read', 'event:read'),
              '/api/0/teams/acme/web/stats/': ('team:read', 'project:read'),
              '/api/0/organizations/acme/stats/': ('org:read', 'team:read'),
              f'/api/0/issues/{number}/stats/': ('event:read', 'project:read')}
    foreigners = other_credentials(services)
    for path, (allowed, denied) in scoped.items():
        assert client.simulate_get(path, headers=key_with(services, allowed)).status_code == 200
        assert client.simulate_get(path, headers=key_with(services, denied)).status_code == 403
        for headers in foreigners:
            foreign = client.simulate_get(path, headers=headers)
            assert foreign.status_code in (403, 404) and '[[' not in foreign.text
