"""Projects: the organization's list, the caller's list, one project (by slugs and
by the overview's numeric id), its settings, and its members."""
from __future__ import annotations

from uuid import UUID

from sentrail.commands.organizations import CreateProject, DeleteOrganization
from sentrail.domain.actor import SYSTEM
from sentrail.projections import organizations
from tests.support.paging import walk
from tests.conftest import basic, bearer
from tests.test_teams import key_with, member_token, other_credentials

INVALID_PERIOD = {'error': {'params': {'stats_period': {
    'message': "Invalid stats_period. Valid choices are '', '24h', '14d', and '30d'"}}}}


def add_projects(services, team_slug: str, *names: str, platform: str | None = None) -> None:
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
        team = organizations.team_by_slug(conn, org.id, team_slug)
    for name in names:
        services.execute(CreateProject(team_id=UUID(team.id), name=name, platform=platform, actor=SYSTEM))


def test_organization_projects_paginate_with_team_and_stats(client, services, install):
    add_projects(services, 'web', 'alpha', 'beta', 'gamma', 'delta')
    key = basic(install.api_key)
    first = client.simulate_get('/api/0/organizations/acme/projects/', headers=key)
    assert first.status_code == 200
    assert [p['slug'] for p in first.json] == ['web', 'alpha', 'beta', 'gamma', 'delta']
    assert first.json[0]['team']['slug'] == 'web' and first.json[0]['id'] == install.project_id
    assert 'stats' not in first.json[0]
    assert first.headers['Link'].startswith('<http://testserver/api/0/organizations/acme/projects/?&cursor=')
    assert walk(client, '/api/0/organizations/acme/projects/', key, per_page='2') == [
        ['web', 'alpha'], ['beta', 'gamma'], ['delta']]

    day = client.simulate_get('/api/0/organizations/acme/projects/', params={'statsPeriod': '24h'}, headers=key)
    stats = day.json[0]['stats']
    assert len(stats) == 25 and all(count == 0 for _, count in stats)
    assert stats[1][0] - stats[0][0] == 3600 and stats[-1][0] % 3600 == 0
    assert len(client.simulate_get('/api/0/organizations/acme/projects/', params={'statsPeriod': '14d'},
                                   headers=key).json[0]['stats']) == 15
    assert 'stats' not in client.simulate_get('/api/0/organizations/acme/projects/?statsPeriod=',
                                              headers=key).json[0]
    bad = client.simulate_get('/api/0/organizations/acme/projects/', params={'statsPeriod': '7d'}, headers=key)
    assert (bad.status_code, bad.json) == (400, INVALID_PERIOD)
    assert client.simulate_get('/api/0/organizations/acme/projects/', params={'cursor': 'x'},
                               headers=key).status_code == 400
    assert client.simulate_get('/api/0/organizations/acme/projects/', params={'per_page': '101'},
                               headers=key).status_code == 400

    assert client.simulate_get('/api/0/organizations/acme/projects/',
                               headers=key_with(services, 'project:read')).status_code == 403
    for headers in other_credentials(services):
        foreign = client.simulate_get('/api/0/organizations/acme/projects/', headers=headers)
        assert foreign.status_code in (403, 404) and 'alpha' not in foreign.text
    assert client.simulate_get('/api/0/organizations/nope/projects/', headers=key).status_code == 404


