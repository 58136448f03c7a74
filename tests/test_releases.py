"""Releases at organization and project level: create (idempotent), list, detail,
update, archive, delete; deploys; counts from ingested events; scopes and tenancy."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from eventsourcing.utils import get_topic

from sentrail.commands.ingest import IngestEvent
from sentrail.commands.organizations import CreateProject, CreateTeam
from sentrail.commands.releases import CreateRelease
from sentrail.domain.actor import SYSTEM
from sentrail.domain.deploy import Deploy
from sentrail.domain.group import Group
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.domain.release import release_id
from sentrail.projections import organizations, projects
from sentrail.projections.releases import group_first_releases
from tests.support.paging import next_link, walk
from tests.conftest import bearer
from tests.test_teams import key_with, member_token, other_credentials

RELEASES = '/api/0/organizations/acme/releases/'
SPECIAL = 'web@1.0.0+build.1 x'


def release_path(version: str) -> str:
    """As sentry-cli sends it: `@` raw, `+` and space percent-encoded."""
    return RELEASES + version.replace('%', '%25').replace('+', '%2B').replace(' ', '%20') + '/'


def add_team_project(services, team: str, project: str) -> None:
    """A second team with its own project (so team-restricted callers see less)."""
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
    team_id = services.execute(CreateTeam(organization_id=UUID(org.id), name=team, slug=team,
                                          actor=SYSTEM)).data['team_id']
    services.execute(CreateProject(team_id=team_id, name=project, slug=project, platform='python', actor=SYSTEM))


def ingest(services, release: str | None, fingerprint: str, timestamp: float, project: str = 'web') -> None:
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
        row = projects.project_by_slug(conn, org.id, project)
    raw = {'message': f'boom {fingerprint}', 'fingerprint': [fingerprint], 'timestamp': timestamp,
           'release': release}
    services.execute(IngestEvent(project_id=UUID(row.id), project_number=row.number, actor=SYSTEM,
                                 data=normalize_event(raw, received_at=time.time(), project_id=row.number)))


def test_create_is_idempotent_and_versions_survive_the_path(client, services, install):
    owner = bearer(install.auth_token)
    add_team_project(services, 'ops', 'api')
    created = client.simulate_post(RELEASES, headers=owner, json={
        'version': SPECIAL, 'projects': ['web'], 'ref': 'abc123', 'url': 'https://ci.example/1',
        'dateStarted': '2026-11-27T07:22:48.574789148Z'})
    assert created.status_code == 201, created.text
    body = created.json
    assert body['version'] == SPECIAL and body['shortVersion'] == SPECIAL
    assert (body['ref'], body['url'], body['status']) == ('abc123', 'https://ci.example/1', 'open')
    assert body['dateStarted'] == '2026-11-27T07:22:48.574Z' and body['dateReleased'] is None
    assert body['dateCreated'].endswith('Z') and body['owner'] is None and body['data'] == {}
    assert (body['newGroups'], body['commitCount'], body['deployCount']) == (0, 0, 0)
    assert (body['lastCommit'], body['lastDeploy'], body['authors']) == (None, None, [])
    assert (body['firstEvent'], body['lastEvent']) == (None, None)
    assert [(p['slug'], p['name'], p['newGroups'], type(p['id'])) for p in body['projects']] == [
        ('web', 'web', 0, int)]

    head = services.runner.head()
    again = client.simulate_post(RELEASES, headers=owner, json={'version': SPECIAL, 'projects': ['web']})
    assert again.status_code == 208 and again.json['version'] == SPECIAL
    assert services.runner.head() == head  # nothing new, nothing written
    widened = client.simulate_post(RELEASES, headers=owner, json={'version': SPECIAL, 'projects': ['api']})
    assert widened.status_code == 201
    assert [p['slug'] for p in widened.json['projects']] == ['api', 'web']
    assert [p['platforms'] for p in widened.json['projects']] == [['python'], []]

    for path in (release_path(SPECIAL), RELEASES + SPECIAL + '/'):  # `%2B` and `+`, `%20` and space
        detail = client.simulate_get(path, headers=owner)
        assert detail.status_code == 200 and detail.json['version'] == SPECIAL
    odd = client.simulate_post(RELEASES, headers=owner, json={'version': 'a%b?c#d', 'projects': ['web']})
    assert odd.status_code == 201
    assert client.simulate_get(release_path('a%b?c#d').replace('?', '%3F').replace('#', '%23'),
                               headers=owner).json['version'] == 'a%b?c#d'
    sha = 'f' * 40
    assert client.simulate_post(RELEASES, headers=owner, json={'version': sha, 'projects': ['web']}).json[
        'shortVersion'] == 'f' * 7
    assert client.simulate_post(RELEASES, headers=owner, json={'version': 'com.example.app-2.0', 'projects': ['web']}
                                ).json['shortVersion'] == '2.0'

    at_project = client.simulate_get('/api/0/projects/acme/api/releases/', headers=owner)
    assert [r['version'] for r in at_project.json] == [SPECIAL]
    assert [p['slug'] for p in at_project.json[0]['projects']] == ['api']


def test_list_filters_orders_and_paginates(client, services, install):
    owner = bearer(install.auth_token)
    for version in ('1.0', '1.1', '2.0', 'Web-3', 'web_4'):
        client.simulate_post(RELEASES, headers=owner, json={'version': version, 'projects': ['web']})
    # A release finalized long ago sorts by its release date, before the others.
    client.simulate_put(RELEASES + '1.1/', headers=owner, json={'dateReleased': '2001-01-01T00:00:00Z'})

    assert walk(client, RELEASES, owner, per_page='2', field='version') == [['web_4', 'Web-3'], ['2.0', '1.0'], ['1.1']]
    found = client.simulate_get(RELEASES, params={'query': 'WEB'}, headers=owner)
    assert [r['version'] for r in found.json] == ['web_4', 'Web-3']
    assert [r['version'] for r in client.simulate_get(RELEASES, params={'query': '1.'}, headers=owner).json] == [
        '1.0', '1.1']
    # LIKE wildcards in the prefix are plain characters.
    assert client.simulate_get(RELEASES, params={'query': 'web%'}, headers=owner).json == []
    assert client.simulate_get(RELEASES, params={'query': 'web_'}, headers=owner).json[0]['version'] == 'web_4'
    assert client.simulate_get(RELEASES, params={'per_page': '101'}, headers=owner).status_code == 400
    assert client.simulate_get(RELEASES, params={'cursor': 'x'}, headers=owner).status_code == 400
    project_level = walk(client, '/api/0/projects/acme/web/releases/', owner, per_page='3', field='version')
    assert project_level == [['web_4', 'Web-3', '2.0'], ['1.0', '1.1']]


def test_finalize_archive_restore_delete_and_recreate(client, services, install):
    owner = bearer(install.auth_token)
    client.simulate_post(RELEASES, headers=owner, json={'version': '1.2.3', 'projects': ['web'],
                                                          'url': 'https://old.example/'})
    finalized = client.simulate_put(RELEASES + '1.2.3/', headers=owner, json={
        'projects': ['web'], 'dateReleased': '2023-11-14T22:13:20Z', 'url': 'https://x.example/', 'ref': ''})
    assert finalized.status_code == 200
    assert finalized.json['dateReleased'] == '2023-11-14T22:13:20.000Z'
    assert finalized.json['url'] == 'https://x.example/' and finalized.json['ref'] is None

    archived = client.simulate_post(RELEASES, headers=owner, json={'version': '1.2.3', 'projects': [],
                                                                    'status': 'archived'})
    assert archived.status_code == 208 and archived.json['status'] == 'archived'
    assert client.simulate_get(RELEASES, headers=owner).json == []
    assert [r['version'] for r in client.simulate_get(RELEASES, params={'status': 'archived'},
                                                      headers=owner).json] == ['1.2.3']
    assert len(client.simulate_get(RELEASES + '?status=', headers=owner).json) == 1
    bad = client.simulate_get(RELEASES, params={'status': 'gone'}, headers=owner)
    assert (bad.status_code, bad.json) == (400, {'detail': 'invalid value for status'})
    restored = client.simulate_post(RELEASES, headers=owner, json={'version': '1.2.3', 'projects': [],
                                                                    'status': 'open'})
    assert restored.json['status'] == 'open'
    assert client.simulate_put(RELEASES + '1.2.3/', headers=owner, json={'status': 'archived'}).json[
        'status'] == 'archived'

    head = services.runner.head()
    refused = client.simulate_put(RELEASES + '1.2.3/', headers=owner, json={'status': 'closed'})
    assert (refused.status_code, refused.json) == (400, {'status': ['Invalid status closed']})
    assert services.runner.head() == head

    assert client.simulate_delete(RELEASES + '1.2.3/', headers=owner).status_code == 204
    assert client.simulate_get(RELEASES + '1.2.3/', headers=owner).status_code == 404
    assert client.simulate_delete(RELEASES + '1.2.3/', headers=owner).status_code == 404
    assert client.simulate_put(RELEASES + '1.2.3/', headers=owner, json={'url': 'https://y.example/'}
                               ).status_code == 404
    again = client.simulate_post(RELEASES, headers=owner, json={'version': '1.2.3', 'projects': ['web']})
    assert again.status_code == 201
    assert (again.json['url'], again.json['dateReleased'], again.json['status']) == (None, None, 'open')


def test_bad_input_is_400_in_sentry_shape_and_writes_nothing(client, services, install):
    owner = bearer(install.auth_token)
    client.simulate_post(RELEASES, headers=owner, json={'version': '1.0', 'projects': ['web']})
    head = services.runner.head()
    cases = [
        ({'projects': ['web']}, {'version': ['This field is required.']}),
        ({'version': 'a/b', 'projects': ['web']}, {'version': ['Invalid value for release']}),
        ({'version': 'latest', 'projects': ['web']}, {'version': ['Invalid value for release']}),
        ({'version': 'tab\there', 'projects': ['web']}, {'version': ['Invalid value for release']}),
        ({'version': 'x' * 201, 'projects': ['web']},
         {'version': ['Ensure this field has no more than 200 characters.']}),
        ({'version': '2.0'}, {'projects': ['This field is required.']}),
        ({'version': '2.0', 'projects': ['nope']}, {'projects': ['Invalid project slugs']}),
        ({'version': '2.0', 'projects': ['web'], 'url': 'not a url'}, {'url': ['Enter a valid URL.']}),
        ({'version': '2.0', 'projects': ['web'], 'status': 'gone'}, {'status': ['Invalid status gone']}),
        ({'version': '2.0', 'projects': ['web'], 'commits': [{'message': 'no id'}]},
         {'commits': ['Each commit needs an id.']}),
        ({'version': '2.0', 'projects': ['web'], 'refs': [{'repository': 'nope', 'commit': 'abc'}]},
         {'refs': ['Invalid repository names: nope']}),
    ]
    for body, expected in cases:
        response = client.simulate_post(RELEASES, headers=owner, json=body)
        assert (response.status_code, response.json) == (400, expected), body
    dated = client.simulate_post(RELEASES, headers=owner, json={'version': '2.0', 'projects': ['web'],
                                                                 'dateReleased': 'yesterday'})
    assert dated.status_code == 400 and list(dated.json) == ['dateReleased']
    assert client.simulate_put(RELEASES + '1.0/', headers=owner, json={'dateStarted': 42}).status_code == 400
    assert services.runner.head() == head
    assert client.simulate_get(RELEASES + '2.0/', headers=owner).status_code == 404


def test_scopes_tenancy_and_team_visibility(client, services, install):
    owner = bearer(install.auth_token)
    add_team_project(services, 'ops', 'api')
    client.simulate_post(RELEASES, headers=owner, json={'version': 'web-1', 'projects': ['web']})
    client.simulate_post(RELEASES, headers=owner, json={'version': 'api-1', 'projects': ['api']})

    no_project_scope = key_with(services, 'org:read', 'org:write')
    assert client.simulate_get(RELEASES, headers=no_project_scope).status_code == 403
    reader = key_with(services, 'project:read')
    assert len(client.simulate_get(RELEASES, headers=reader).json) == 2
    assert client.simulate_post(RELEASES, headers=reader, json={'version': 'x', 'projects': ['web']}
                                ).status_code == 403
    writer = key_with(services, 'project:write')
    assert client.simulate_put(RELEASES + 'web-1/', headers=writer, json={'ref': 'r'}).status_code == 200
    assert client.simulate_delete(RELEASES + 'web-1/', headers=writer).status_code == 403
    releaser = key_with(services, 'project:releases')
    assert client.simulate_post(RELEASES, headers=releaser, json={'version': 'ci-1', 'projects': ['web']}
                                ).status_code == 201
    assert client.simulate_post(RELEASES + 'ci-1/deploys/', headers=releaser, json={'environment': 'prod'}
                                ).status_code == 201
    assert client.simulate_delete(RELEASES + 'ci-1/', headers=releaser).status_code == 204

    # An admin of team web alone (closed membership) sees web's releases only.
    member = member_token(services, 'dev@example.com', 'admin', ['web'])
    assert [r['version'] for r in client.simulate_get(RELEASES, headers=member).json] == ['web-1']
    assert client.simulate_get(RELEASES + 'api-1/', headers=member).status_code == 403
    assert client.simulate_get('/api/0/projects/acme/api/releases/', headers=member).status_code == 403
    assert client.simulate_post(RELEASES, headers=member, json={'version': 'x', 'projects': ['api']}).json == {
        'projects': ['Invalid project slugs']}

    for headers in other_credentials(services):
        for method, path, body in (('GET', RELEASES, None), ('GET', RELEASES + 'web-1/', None),
                                   ('POST', RELEASES, {'version': 'evil', 'projects': ['web']}),
                                   ('PUT', RELEASES + 'web-1/', {'ref': 'evil'}),
                                   ('DELETE', RELEASES + 'web-1/', None),
                                   ('GET', RELEASES + 'web-1/deploys/', None),
                                   ('GET', RELEASES + 'web-1/commits/', None),
                                   ('GET', '/api/0/projects/acme/web/releases/', None)):
            response = client.simulate_request(method, path, headers=headers, json=body)
            assert response.status_code in (403, 404), (method, path)
            assert 'web-1' not in response.text
    assert client.simulate_get(RELEASES + 'web-1/', headers=owner).json['ref'] == 'r'


def test_new_groups_and_event_times_come_from_ingested_events(client, services, install):
    owner = bearer(install.auth_token)
    # Events may name a release before it exists; their counts are there once it does.
    ingest(services, 'v1', 'a', 1_700_000_000.0)
    ingest(services, 'v1', 'b', 1_700_000_100.5)
    ingest(services, 'v2', 'a', 1_700_000_200.0)   # an old issue: not new in v2
    ingest(services, 'v2', 'c', 1_700_000_300.0)
    ingest(services, None, 'd', 1_700_000_400.0)
    ingest(services, 'r' * 300, 'e', 1_700_000_500.0)  # longer than any release may be: counted nowhere
    for version in ('v1', 'v2'):
        client.simulate_post(RELEASES, headers=owner, json={'version': version, 'projects': ['web']})

    v1 = client.simulate_get(RELEASES + 'v1/', headers=owner).json
    assert (v1['newGroups'], v1['projects'][0]['newGroups']) == (2, 2)
    assert (v1['firstEvent'], v1['lastEvent']) == ('2023-11-14T22:13:20.000Z', '2023-11-14T22:15:00.500Z')
    v2 = client.simulate_get('/api/0/projects/acme/web/releases/v2/', headers=owner).json
    assert v2['newGroups'] == 1 and v2['lastEvent'] == '2023-11-14T22:18:20.000Z'

    refused = client.simulate_delete(RELEASES + 'v1/', headers=owner)
    assert (refused.status_code, refused.json) == (400, {
        'detail': 'This release is referenced by active issues and cannot be removed.'})
    with services.read() as conn:
        first_seen_in_v1 = conn.execute(group_first_releases.select()
                                        .where(group_first_releases.c.version == 'v1')).all()
    for row in first_seen_in_v1:  # no issue-delete command yet: delete the aggregates themselves
        group = services.app.load(Group, UUID(row.group_id))
        group.delete(SYSTEM.meta())
        services.app.save(group)
    services.runner.catch_up()
    assert client.simulate_delete(RELEASES + 'v1/', headers=owner).status_code == 204


def test_concurrent_creators_of_one_version_make_one_release(client, services, install):
    """The release's id derives from (organization, version): racing CI jobs collide in
    the event store, and the losers find the release made."""
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
        web = projects.project_by_slug(conn, org.id, 'web')
    barrier = threading.Barrier(6)

    def create() -> bool:
        barrier.wait()
        return services.execute(CreateRelease(organization_id=UUID(org.id), version='race-1',
                                              project_ids=(UUID(web.id),), actor=SYSTEM)).data['created']

    with ThreadPoolExecutor(6) as pool:
        created = list(pool.map(lambda _: create(), range(6)))
    assert created.count(True) == 1
    listed = client.simulate_get(RELEASES, headers=bearer(install.auth_token)).json
    assert [(r['version'], r['id']) for r in listed] == [('race-1', listed[0]['id'])]


def test_deploys_record_environments_and_always_have_a_finish(client, services, install):
    owner = bearer(install.auth_token)
    client.simulate_post(RELEASES, headers=owner, json={'version': '1.2.3', 'projects': ['web']})
    deploys = RELEASES + '1.2.3/deploys/'
    first = client.simulate_post(deploys, headers=owner, json={
        'environment': 'production', 'name': None, 'url': None, 'dateStarted': None,
        'dateFinished': '2099-11-27T07:23:20.918303730Z'})
    assert first.status_code == 201
    assert first.json == {'id': first.json['id'], 'environment': 'production', 'name': None, 'url': None,
                          'dateStarted': None, 'dateFinished': '2099-11-27T07:23:20.918Z'}
    before = int(time.time() * 1000)
    second = client.simulate_post(deploys, headers=owner, json={
        'environment': 'staging', 'name': 'Deploy 7', 'url': 'https://ci.example/7',
        'dateStarted': '2023-11-14T22:13:20Z'})
    assert second.status_code == 201 and second.json['dateFinished'] is not None
    assert second.json['name'] == 'Deploy 7' and second.json['dateStarted'] == '2023-11-14T22:13:20.000Z'

    head = services.runner.head()
    for body, field in (({}, 'environment'), ({'environment': ''}, 'environment'),
                        ({'environment': 'a/b'}, 'environment'), ({'environment': 'p', 'url': 'nope'}, 'url'),
                        ({'environment': 'p', 'dateFinished': 'soon'}, 'dateFinished')):
        refused = client.simulate_post(deploys, headers=owner, json=body)
        assert refused.status_code == 400 and list(refused.json) == [field], body
    assert services.runner.head() == head
    assert client.simulate_post(RELEASES + 'nope/deploys/', headers=owner, json={'environment': 'p'}
                                ).status_code == 404

    listed = client.simulate_get(deploys, headers=owner)
    assert [d['environment'] for d in listed.json] == ['production', 'staging']  # latest finish first
    assert all(d['dateFinished'] for d in listed.json)
    paged = client.simulate_get(deploys, params={'per_page': '1'}, headers=owner)
    assert len(paged.json) == 1 and next_link(paged)[1] is True
    release = client.simulate_get(RELEASES + '1.2.3/', headers=owner).json
    assert release['deployCount'] == 2 and release['lastDeploy']['environment'] == 'staging'
    # Every change is an event that names who made it: the audit trail needs nothing else.
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
    changes = list(services.app.events.get(release_id(UUID(org.id), '1.2.3')))
    changes += [services.app.mapper.to_domain_event(n) for n in services.app.recorder.select_notifications(
        start=0, limit=100, topics=[get_topic(Deploy.Created)])]
    assert len(changes) == 3 and all(e.meta['actor']['label'] == 'owner@example.com' for e in changes)
    assert release['lastDeploy']['dateFinished'] >= time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(before // 1000))


def test_project_level_paths(client, services, install):
    owner = bearer(install.auth_token)
    add_team_project(services, 'ops', 'api')
    path = '/api/0/projects/acme/web/releases/'
    created = client.simulate_post(path, headers=owner, json={'version': '9.0', 'dateStarted': '2026-01-01T00:00:00Z'})
    assert created.status_code == 201 and [p['slug'] for p in created.json['projects']] == ['web']
    assert client.simulate_post(path, headers=owner, json={'version': '9.0'}).status_code == 208
    finalized = client.simulate_put(path + '9.0/', headers=owner, json={'projects': ['web'],
                                                                        'dateReleased': '2026-01-02T00:00:00Z'})
    assert finalized.status_code == 200 and finalized.json['dateReleased'] == '2026-01-02T00:00:00.000Z'
    assert client.simulate_get(path + '9.0/', headers=owner).json['dateStarted'] == '2026-01-01T00:00:00.000Z'
    assert client.simulate_get('/api/0/projects/acme/api/releases/9.0/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/projects/acme/nope/releases/', headers=owner).status_code == 404
    assert client.simulate_delete(path + '9.0/', headers=owner).status_code == 204
    assert client.simulate_get(RELEASES + '9.0/', headers=owner).status_code == 404
