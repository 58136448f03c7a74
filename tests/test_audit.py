"""The audit log is the event store read as Sentry's AuditLogEntry list, and
`sentrail audit replay` reads the same trail straight from the store."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import basic, bearer


def walk(client, path, headers, **params):
    """Every row of a paginated list, following `next` while it has results."""
    rows, cursor = [], None
    while True:
        response = client.simulate_get(path, headers=headers, params={**params, **({'cursor': cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        rows += response.json
        link = response.headers['Link']
        next_part = link.split(', <')[1]
        if 'results="true"' not in next_part:
            return rows
        cursor = next_part.split('cursor="')[1].rstrip('"')


def test_changes_through_the_api_are_entries_with_actor_and_target(client, install):
    token, key = bearer(install.auth_token), basic(install.api_key)
    client.simulate_put('/api/0/organizations/acme/', json={'name': 'Acme Inc'}, headers=token,
                        remote_addr='10.1.2.3')
    client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Backend'}, headers=key)
    created_key = client.simulate_post('/api/0/organizations/acme/api-keys/', headers=token).json
    client.simulate_delete(f'/api/0/organizations/acme/api-keys/{created_key["id"]}/', headers=token)

    entries = walk(client, '/api/0/organizations/acme/audit-logs/', token, per_page='3')
    names = [e['event'] for e in entries]
    assert 'org.edit' in names and 'team.create' in names and 'api-key.create' in names
    assert 'api-key.remove' in names and names.index('api-key.remove') < names.index('api-key.create')
    edit = next(e for e in entries if e['event'] == 'org.edit')
    assert edit['actor']['email'] == 'owner@example.com'
    assert edit['ipAddress'] == '10.1.2.3'
    assert edit['data']['changes'] == {'name': 'Acme Inc'}
    assert edit['dateCreated'].endswith('Z')
    team = next(e for e in entries if e['event'] == 'team.create')
    assert team['actor'] == {'name': 'bootstrap (api key)', 'type': 'api_key'}
    assert isinstance(team['targetObject'], int)
    body = json.dumps(entries)
    assert created_key['key'] not in body and install.api_key not in body and install.auth_token not in body


def test_event_filter_and_aliases(client, install):
    token = bearer(install.auth_token)
    client.simulate_post('/api/0/organizations/acme/api-keys/', headers=token)
    only = client.simulate_get('/api/0/organizations/acme/audit-logs/', params={'event': 'api-key.create'},
                               headers=token).json
    assert only and {e['event'] for e in only} == {'api-key.create'}
    alias = client.simulate_get('/api/0/organizations/acme/audit-logs/', params={'event': 'apikey.add'},
                                headers=token).json
    assert alias == only
    assert client.simulate_get('/api/0/organizations/acme/audit-logs/', params={'event': 'nope'},
                               headers=token).json == []


def test_other_organizations_see_nothing(client, services, install):
    from sentrail.seed import ensure_installation
    other = ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')
    for headers in (basic(other.api_key),):
        response = client.simulate_get('/api/0/organizations/acme/audit-logs/', headers=headers)
        assert response.status_code in (403, 404)
        assert 'acme' not in response.text
    own = client.simulate_get('/api/0/organizations/other/audit-logs/', headers=basic(other.api_key)).json
    assert own and all('acme' not in json.dumps(e) for e in own)


def test_replay_agrees_with_the_endpoint(client, config, install):
    token = bearer(install.auth_token)
    client.simulate_put('/api/0/organizations/acme/', json={'slug': 'acme-renamed'}, headers=token)
    client.simulate_post('/api/0/organizations/acme-renamed/teams/', json={'name': 'Ops'}, headers=token)
    endpoint = walk(client, '/api/0/organizations/acme-renamed/audit-logs/', token)
    env = {'SENTRAIL_DATABASE_URL': config.database_url, 'PATH': '/usr/bin:/bin'}
    out = subprocess.run([sys.executable, '-m', 'sentrail.cli', 'audit', 'replay', '--org', 'acme',
                          '--format', 'jsonl'], env=env, check=True, capture_output=True, text=True).stdout
    replayed = [json.loads(line) for line in out.splitlines()]
    assert list(reversed(replayed)) == endpoint
    until = endpoint[-1]['dateCreated']
    early = subprocess.run([sys.executable, '-m', 'sentrail.cli', 'audit', 'replay', '--org', 'acme-renamed',
                            '--until', until, '--format', 'jsonl'], env=env, check=True, capture_output=True,
                           text=True).stdout
    assert [json.loads(line)['event'] for line in early.splitlines()] == [endpoint[-1]['event']]