def test_project_index_lists_what_the_caller_can_see(client, services, install):
    add_projects(services, 'web', 'Billing', 'Search Api', platform='python')
    add_projects(services, 'web', 'Frontend', platform='javascript')
    other_key, stranger = other_credentials(services)
    owner = bearer(install.auth_token)

    mine = client.simulate_get('/api/0/projects/', headers=owner)
    assert mine.status_code == 200
    # Newest first; a token reaches its owner's organizations only, superuser or not.
    assert [p['slug'] for p in mine.json] == ['frontend', 'search-api', 'billing', 'web']
    login = client.simulate_post('/api/0/auth/', json={'username': 'owner@example.com', 'password': 'secret-pw'})
    session = {name: cookie.value for name, cookie in login.cookies.items()}
    everything = client.simulate_get('/api/0/projects/', cookies=session)
    # A superuser's session sees every organization's projects.
    assert [p['slug'] for p in everything.json] == ['op', 'frontend', 'search-api', 'billing', 'web']
    assert [p['organization']['slug'] for p in everything.json][:2] == ['other', 'acme']
    assert [p['slug'] for p in client.simulate_get('/api/0/projects/', headers=other_key).json] == ['op']
    assert client.simulate_get('/api/0/projects/', headers=stranger).json == []

    key = basic(install.api_key)
    assert walk(client, '/api/0/projects/', key, per_page='3') == [['frontend', 'search-api', 'billing'], ['web']]

    def found(query: str) -> list[str]:
        return [p['slug'] for p in client.simulate_get('/api/0/projects/', params={'query': query}, headers=key).json]

    assert found('platform:python') == ['search-api', 'billing']
    assert found('slug:BILLING slug:web') == ['billing', 'web']
    assert found('name:frontend') == ['frontend']
    assert found(f'id:{install.project_id}') == ['web']
    assert found('id:abc') == []
    assert found('api') == ['search-api']
    assert found('search api') == ['search-api']
    assert found('platform:python bill') == ['billing']
    assert client.simulate_get('/api/0/projects/', params={'status': 'deleted'}, headers=key).json == []
    assert client.simulate_get('/api/0/projects/', headers=key_with(services, 'org:read')).status_code == 403

    with services.read() as conn:
        other = organizations.org_by_slug(conn, 'other')
    services.execute(DeleteOrganization(organization_id=UUID(other.id), actor=SYSTEM))
    assert 'op' not in [p['slug'] for p in client.simulate_get('/api/0/projects/', cookies=session).json]


def test_project_detail_by_slug_and_by_numeric_id(client, services, install):
    owner = bearer(install.auth_token)
    detail = client.simulate_get('/api/0/projects/acme/web/', headers=owner)
    assert detail.status_code == 200
    body = detail.json
    assert (body['id'], body['slug'], body['team']['slug'], body['organization']['slug']) == (
        install.project_id, 'web', 'web', 'acme')
    assert body['options']['sentry:origins'] == '*' and body['options']['sentry:scrub_data'] is True
    assert (body['digestsMinDelay'], body['digestsMaxDelay']) == (300, 1800)
    assert body['subjectTemplate'] == '[$project] ${tag:level}: $title'
    assert (body['latestRelease'], body['plugins'], body['platforms'], body['processingIssues'],
            body['defaultEnvironment']) == (None, [], [], 0, None)
    assert body['isBookmarked'] is False and body['status'] == 'active'

    by_id = client.simulate_get(f'/api/0/projects/{install.project_id}/', headers=basic(install.api_key))
    assert by_id.status_code == 200 and by_id.json['slug'] == 'web' and by_id.json['options'] == body['options']
    assert client.simulate_get('/api/0/projects/999999/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/projects/99999999999999999999/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/projects/acme/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/projects/acme/nope/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/projects/acme/web/',
                               headers=key_with(services, 'org:read')).status_code == 403
    for headers in other_credentials(services):
        for path in ('/api/0/projects/acme/web/', f'/api/0/projects/{install.project_id}/'):
            foreign = client.simulate_get(path, headers=headers)
            assert foreign.status_code in (403, 404) and 'acme' not in foreign.text
        assert client.simulate_put(f'/api/0/projects/{install.project_id}/', json={'name': 'Stolen'},
                                   headers=headers).status_code in (403, 404)
        assert client.simulate_delete(f'/api/0/projects/{install.project_id}/',
                                      headers=headers).status_code in (403, 404)
    assert client.simulate_get('/api/0/projects/acme/web/', headers=owner).json['name'] == 'web'


