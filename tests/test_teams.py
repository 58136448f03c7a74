"""Teams: the organization's team list, one team, its projects and its members."""
from __future__ import annotations

from uuid import UUID

from sentrail.commands.accounts import IssueToken, RegisterUser
from sentrail.commands.members import InviteMember
from sentrail.commands.organizations import CreateApiKey, CreateOrganization, UpdateOrganization
from sentrail.commands.teams import DeleteTeam
from sentrail.domain.actor import SYSTEM
from sentrail.domain.roles import SCOPES
from sentrail.projections import accounts, organizations, projects
from sentrail.seed import ensure_installation
from tests.conftest import basic, bearer


def org_id(services, slug: str = 'acme') -> str:
    with services.read() as conn:
        return organizations.org_by_slug(conn, slug).id


def key_with(services, *scopes: str) -> dict:
    """Basic auth for a new acme API key holding only these scopes."""
    key = services.execute(CreateApiKey(organization_id=UUID(org_id(services)), scopes=list(scopes),
                                        actor=SYSTEM)).data['key']
    return basic(key)


def member_token(services, email: str, role: str, team_slugs: list[str], open_membership: bool = False) -> dict:
    """Bearer auth for a non-superuser with `role` in acme, member of these teams;
    the organization's membership is made closed (or open) as asked."""
    user_id = services.execute(RegisterUser(email=email, password='pw', actor=SYSTEM)).data['user_id']
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
        team_ids = tuple(UUID(organizations.team_by_slug(conn, org.id, slug).id) for slug in team_slugs)
    services.execute(InviteMember(organization_id=UUID(org.id), email=email, role=role, team_ids=team_ids,
                                  actor=SYSTEM))
    services.execute(UpdateOrganization(organization_id=UUID(org.id), actor=SYSTEM,
                                        changes={'flags': {'open_membership': open_membership}}))
    token = services.execute(IssueToken(user_id=user_id, scopes=['org:read', 'team:read', 'project:read',
                                                                  'team:write', 'project:write'],
                                        actor=SYSTEM)).data['token']
    return bearer(token)


def other_credentials(services) -> tuple[dict, dict]:
    """Another organization's API key, and the token of a plain user who owns yet
    another organization (ensure_installation makes its user a superuser, who
    may see everything, as in Sentry)."""
    other = ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')
    user_id = services.execute(RegisterUser(email='stranger@example.com', password='pw', actor=SYSTEM)).data['user_id']
    services.execute(CreateOrganization(name='Elsewhere', owner_id=user_id, actor=SYSTEM))
    token = services.execute(IssueToken(user_id=user_id, scopes=list(SCOPES), actor=SYSTEM)).data['token']
    return basic(other.api_key), bearer(token)


def test_team_list_and_create(client, services, install):
    owner = bearer(install.auth_token)
    listed = client.simulate_get('/api/0/organizations/acme/teams/', headers=basic(install.api_key))
    assert listed.status_code == 200
    assert [(t['slug'], [p['slug'] for p in t['projects']]) for t in listed.json] == [('web', ['web'])]
    assert 'Link' not in listed.headers

    created = client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Backend'}, headers=owner)
    assert created.status_code == 201
    assert created.json['slug'] == 'backend' and created.json['name'] == 'Backend'
    assert created.json['isMember'] is True  # the creating owner joins it
    assert created.json['id'].isdigit() and created.json['dateCreated'].endswith('Z')
    listed = client.simulate_get('/api/0/organizations/acme/teams/', headers=owner)
    assert [t['slug'] for t in listed.json] == ['backend', 'web']
    assert listed.json[0]['isMember'] is True and listed.json[0]['projects'] == []

    taken = client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'x', 'slug': 'backend'},
                                 headers=owner)
    assert (taken.status_code, taken.json) == (409, {'detail': 'A team with this slug already exists.'})

    head = services.runner.head()
    for body, field in (({}, 'name'), ({'name': 'x' * 201}, 'name'), ({'name': 'Ok', 'slug': 'Not A Slug'}, 'slug'),
                        ({'name': 42}, 'name')):
        refused = client.simulate_post('/api/0/organizations/acme/teams/', json=body, headers=owner)
        assert refused.status_code == 400, body
        assert list(refused.json) == [field] and isinstance(refused.json[field], list)
    assert client.simulate_post('/api/0/organizations/acme/teams/', json={}, headers=owner).json == {
        'name': ['This field is required.']}
    assert services.runner.head() == head

    assert client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Ops'},
                                headers=key_with(services, 'org:read', 'team:read')).status_code == 403
    by_key = client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Ops'},
                                  headers=key_with(services, 'team:write'))
    assert by_key.status_code == 201 and by_key.json['isMember'] is False

    for headers in other_credentials(services):
        foreign = client.simulate_get('/api/0/organizations/acme/teams/', headers=headers)
        assert foreign.status_code in (403, 404) and 'backend' not in foreign.text
        assert client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Intruders'},
                                    headers=headers).status_code in (403, 404)


