"""Organization API keys: create, list, read, change and delete (org:admin only)."""
from __future__ import annotations

from uuid import UUID

import pytest

from sentrail.commands.accounts import IssueToken, RegisterUser
from sentrail.commands.organizations import CreateApiKey
from sentrail.domain.actor import SYSTEM
from sentrail.domain.roles import SCOPES
from sentrail.projections import organizations
from sentrail.seed import ensure_installation
from tests.conftest import basic, bearer

KEYS = '/api/0/organizations/acme/api-keys/'
DEFAULT_SCOPES = ['org:read', 'member:read', 'team:read', 'project:read', 'event:read']


def acme_key(services, scopes: list[str]) -> str:
    with services.read() as conn:
        org_id = UUID(organizations.org_by_slug(conn, 'acme').id)
    return services.execute(CreateApiKey(organization_id=org_id, scopes=scopes, actor=SYSTEM)).data['key']


@pytest.fixture
def other(services):
    """A second organization whose owner is an ordinary user (a superuser could see acme)."""
    services.execute(RegisterUser(email='other@example.com', password='pw-123456', actor=SYSTEM))
    return ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')


def test_create_list_and_read_keys(client, install):
    admin = basic(install.api_key)
    # No body needed: Sentry's default label and scopes.
    response = client.simulate_post(KEYS, headers=admin)
    assert response.status_code == 201
    created = response.json
    assert set(created) == {'id', 'label', 'key', 'scope_list', 'status', 'allowed_origins'}
    assert created['id'].isdigit() and len(created['key']) == 32 and int(created['key'], 16) >= 0
    assert (created['label'], created['scope_list'], created['status'], created['allowed_origins']) == (
        'Default', DEFAULT_SCOPES, 0, '')
    response = client.simulate_post(KEYS, json={'label': 'Alpha', 'scope_list': ['project:write', 'org:read']},
                                    headers=bearer(install.auth_token))
    assert (response.status_code, response.json['scope_list']) == (201, ['org:read', 'project:write'])
    # A plain array sorted by label (the installation's key is 'bootstrap'), no pagination.
    response = client.simulate_get(KEYS, headers=admin)
    assert response.status_code == 200
    assert [k['label'] for k in response.json] == ['Alpha', 'Default', 'bootstrap']
    assert 'Link' not in response.headers
    response = client.simulate_get(KEYS + created['id'] + '/', headers=admin)
    assert response.json == created
    # The new key works at once, with exactly its scopes.
    assert client.simulate_get('/api/0/organizations/acme/', headers=basic(created['key'])).status_code == 200
    assert client.simulate_get(KEYS, headers=basic(created['key'])).status_code == 403


def test_change_keys_with_valid_values_only(client, services, install):
    admin = basic(install.api_key)
    key = client.simulate_post(KEYS, headers=admin).json
    url = KEYS + key['id'] + '/'
    response = client.simulate_put(url, json={'label': 'CI', 'scope_list': ['event:read', 'project:releases'],
                                              'allowed_origins': 'https://a.example\n\nhttps://b.example\n'},
                                   headers=admin)
    assert response.status_code == 200
    assert {k: response.json[k] for k in ('label', 'scope_list', 'allowed_origins')} == {
        'label': 'CI', 'scope_list': ['project:releases', 'event:read'],
        'allowed_origins': 'https://a.example\nhttps://b.example'}
    assert client.simulate_get(url, headers=admin).json == response.json
    assert client.simulate_put(url, json={'allowed_origins': None}, headers=admin).json['allowed_origins'] == ''
    # The changed scopes take effect at once.
    assert client.simulate_get('/api/0/organizations/acme/', headers=basic(key['key'])).status_code == 403
    # Bad values: 400 in Sentry's field shape, and nothing changes.
    for body, field in (({'scope_list': ['org:read', 'root']}, 'scope_list'), ({'scope_list': []}, 'scope_list'),
                        ({'scope_list': 'org:read'}, 'scope_list'), ({'label': 'x' * 65}, 'label'),
                        ({'label': ''}, 'label'), ({'allowed_origins': ['a']}, 'allowed_origins')):
        response = client.simulate_put(url, json=body, headers=admin)
        assert response.status_code == 400 and list(response.json) == [field], body
        assert isinstance(response.json[field], list)
    response = client.simulate_post(KEYS, json={'scope_list': ['nope']}, headers=admin)
    assert (response.status_code, list(response.json)) == (400, ['scope_list'])
    assert client.simulate_get(url, headers=admin).json['label'] == 'CI'
    # A key cannot grant what it does not hold.
    narrow = basic(acme_key(services, ['org:admin']))
    response = client.simulate_post(KEYS, json={'scope_list': ['org:admin', 'event:admin']}, headers=narrow)
    assert (response.status_code, response.json) == (
        403, {'scope_list': ['You cannot grant a scope you do not hold: event:admin.']})
    assert client.simulate_put(url, json={'scope_list': ['member:admin']}, headers=narrow).status_code == 403
    assert client.simulate_post(KEYS, json={'scope_list': ['org:admin']}, headers=narrow).status_code == 201


