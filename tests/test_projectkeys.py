"""`projects/{org}/{project}/keys/` and `…/keys/{key}/`: client keys and their DSNs."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from sentrail.commands.accounts import IssueToken, RegisterUser
from sentrail.commands.members import InviteMember, JoinTeam
from sentrail.commands.organizations import CreateApiKey, CreateOrganization, CreateProject, UpdateOrganization
from sentrail.domain.actor import SYSTEM
from sentrail.domain.roles import SCOPES
from sentrail.projections import organizations
from sentrail.seed import ensure_installation
from tests.conftest import basic, bearer

KEYS = '/api/0/projects/acme/web/keys/'
DENIED = {'detail': 'You do not have permission to perform this action.'}


def acme(services):
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
        return org, organizations.team_by_slug(conn, org.id, 'web')


def team_of(services, slug: str):
    with services.read() as conn:
        return organizations.teams_of_org(conn, organizations.org_by_slug(conn, slug).id)[0]


def acme_key(services, scopes: list) -> dict:
    org, _ = acme(services)
    return basic(services.execute(CreateApiKey(organization_id=UUID(org.id), scopes=scopes,
                                               actor=SYSTEM)).data['key'])


def acme_member(services, email: str, role: str) -> tuple[dict, UUID]:
    """A member of acme in no team, with an all-scope token; returns (headers, member id)."""
    org, _ = acme(services)
    user_id = services.execute(RegisterUser(email=email, actor=SYSTEM)).data['user_id']
    member_id = services.execute(InviteMember(organization_id=UUID(org.id), email=email, role=role,
                                              actor=SYSTEM)).data['member_id']
    token = services.execute(IssueToken(user_id=user_id, scopes=list(SCOPES), actor=SYSTEM)).data['token']
    return bearer(token), member_id


def test_list_and_create_keys(client, install):
    owner = bearer(install.auth_token)
    listed = client.simulate_get(KEYS, headers=owner)
    assert listed.status_code == 200
    [default] = listed.json
    public, secret = default['public'], default['secret']
    number = int(install.project_id)
    assert default == {
        'id': public, 'name': 'Default', 'label': 'Default', 'public': public, 'secret': secret,
        'projectId': number, 'isActive': True, 'rateLimit': None,
        'dsn': {
            'secret': f'http://{public}:{secret}@testserver/{number}',
            'public': f'http://{public}@testserver/{number}',
            'csp': f'http://testserver/api/{number}/csp-report/?sentry_key={public}',
            'minidump': f'http://testserver/api/{number}/minidump/?sentry_key={public}',
        },
        'dateCreated': default['dateCreated'],
    }
    assert default['dsn']['public'] == install.dsn
    assert listed.headers['Allow'] == 'GET, POST, HEAD, OPTIONS'

    generated = client.simulate_post(KEYS, json={}, headers=owner)
    assert generated.status_code == 201
    assert generated.json['name'] == generated.json['public'][:14]
    assert len(generated.json['secret']) == 32 and generated.json['secret'] != secret
    chosen = client.simulate_post(KEYS, json={'name': 'ci', 'public': 'a' * 32, 'secret': 'b' * 32}, headers=owner)
    assert chosen.status_code == 201
    assert (chosen.json['id'], chosen.json['secret'], chosen.json['label']) == ('a' * 32, 'b' * 32, 'ci')
    response = client.simulate_post(KEYS, json={'public': 'a' * 32}, headers=owner)
    assert response.status_code == 409
    for body, field in [({'public': 'xyz'}, 'public'), ({'secret': 'G' * 32}, 'secret'),
                        ({'name': 'n' * 201}, 'name'), ({'name': 7}, 'name')]:
        response = client.simulate_post(KEYS, json=body, headers=owner)
        assert response.status_code == 400
        assert list(response.json) == [field]

    # Newest first (Sentry's -id), keyset pages that neither skip nor repeat.
    first = client.simulate_get(KEYS, params={'per_page': '2'}, headers=owner)
    assert [k['id'] for k in first.json] == ['a' * 32, generated.json['id']]
    assert 'rel="next"; results="true"' in first.headers['Link']
    cursor = parse_qs(urlsplit(first.headers['Link'].split(', <')[1].split('>')[0]).query)['cursor'][0]
    second = client.simulate_get(KEYS, params={'per_page': '2', 'cursor': cursor}, headers=owner)
    assert [k['id'] for k in second.json] == [public]
    assert 'rel="next"; results="false"' in second.headers['Link']
    response = client.simulate_get(KEYS, params={'cursor': 'nonsense'}, headers=owner)
    assert response.status_code == 400


def test_update_filter_and_delete_a_key(client, services, install):
    owner = bearer(install.auth_token)
    [key] = client.simulate_get(KEYS, headers=owner).json
    detail = f'{KEYS}{key["id"]}/'
    assert client.simulate_get(detail, headers=owner).json == key
    assert client.simulate_get(f'{KEYS}{"0" * 32}/', headers=owner).status_code == 404

    response = client.simulate_put(detail, json={'name': 'Browser', 'isActive': False,
                                                 'rateLimit': {'count': 10, 'window': 60}}, headers=owner)
    assert response.status_code == 200
    assert (response.json['name'], response.json['label']) == ('Browser', 'Browser')
    assert response.json['isActive'] is False
    assert response.json['rateLimit'] == {'window': 60, 'count': 10}
    assert client.simulate_get(detail, headers=owner).json == response.json
    # Sentry shows a limit only when both parts are non-zero; null removes it.
    assert client.simulate_put(detail, json={'rateLimit': {'count': 0, 'window': 60}},
                               headers=owner).json['rateLimit'] is None
    assert client.simulate_put(detail, json={'rateLimit': None}, headers=owner).json['rateLimit'] is None

    for body, errors in [
        ({'rateLimit': {'count': -1, 'window': 60}},
         {'rateLimit': {'count': ['Ensure this value is greater than or equal to 0.']}}),
        ({'rateLimit': {'count': 1, 'window': 86401}},
         {'rateLimit': {'window': ['Ensure this value is less than or equal to 86400.']}}),
        ({'rateLimit': {'count': 1}}, {'rateLimit': {'window': ['This field is required.']}}),
        ({'rateLimit': 5}, {'rateLimit': ['Invalid data. Expected a dictionary.']}),
        ({'isActive': 'maybe'}, {'isActive': ["'maybe' value must be either True or False."]}),
        ({'name': 'n' * 201}, {'name': ['Ensure this field has no more than 200 characters.']}),
    ]:
        head = services.runner.head()
        response = client.simulate_put(detail, json=body, headers=owner)
        assert (response.status_code, response.json) == (400, errors)
        assert services.runner.head() == head

    def ids(status: str) -> list[str]:
        return [k['id'] for k in client.simulate_get(KEYS, params={'status': status}, headers=owner).json]

    assert ids('inactive') == [key['id']]
    assert ids('active') == []
    assert ids('bogus') == []
    client.simulate_put(detail, json={'isActive': True}, headers=owner)
    assert ids('active') == [key['id']]

    assert client.simulate_delete(detail, headers=owner).status_code == 204
    assert client.simulate_get(detail, headers=owner).status_code == 404
    assert client.simulate_get(KEYS, headers=owner).json == []
    assert client.simulate_delete(detail, headers=owner).status_code == 404


def test_keys_need_project_scopes_and_team_access(client, services, install):
    [key] = client.simulate_get(KEYS, headers=bearer(install.auth_token)).json
    detail = f'{KEYS}{key["id"]}/'
    assert client.simulate_get(KEYS).status_code == 401
    # project:read reads; writing needs project:write, deleting project:admin.
    reader = acme_key(services, ['project:read'])
    assert client.simulate_get(detail, headers=reader).status_code == 200
    for response in (client.simulate_post(KEYS, json={}, headers=reader),
                     client.simulate_put(detail, json={'name': 'x'}, headers=reader),
                     client.simulate_delete(detail, headers=reader)):
        assert (response.status_code, response.json) == (403, DENIED)
    writer = acme_key(services, ['project:write'])
    assert client.simulate_put(detail, json={'name': 'Renamed'}, headers=writer).status_code == 200
    assert client.simulate_delete(detail, headers=writer).status_code == 403
    assert client.simulate_get(KEYS, headers=acme_key(services, ['org:read', 'event:admin'])).status_code == 403

    # Users also need access to the project's team (once membership is no longer open).
    org, team = acme(services)
    services.execute(UpdateOrganization(organization_id=UUID(org.id), changes={'flags': {'open_membership': False}},
                                        actor=SYSTEM))
    admin, admin_member = acme_member(services, 'admin@example.com', 'admin')
    assert client.simulate_get(KEYS, headers=admin).status_code == 403
    services.execute(JoinTeam(member_id=admin_member, team_id=UUID(team.id), actor=SYSTEM))
    assert client.simulate_get(KEYS, headers=admin).json[0]['name'] == 'Renamed'
    member, member_id = acme_member(services, 'member@example.com', 'member')
    services.execute(JoinTeam(member_id=member_id, team_id=UUID(team.id), actor=SYSTEM))
    assert client.simulate_get(detail, headers=member).status_code == 200
    assert client.simulate_post(KEYS, json={}, headers=member).status_code == 403

    # A key of another project of acme is not found under this one.
    services.execute(CreateProject(team_id=UUID(team.id), name='api', slug='api', actor=SYSTEM))
    response = client.simulate_get(f'/api/0/projects/acme/api/keys/{key["id"]}/', headers=bearer(install.auth_token))
    assert response.status_code == 404
    assert client.simulate_delete(detail, headers=admin).status_code == 204


def test_other_organization_sees_no_acme_keys(client, services, install):
    [key] = client.simulate_get(KEYS, headers=bearer(install.auth_token)).json
    # Another organization's key, and the token of a plain user who owns another
    # organization (ensure_installation's own user is a superuser, who sees everything).
    other = ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')
    user_id = services.execute(RegisterUser(email='stranger@example.com', actor=SYSTEM)).data['user_id']
    services.execute(CreateOrganization(name='Elsewhere', slug='other-org', owner_id=user_id,
                                        default_team=True, actor=SYSTEM))
    services.execute(CreateProject(team_id=UUID(team_of(services, 'other-org').id), name='op', slug='op',
                                   actor=SYSTEM))
    token = services.execute(IssueToken(user_id=user_id, scopes=list(SCOPES), actor=SYSTEM)).data['token']
    for headers, org in ((basic(other.api_key), 'other'), (bearer(token), 'other-org')):
        for response in (client.simulate_get(KEYS, headers=headers),
                         client.simulate_get(f'{KEYS}{key["id"]}/', headers=headers),
                         client.simulate_post(KEYS, json={}, headers=headers),
                         client.simulate_delete(f'{KEYS}{key["id"]}/', headers=headers)):
            assert response.status_code in (403, 404)
            assert key['public'] not in response.text and key['secret'] not in response.text
        # Its own project's key is not reachable through acme's path either.
        [own] = client.simulate_get(f'/api/0/projects/{org}/op/keys/', headers=headers).json
        assert client.simulate_get(f'{KEYS}{own["id"]}/', headers=headers).status_code == 403
    assert client.simulate_get(f'{KEYS}{key["id"]}/', headers=bearer(install.auth_token)).status_code == 200