def test_project_settings_by_a_writer(client, services, install):
    owner = bearer(install.auth_token)
    client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Mobile'}, headers=owner)
    add_projects(services, 'web', 'Taken')
    changed = client.simulate_put('/api/0/projects/acme/web/', headers=owner, json={
        'name': 'Web App', 'slug': 'web-app', 'team': 'mobile', 'platform': 'javascript',
        'digestsMinDelay': 60, 'digestsMaxDelay': 3600, 'subjectPrefix': '[acme] ', 'subjectTemplate': '$title',
        'isBookmarked': True, 'isSubscribed': False,
        'options': {'sentry:origins': 'https://a.example\n\n HTTPS://B.example ', 'sentry:resolve_age': 24,
                    'sentry:scrub_data': False, 'sentry:safe_fields': ['Card'],
                    'filters:error_messages': ['Timeout*', 'Lost']},
    })
    assert changed.status_code == 200, changed.text
    body = changed.json
    assert (body['name'], body['slug'], body['team']['slug'], body['platform']) == (
        'Web App', 'web-app', 'mobile', 'javascript')
    assert (body['digestsMinDelay'], body['digestsMaxDelay'], body['subjectPrefix'], body['subjectTemplate']) == (
        60, 3600, '[acme] ', '$title')
    assert body['isBookmarked'] is True
    options = body['options']
    assert options['sentry:origins'] == 'https://a.example\nhttps://b.example'
    assert options['filters:error_messages'] == 'Timeout*\nLost'
    assert (options['sentry:resolve_age'], options['sentry:scrub_data'], options['sentry:safe_fields']) == (
        24, False, ['card'])
    assert options['sentry:scrub_defaults'] is True

    assert client.simulate_get('/api/0/projects/acme/web/', headers=owner).status_code == 404
    assert client.simulate_get(f'/api/0/projects/{install.project_id}/', headers=owner).json['slug'] == 'web-app'
    assert [p['slug'] for p in client.simulate_get('/api/0/teams/acme/mobile/projects/', headers=owner).json] == [
        'web-app']
    listed = client.simulate_get('/api/0/organizations/acme/projects/', headers=owner).json
    assert {p['slug']: p['isBookmarked'] for p in listed} == {'web-app': True, 'taken': False}
    reused = client.simulate_post('/api/0/teams/acme/web/projects/', json={'name': 'web'}, headers=owner)
    assert reused.status_code == 201 and reused.json['slug'] == 'web'

    unbookmarked = client.simulate_put(f'/api/0/projects/{install.project_id}/', json={'isBookmarked': False},
                                       headers=owner)
    assert unbookmarked.status_code == 200 and unbookmarked.json['isBookmarked'] is False

    lowered = client.simulate_put('/api/0/projects/acme/web-app/', json={'digestsMaxDelay': 60}, headers=owner)
    assert lowered.json['digestsMaxDelay'] == 60
    head = services.runner.head()
    for body, field in (
        ({'digestsMinDelay': 10}, 'digestsMinDelay'), ({'digestsMaxDelay': 'soon'}, 'digestsMaxDelay'),
        ({'digestsMinDelay': 900, 'digestsMaxDelay': 600}, 'digestsMaxDelay'),
        ({'digestsMinDelay': 120}, 'digestsMaxDelay'),  # above the stored maximum
        ({'slug': 'taken'}, 'slug'), ({'slug': 'Bad Slug'}, 'slug'), ({'name': ''}, 'name'),
        ({'team': 'nope'}, 'team'), ({'options': {'sentry:nope': 1}}, 'options'),
        ({'options': {'sentry:scrub_data': 'maybe'}}, 'options'), ({'options': ['x']}, 'options'),
        ({'options': {'sentry:resolve_age': '721'}}, 'options'),
        ({'options': {'sentry:resolve_age': '9' * 5000}}, 'options'),
        ({'isBookmarked': 'perhaps'}, 'isBookmarked'), ({'platform': 5}, 'platform'),
    ):
        refused = client.simulate_put('/api/0/projects/acme/web-app/', json=body, headers=owner)
        assert refused.status_code == 400, body
        assert list(refused.json) == [field], refused.json
    assert client.simulate_put('/api/0/projects/acme/web-app/', json={'slug': 'taken'}, headers=owner).json == {
        'slug': ['The slug "taken" is already in use.']}
    assert services.runner.head() == head


