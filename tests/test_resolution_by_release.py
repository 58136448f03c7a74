"""Releases and issue state: ingestion makes the releases events name (and links
their projects), issues resolved in a release or in the next one regress only for
newer releases, a newer release names the next release's version, and
`release:latest` follows the newest release."""
from __future__ import annotations

import time
from uuid import UUID

from sentrail.commands.releases import CreateRelease, DeleteRelease
from sentrail.domain.actor import SYSTEM
from sentrail.domain.release import release_id
from tests.conftest import basic
from tests.test_issue_read import error, ingest, project_row
from tests.test_issue_search import put, search
from tests.test_releases import add_team_project
from tests.test_teams import org_id

NOW = time.time()


def release(services, version: str, project: str = 'web') -> None:
    services.execute(CreateRelease(organization_id=UUID(org_id(services)), version=version,
                                   project_ids=(UUID(project_row(services, project).id),), actor=SYSTEM))


def state(client, headers, number: str) -> tuple[str, dict]:
    body = client.simulate_get(f'/api/0/issues/{number}/', headers=headers).json
    return body['status'], body['statusDetails']


def resolution_entries(client, headers, number: str) -> list:
    activity = client.simulate_get(f'/api/0/issues/{number}/activity/', headers=headers).json['activity']
    return [(a['type'], a['data']) for a in activity if a['type'] in ('set_resolved_in_release', 'set_regression')]


def test_ingestion_makes_and_links_releases(client, services, install):
    key = basic(install.api_key)
    ingest(services, error(release='1.0'))
    found = client.simulate_get('/api/0/organizations/acme/releases/1.0/', headers=key)
    assert found.status_code == 200 and [p['slug'] for p in found.json['projects']] == ['web']
    assert found.json['newGroups'] == 1
    add_team_project(services, 'backend', 'api')
    ingest(services, error(release='1.0'), project='api')
    found = client.simulate_get('/api/0/organizations/acme/releases/1.0/', headers=key).json
    assert sorted(p['slug'] for p in found['projects']) == ['api', 'web']
    assert [r['version'] for r in client.simulate_get('/api/0/projects/acme/api/releases/', headers=key).json] == \
        ['1.0']
    # A deleted release comes back with the next event naming it.
    services.execute(DeleteRelease(release_id=release_id(UUID(org_id(services)), '1.0'), actor=SYSTEM))
    assert client.simulate_get('/api/0/organizations/acme/releases/1.0/', headers=key).status_code == 404
    ingest(services, error(release='1.0'))
    again = client.simulate_get('/api/0/organizations/acme/releases/1.0/', headers=key).json
    assert [p['slug'] for p in again['projects']] == ['web']
    # Versions no release may have are events' business only.
    for version in ('latest', 'a/b', 'x' * 201):
        ingest(services, error(release=version))
    assert [r['version'] for r in client.simulate_get('/api/0/organizations/acme/releases/', headers=key).json] == \
        ['1.0']
    assert client.simulate_get('/api/0/projects/acme/web/issues/', headers=key).json[0]['count'] == '5'


def test_resolved_in_the_next_release(client, services, install):
    key = basic(install.api_key)
    release(services, '0.9')
    ingest(services, error(timestamp=NOW - 100))
    number = search(client, key, '')[0]
    release(services, '1.0')
    put(client, key, {'status': 'resolvedInNextRelease'}, id=number)
    assert state(client, key, number) == ('resolved', {'inNextRelease': True, 'actor': None})
    assert resolution_entries(client, key, number) == [('set_resolved_in_release', {'version': ''})]
    # The release it was resolved in, an older one, or none: not a regression.
    for version in ('1.0', '0.9', None):
        ingest(services, error(timestamp=NOW, **({'release': version} if version else {})))
        assert state(client, key, number)[0] == 'resolved', version
    # A newer release names the version the fix shipped in; the issue stays resolved.
    release(services, '2.0')
    assert state(client, key, number) == ('resolved', {'inNextRelease': True, 'actor': None})
    assert resolution_entries(client, key, number) == [('set_resolved_in_release', {'version': '2.0'})]
    # An event of a newer release than the one resolved in is a regression.
    ingest(services, error(timestamp=NOW, release='2.0'))
    assert state(client, key, number) == ('unresolved', {})
    assert resolution_entries(client, key, number)[0] == ('set_regression', {'version': '2.0'})

    # Resolved in the next release again; a new release first seen in an event regresses it at once.
    put(client, key, {'status': 'resolved', 'statusDetails': {'inNextRelease': True}}, id=number)
    ingest(services, error(timestamp=NOW, release='2.0'))
    assert state(client, key, number)[0] == 'resolved'
    ingest(services, error(timestamp=NOW, release='3.0'))
    assert state(client, key, number)[0] == 'unresolved'
    assert resolution_entries(client, key, number)[:2] == [('set_regression', {'version': '3.0'}),
                                                           ('set_resolved_in_release', {'version': '3.0'})]
    assert client.simulate_get('/api/0/organizations/acme/releases/3.0/', headers=key).status_code == 200


def test_resolved_in_a_release(client, services, install):
    key = basic(install.api_key)
    for version in ('0.9', '1.0', '2.0'):
        release(services, version)
    ingest(services, error(timestamp=NOW - 100))
    number = search(client, key, '')[0]
    resolved = put(client, key, {'status': 'resolved', 'statusDetails': {'inRelease': '1.0'}}, id=number)
    assert resolved.json == {'status': 'resolved', 'statusDetails': {'inRelease': '1.0', 'actor': None}}
    for version in ('0.9', None):
        ingest(services, error(timestamp=NOW, **({'release': version} if version else {})))
        assert state(client, key, number)[0] == 'resolved', version
    # The release it was resolved in still has the bug: a regression; so has a newer one.
    for version in ('1.0', '2.0'):
        ingest(services, error(timestamp=NOW, release=version))
        assert state(client, key, number)[0] == 'unresolved', version
        put(client, key, {'statusDetails': {'inRelease': '1.0'}}, id=number)
    assert put(client, key, {'status': 'resolved', 'statusDetails': {'inRelease': 'latest'}}, id=number).json[
        'statusDetails']['inRelease'] == '2.0'
    ingest(services, error(timestamp=NOW, release='1.0'))
    assert state(client, key, number) == ('resolved', {'inRelease': '2.0', 'actor': None})
    # Plainly resolved, any event reopens it.
    put(client, key, {'status': 'resolved'}, id=number)
    ingest(services, error(timestamp=NOW))
    assert state(client, key, number) == ('unresolved', {})


def test_release_latest_in_search(client, services, install):
    key = basic(install.api_key)
    ingest(services, error('Old', release='1.0', timestamp=NOW - 50))
    ingest(services, error('New', release='2.0', timestamp=NOW - 40))
    old, new = search(client, key, 'Old')[0], search(client, key, 'New')[0]
    assert search(client, key, 'release:latest') == [new] and search(client, key, 'first-release:latest') == [new]
    assert search(client, key, '!release:latest') == [old]
    ingest(services, error('Old', release='3.0', timestamp=NOW))
    assert search(client, key, 'release:latest') == [old] and search(client, key, 'firstRelease:latest') == []
    add_team_project(services, 'backend', 'api')
    ingest(services, error('Api', release='1.5'), project='api')
    api = search(client, key, 'Api', path='/api/0/projects/acme/api/issues/')[0]
    # Organization-wide, "latest" is each project's own latest release.
    assert sorted(search(client, key, 'release:latest', path='/api/0/organizations/acme/issues/')) == \
        sorted([old, api])