def test_team_detail_rename_and_delete(client, services, install):
    owner = bearer(install.auth_token)
    detail = client.simulate_get('/api/0/teams/acme/web/', headers=owner)
    assert detail.status_code == 200
    assert detail.json['slug'] == 'web' and detail.json['organization']['slug'] == 'acme'
    assert detail.json['isMember'] is True and detail.json['hasAccess'] is True
    assert client.simulate_get('/api/0/teams/acme/nope/', headers=owner).status_code == 404
    client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Mobile'}, headers=owner)

    assert client.simulate_put('/api/0/teams/acme/web/', json={'name': 'Frontend'},
                               headers=key_with(services, 'team:read')).status_code == 403
    taken = client.simulate_put('/api/0/teams/acme/web/', json={'slug': 'mobile'}, headers=owner)
    assert (taken.status_code, taken.json) == (400, {'slug': ['The slug "mobile" is already in use.']})
    bad = client.simulate_put('/api/0/teams/acme/web/', json={'name': ''}, headers=owner)
    assert bad.status_code == 400 and list(bad.json) == ['name']

    renamed = client.simulate_put('/api/0/teams/acme/web/', json={'name': 'Frontend', 'slug': 'frontend'},
                                  headers=owner)
    assert renamed.status_code == 200
    assert (renamed.json['slug'], renamed.json['name']) == ('frontend', 'Frontend')
    assert client.simulate_get('/api/0/teams/acme/web/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/teams/acme/frontend/', headers=owner).json['name'] == 'Frontend'
    reused = client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'web'}, headers=owner)
    assert reused.status_code == 201 and reused.json['slug'] == 'web'  # the old slug was released

    other_key, other_token = other_credentials(services)
    foreign = client.simulate_get('/api/0/teams/acme/frontend/', headers=other_key)
    assert foreign.status_code in (403, 404) and 'Frontend' not in foreign.text
    assert client.simulate_delete('/api/0/teams/acme/frontend/', headers=other_token).status_code in (403, 404)
    assert client.simulate_delete('/api/0/teams/acme/frontend/',
                                  headers=key_with(services, 'team:write')).status_code == 403

    deleted = client.simulate_delete('/api/0/teams/acme/frontend/', headers=owner)
    assert deleted.status_code == 204 and deleted.content == b''
    assert client.simulate_get('/api/0/teams/acme/frontend/', headers=owner).status_code == 404
    teams = client.simulate_get('/api/0/organizations/acme/teams/', headers=owner).json
    assert sorted(t['slug'] for t in teams) == ['mobile', 'web']
    # Its project went with it, and that project's slug is free again.
    assert client.simulate_get('/api/0/projects/acme/web/', headers=owner).status_code == 404
    assert client.simulate_get('/api/0/organizations/acme/projects/', headers=owner).json == []
    again = client.simulate_post('/api/0/teams/acme/mobile/projects/', json={'name': 'web'}, headers=owner)
    assert again.status_code == 201 and again.json['slug'] == 'web'

    # A project that left the team before the delete was written survives it.
    with services.read() as conn:
        acme = organizations.org_by_slug(conn, 'acme')
        team_id = organizations.team_by_slug(conn, acme.id, 'web').id
        moved = projects.project_by_slug(conn, acme.id, 'web').id
    services.execute(DeleteTeam(team_id=UUID(team_id), project_ids=(moved,), actor=SYSTEM))
    assert client.simulate_get('/api/0/projects/acme/web/', headers=owner).json['team']['slug'] == 'mobile'