def test_a_reader_may_only_bookmark_and_set_the_platform(client, services, install):
    member = member_token(services, 'dev@example.com', 'member', ['web'])
    changed = client.simulate_put('/api/0/projects/acme/web/', headers=member,
                                  json={'isBookmarked': True, 'platform': 'go', 'name': 'Renamed', 'slug': 'x'})
    assert changed.status_code == 200
    assert (changed.json['isBookmarked'], changed.json['platform'], changed.json['name'], changed.json['slug']) == (
        True, 'go', 'web', 'web')
    # The bookmark is the member's own.
    assert client.simulate_get('/api/0/projects/acme/web/', headers=bearer(install.auth_token)).json[
        'isBookmarked'] is False
    reader = key_with(services, 'project:read')
    assert client.simulate_put('/api/0/projects/acme/web/', json={'name': 'Renamed'},
                               headers=reader).json['name'] == 'web'
    assert client.simulate_put('/api/0/projects/acme/web/', json={'name': 'Renamed'},
                               headers=key_with(services, 'org:read')).status_code == 403
    assert client.simulate_delete('/api/0/projects/acme/web/', headers=member).status_code == 403

    add_projects(services, 'web', 'Elsewhere')
    client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Secret'},
                         headers=bearer(install.auth_token))
    client.simulate_post('/api/0/teams/acme/secret/projects/', json={'name': 'Hidden'},
                         headers=bearer(install.auth_token))
    assert client.simulate_get('/api/0/projects/acme/hidden/', headers=member).status_code == 403
    assert [p['slug'] for p in client.simulate_get('/api/0/organizations/acme/projects/', headers=member).json] == [
        'web', 'elsewhere']
    assert [p['slug'] for p in client.simulate_get('/api/0/projects/', headers=member).json] == ['elsewhere', 'web']
    refused = client.simulate_put('/api/0/projects/acme/web/', json={'team': 'secret'},
                                  headers=member_token(services, 'admin@example.com', 'admin', ['web']))
    assert (refused.status_code, refused.json) == (400, {'team': ['The new team is not found.']})


def test_project_delete_and_members(client, services, install):
    owner = bearer(install.auth_token)
    members = client.simulate_get('/api/0/projects/acme/web/members/', headers=basic(install.api_key))
    assert members.status_code == 200
    assert [m['email'] for m in members.json] == ['owner@example.com']
    assert members.json[0]['roleName'] == 'Owner' and members.json[0]['id'].isdigit()
    assert client.simulate_get('/api/0/projects/acme/web/members/',
                               headers=key_with(services, 'org:read')).status_code == 403
    for headers in other_credentials(services):
        foreign = client.simulate_get('/api/0/projects/acme/web/members/', headers=headers)
        assert foreign.status_code in (403, 404) and 'owner@example.com' not in foreign.text

    assert client.simulate_delete('/api/0/projects/acme/web/',
                                  headers=key_with(services, 'project:write')).status_code == 403
    deleted = client.simulate_delete('/api/0/projects/acme/web/', headers=owner)
    assert deleted.status_code == 204 and deleted.content == b''
    assert client.simulate_get('/api/0/projects/acme/web/', headers=owner).status_code == 404
    assert client.simulate_get(f'/api/0/projects/{install.project_id}/', headers=owner).status_code == 404
    assert client.simulate_delete('/api/0/projects/acme/web/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/organizations/acme/projects/', headers=owner).json == []
    again = client.simulate_post('/api/0/teams/acme/web/projects/', json={'name': 'web'}, headers=owner)
    assert again.status_code == 201 and again.json['slug'] == 'web'
    by_id = client.simulate_delete(f'/api/0/projects/{again.json["id"]}/', headers=basic(install.api_key))
    assert by_id.status_code == 204
    assert client.simulate_get('/api/0/teams/acme/web/projects/', headers=owner).json == []