def test_deleting_a_key_stops_it_at_once(client, install):
    admin = basic(install.api_key)
    key = client.simulate_post(KEYS, json={'scope_list': list(SCOPES)}, headers=admin).json
    own = basic(key['key'])
    assert client.simulate_get(KEYS, headers=own).status_code == 200
    # A key may delete itself; the very next request with it is refused.
    assert client.simulate_delete(KEYS + key['id'] + '/', headers=own).status_code == 204
    response = client.simulate_get(KEYS, headers=own)
    assert (response.status_code, response.json) == (401, {'detail': 'API key is not valid'})
    assert client.simulate_get(KEYS + key['id'] + '/', headers=admin).status_code == 404
    assert client.simulate_delete(KEYS + key['id'] + '/', headers=admin).status_code == 404
    assert key['key'] not in client.simulate_get(KEYS, headers=admin).text


def test_keys_are_for_org_admins_of_their_own_organization(client, services, install, other):
    target = client.simulate_post(KEYS, headers=basic(install.api_key)).json
    url = KEYS + target['id'] + '/'
    # Every method needs org:admin.
    weak = basic(acme_key(services, [s for s in SCOPES if s != 'org:admin']))
    for method in ('GET', 'POST'):
        assert client.simulate_request(method, KEYS, headers=weak).status_code == 403
    for method in ('GET', 'PUT', 'DELETE'):
        assert client.simulate_request(method, url, headers=weak, json={'label': 'x'}).status_code == 403
    # So a manager (org:write at most) cannot manage keys, whatever their token's scopes.
    user_id = services.execute(RegisterUser(email='mia@example.com', actor=SYSTEM)).data['user_id']
    invite = {'email': 'mia@example.com', 'role': 'manager'}
    response = client.simulate_post('/api/0/organizations/acme/members/', json=invite,
                                    headers=bearer(install.auth_token))
    assert response.status_code == 201
    token = services.execute(IssueToken(user_id=user_id, scopes=list(SCOPES), actor=SYSTEM)).data['token']
    assert client.simulate_get(KEYS, headers=bearer(token)).status_code == 403
    # Another organization's key and owner get nothing of acme's keys.
    for headers in (basic(other.api_key), bearer(other.auth_token)):
        for method, path in (('GET', KEYS), ('POST', KEYS), ('GET', url), ('PUT', url), ('DELETE', url)):
            response = client.simulate_request(method, path, headers=headers, json={'label': 'stolen'})
            assert response.status_code == 403
            assert target['key'] not in response.text and install.api_key not in response.text
    # acme's key number names nothing in the other organization.
    response = client.simulate_get(f'/api/0/organizations/other/api-keys/{target["id"]}/',
                                   headers=basic(other.api_key))
    assert response.status_code == 404
    assert client.simulate_get(url, headers=basic(install.api_key)).json['label'] == 'Default'
