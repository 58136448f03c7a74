"""The HTTP contract every endpoint shares: root document, auth, errors, methods."""
from __future__ import annotations

import base64

import pytest

from tests.conftest import basic, bearer


def test_root_anonymous(client):
    response = client.simulate_get('/api/0/')
    assert response.status_code == 200
    assert response.json == {'version': '0', 'auth': None, 'user': None}
    assert response.headers['Allow'] == 'GET, HEAD, OPTIONS'
    assert response.headers['Content-Type'].startswith('application/json')


def test_root_with_api_key_lists_its_scopes(client, install):
    response = client.simulate_get('/api/0/', headers=basic(install.api_key))
    assert response.status_code == 200
    assert response.json['version'] == '0'
    assert 'org:admin' in response.json['auth']['scopes']
    assert response.json['user'] is None


def test_root_with_token_names_the_user(client, install):
    response = client.simulate_get('/api/0/', headers=bearer(install.auth_token))
    assert response.json['user']['email'] == 'owner@example.com'
    assert response.json['user']['id'] == install.user_id
    assert 'project:write' in response.json['auth']['scopes']


@pytest.mark.parametrize('header, detail', [
    ('Bearer', 'Invalid token header. No credentials provided.'),
    ('Bearer a b', 'Invalid token header. Token string should not contain spaces.'),
    ('Bearer ' + 'f' * 64, 'Invalid token'),
    ('Basic ' + base64.b64encode(b'0' * 32 + b':').decode(), 'API key is not valid'),
    ('Basic %%%', 'Invalid basic header. Credentials not correctly base64 encoded'),
])
def test_bad_credentials_are_401_with_a_reason(client, install, header, detail):
    response = client.simulate_get('/api/0/organizations/', headers={'Authorization': header})
    assert response.status_code == 401
    assert response.json == {'detail': detail}


def test_no_credentials_is_401(client, install):
    response = client.simulate_get('/api/0/organizations/')
    assert response.status_code == 401
    assert response.json == {'detail': 'Authentication credentials were not provided.'}


def test_dsn_auth_cannot_call_the_management_api(client, install):
    public = install.dsn.split('//')[1].split('@')[0]
    response = client.simulate_get('/api/0/organizations/',
                                   headers={'X-Sentry-Auth': f'Sentry sentry_key={public}, sentry_version=7'})
    assert response.status_code == 401


def test_missing_scope_is_403(client, services, install):
    from uuid import UUID

    from sentrail.commands.organizations import CreateApiKey
    from sentrail.domain.actor import SYSTEM
    from sentrail.projections import organizations
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
    key = services.execute(CreateApiKey(organization_id=UUID(org.id), scopes=['project:read'],
                                        actor=SYSTEM)).data['key']
    response = client.simulate_get('/api/0/organizations/acme/', headers=basic(key))
    assert response.status_code == 403
    assert response.json == {'detail': 'You do not have permission to perform this action.'}


def test_unknown_path_is_json_404(client):
    response = client.simulate_get('/api/0/no-such-thing/')
    assert response.status_code == 404
    assert response.json == {'detail': 'The requested resource does not exist'}


def test_unsupported_method_is_405_with_allow(client, install):
    response = client.simulate_patch('/api/0/', headers=basic(install.api_key))
    assert response.status_code == 405
    assert response.json == {'detail': "Method 'PATCH' not allowed."}
    assert response.headers['Allow'] == 'GET, HEAD, OPTIONS'


def test_options_answers_200_with_allow(client):
    response = client.simulate_options('/api/0/organizations/')
    assert response.status_code == 200
    assert response.headers['Allow'] == 'GET, POST, HEAD, OPTIONS'


def test_head_mirrors_get_without_a_body(client, install):
    response = client.simulate_head('/api/0/organizations/', headers=bearer(install.auth_token))
    assert response.status_code == 200
    assert response.content == b''


def test_body_over_the_limit_is_413(client, install):
    body = b'{"name": "' + b'x' * (2 * 1024 * 1024) + b'"}'
    response = client.simulate_post('/api/0/organizations/', body=body, headers={
        **bearer(install.auth_token), 'Content-Type': 'application/json'})
    assert response.status_code == 413
    assert 'detail' in response.json


def test_non_json_body_is_415(client, install):
    response = client.simulate_post('/api/0/organizations/', body='name=x', headers={
        **bearer(install.auth_token), 'Content-Type': 'application/x-www-form-urlencoded'})
    assert response.status_code == 415
    assert response.json == {'detail': "Unsupported media type 'application/x-www-form-urlencoded' in request."}


@pytest.mark.parametrize('body', [b'{"name": ', b'[1, 2]', b'\xff\xfe'])
def test_malformed_json_is_400_and_changes_nothing(client, services, install, body):
    head = services.runner.head()
    response = client.simulate_post('/api/0/organizations/', body=body, headers={
        **bearer(install.auth_token), 'Content-Type': 'application/json'})
    assert response.status_code == 400
    assert 'detail' in response.json
    assert services.runner.head() == head


def test_query_string_parameters_work_on_writes(client, install):
    response = client.simulate_post('/api/0/organizations/', query_string='name=From%20Query',
                                    headers=bearer(install.auth_token))
    assert response.status_code == 201
    assert response.json['slug'] == 'from-query'


class TestSession:
    def login(self, client):
        credentials = base64.b64encode(b'owner@example.com:secret-pw').decode()
        return client.simulate_post('/api/0/auth/', headers={'Authorization': f'Basic {credentials}'})

    def test_login_sets_an_httponly_samesite_cookie(self, client, install):
        response = self.login(client)
        assert response.status_code == 200
        assert response.json['email'] == 'owner@example.com'
        cookie = response.cookies['sentrailsession']
        assert cookie.http_only and cookie.same_site == 'Lax'

    def test_wrong_password_is_401(self, client, install):
        credentials = base64.b64encode(b'owner@example.com:nope').decode()
        response = client.simulate_post('/api/0/auth/', headers={'Authorization': f'Basic {credentials}'})
        assert response.status_code == 401

    def test_session_reads_and_needs_csrf_to_write(self, client, install):
        cookies = {name: c.value for name, c in self.login(client).cookies.items()}
        assert client.simulate_get('/api/0/auth/', cookies=cookies).json['email'] == 'owner@example.com'
        assert client.simulate_get('/api/0/organizations/acme/', cookies=cookies).status_code == 200
        refused = client.simulate_post('/api/0/organizations/', json={'name': 'CSRF'}, cookies=cookies)
        assert refused.status_code == 403
        accepted = client.simulate_post('/api/0/organizations/', json={'name': 'CSRF'}, cookies=cookies,
                                        headers={'X-CSRFToken': cookies['sentrailcsrf']})
        assert accepted.status_code == 201

    def test_logout_ends_the_session(self, client, install):
        cookies = {name: c.value for name, c in self.login(client).cookies.items()}
        response = client.simulate_delete('/api/0/auth/', cookies=cookies,
                                          headers={'X-CSRFToken': cookies['sentrailcsrf']})
        assert response.status_code == 204
        assert client.simulate_get('/api/0/auth/', cookies=cookies).status_code == 400