def test_team_projects_and_members(client, services, install):
    owner = bearer(install.auth_token)
    listed = client.simulate_get('/api/0/teams/acme/web/projects/', headers=basic(install.api_key))
    assert listed.status_code == 200 and [p['slug'] for p in listed.json] == ['web']
    assert listed.json[0]['id'] == install.project_id

    created = client.simulate_post('/api/0/teams/acme/web/projects/',
                                   json={'name': 'API Server', 'platform': 'python'}, headers=owner)
    assert created.status_code == 201
    assert (created.json['slug'], created.json['name'], created.json['platform']) == (
        'api-server', 'API Server', 'python')
    assert created.json['callSign'] == 'API-SERVER' and created.json['id'].isdigit()
    named = client.simulate_post('/api/0/teams/acme/web/projects/', json={'name': 'Jobs', 'slug': 'jobs'},
                                 headers=owner)
    assert named.status_code == 201 and named.json['platform'] is None
    listed = client.simulate_get('/api/0/teams/acme/web/projects/', headers=owner)
    assert [p['slug'] for p in listed.json] == ['api-server', 'jobs', 'web']

    taken = client.simulate_post('/api/0/teams/acme/web/projects/', json={'name': 'x', 'slug': 'jobs'},
                                 headers=owner)
    assert (taken.status_code, taken.json) == (409, {'detail': 'A project with this slug already exists.'})
    reader = key_with(services, 'project:read', 'team:write')
    head = services.runner.head()
    assert client.simulate_post('/api/0/teams/acme/web/projects/', json={'platform': 'go'},
                                headers=owner).json == {'name': ['This field is required.']}
    assert client.simulate_post('/api/0/teams/acme/web/projects/', json={'name': 'x', 'platform': 'p' * 65},
                                headers=owner).status_code == 400
    assert client.simulate_post('/api/0/teams/acme/web/projects/', json={'name': 'y'},
                                headers=reader).status_code == 403
    assert client.simulate_post('/api/0/teams/acme/nope/projects/', json={'name': 'y'},
                                headers=owner).status_code == 404
    assert services.runner.head() == head

    members = client.simulate_get('/api/0/teams/acme/web/members/', headers=owner)
    assert members.status_code == 200
    assert [(m['email'], m['role'], m['pending']) for m in members.json] == [('owner@example.com', 'owner', False)]
    assert members.json[0]['user']['email'] == 'owner@example.com'
    assert client.simulate_get('/api/0/teams/acme/web/members/',
                               headers=key_with(services, 'project:read')).status_code == 403

    for headers in other_credentials(services):
        for path in ('/api/0/teams/acme/web/projects/', '/api/0/teams/acme/web/members/'):
            foreign = client.simulate_get(path, headers=headers)
            assert foreign.status_code in (403, 404) and 'owner@example.com' not in foreign.text
            assert 'api-server' not in foreign.text


def test_closed_membership_limits_a_member_to_their_teams(client, services, install):
    owner = bearer(install.auth_token)
    client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Secret'}, headers=owner)
    client.simulate_post('/api/0/teams/acme/secret/projects/', json={'name': 'Hidden'}, headers=owner)
    member = member_token(services, 'dev@example.com', 'member', ['web'])

    teams = client.simulate_get('/api/0/organizations/acme/teams/', headers=member)
    assert [t['slug'] for t in teams.json] == ['web'] and teams.json[0]['isMember'] is True
    assert client.simulate_get('/api/0/teams/acme/secret/', headers=member).status_code == 403
    assert client.simulate_get('/api/0/teams/acme/secret/projects/', headers=member).status_code == 403
    # Scopes come from the role: a member's token cannot create teams or projects.
    assert client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Mine'},
                                headers=member).status_code == 403
    assert client.simulate_post('/api/0/teams/acme/web/projects/', json={'name': 'Mine'},
                                headers=member).status_code == 403
    web_members = client.simulate_get('/api/0/teams/acme/web/members/', headers=member).json
    assert [m['email'] for m in web_members] == ['dev@example.com', 'owner@example.com']

    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
    services.execute(UpdateOrganization(organization_id=UUID(org.id), actor=SYSTEM,
                                        changes={'flags': {'open_membership': True}}))
    teams = client.simulate_get('/api/0/organizations/acme/teams/', headers=member)
    assert [(t['slug'], t['isMember']) for t in teams.json] == [('secret', False), ('web', True)]
    with services.read() as conn:
        assert accounts.user_by_email(conn, 'dev@example.com').is_superuser is False
