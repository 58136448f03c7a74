"""`users/{member}/` (one's own account) and `api-tokens/` (personal Bearer tokens)."""
from __future__ import annotations

import base64
import pytest

from sentrail.commands.accounts import IssueToken, RegisterUser
from sentrail.domain.actor import SYSTEM
from sentrail.domain.errors import Conflict
from sentrail.domain.roles import SCOPES
from sentrail.projections import accounts
from sentrail.seed import ensure_installation
from tests.conftest import basic, bearer

DENIED = {'detail': 'You do not have permission to perform this action.'}


def register(services, email: str, scopes: tuple = SCOPES) -> tuple[str, str]:
    """A second person with a password and a token; returns (public id, token)."""
    outcome = services.execute(RegisterUser(email=email, password='their-pw-1', actor=SYSTEM))
    token = services.execute(IssueToken(user_id=outcome.data['user_id'], scopes=list(scopes),
                                        actor=SYSTEM)).data['token']
    return outcome.id, token


def login(client, email: str, password: str):
    credentials = base64.b64encode(f'{email}:{password}'.encode()).decode()
    return client.simulate_post('/api/0/auth/', headers={'Authorization': f'Basic {credentials}'})


def test_me_is_the_callers_own_account_only(client, services, install):
    owner = bearer(install.auth_token)
    me = client.simulate_get('/api/0/users/me/', headers=owner)
    assert me.status_code == 200
    assert me.json['id'] == install.user_id
    assert me.json['email'] == 'owner@example.com'
    assert me.json['authenticators'] == []
    assert me.json['options']['language'] == 'en'
    assert me.headers['Allow'] == 'GET, PUT, HEAD, OPTIONS'
    # Their own numeric id is the same account.
    assert client.simulate_get(f'/api/0/users/{install.user_id}/', headers=owner).json == me.json
    # A narrow token still reads its own user: Sentry's UserPermission checks no scope.
    _, narrow = register(services, 'narrow@example.com', scopes=('event:read',))
    assert client.simulate_get('/api/0/users/me/', headers=bearer(narrow)).json['email'] == 'narrow@example.com'
    # Someone else's account, an unknown id, and an API key (no user at all) are refused.
    other_id, _ = register(services, 'other@example.com')
    for path in (f'/api/0/users/{other_id}/', '/api/0/users/424242/'):
        response = client.simulate_get(path, headers=owner)
        assert (response.status_code, response.json) == (403, DENIED)
    response = client.simulate_put(f'/api/0/users/{other_id}/', json={'name': 'hijacked'}, headers=owner)
    assert response.status_code == 403
    assert client.simulate_get('/api/0/users/me/', headers=basic(install.api_key)).status_code == 403
    assert client.simulate_put('/api/0/users/me/', json={'name': 'x'},
                               headers=basic(install.api_key)).status_code == 403
    assert client.simulate_get('/api/0/users/me/').status_code == 401
    # sentry-cli 2.x probes this and must get a 404.
    assert client.simulate_get('/api/0/users/me/regions/', headers=owner).status_code == 404
    with services.read() as conn:
        assert accounts.user_by_number(conn, int(other_id)).name == 'other@example.com'


def test_editing_the_profile_moves_the_login(client, services, install):
    owner = bearer(install.auth_token)
    response = client.simulate_put('/api/0/users/me/', json={'name': 'Olive Owner', 'email': 'Olive@Example.com'},
                                   headers=owner)
    assert response.status_code == 200
    assert response.json['name'] == 'Olive Owner'
    assert response.json['email'] == 'olive@example.com'
    # The username was the email, so it follows it.
    assert response.json['username'] == 'olive@example.com'
    assert client.simulate_get('/api/0/users/me/', headers=owner).json == response.json
    assert login(client, 'olive@example.com', 'secret-pw').status_code == 200
    assert login(client, 'owner@example.com', 'secret-pw').status_code == 401
    # Bad input is refused field by field and changes nothing.
    for body, errors in [
        ({'email': 'not-an-email'}, {'email': ['Enter a valid email address.']}),
        ({'username': ''}, {'username': ['This field is required.']}),
        ({'name': 'n' * 201}, {'name': ['Ensure this field has no more than 200 characters.']}),
        ({'name': None}, {'name': ['Not a valid string.']}),
    ]:
        head = services.runner.head()
        response = client.simulate_put('/api/0/users/me/', json=body, headers=owner)
        assert (response.status_code, response.json) == (400, errors)
        assert services.runner.head() == head
    assert client.simulate_get('/api/0/users/me/', headers=owner).json['name'] == 'Olive Owner'


def test_emails_and_usernames_stay_unique(client, services, install):
    owner = bearer(install.auth_token)
    _, other_token = register(services, 'other@example.com')
    other = bearer(other_token)
    email_taken = (400, {'email': ['That email address is already in use.']})
    username_taken = (400, {'username': ['That username is already in use.']})

    def put(headers, body):
        response = client.simulate_put('/api/0/users/me/', json=body, headers=headers)
        return response.status_code, response.json

    assert put(owner, {'email': 'OTHER@example.com'}) == email_taken
    assert put(owner, {'email': 'new@example.com'})[0] == 200
    # The new address is held on the write side: nobody registers it or moves onto it.
    with pytest.raises(Conflict):
        services.execute(RegisterUser(email='new@example.com', actor=SYSTEM))
    assert put(other, {'email': 'new@example.com'}) == email_taken
    # A former address stays with its account, which may move back to it.
    assert put(other, {'email': 'owner@example.com'}) == email_taken
    assert put(owner, {'email': 'owner@example.com'})[0] == 200
    # Usernames are unique regardless of case; a released one is free again.
    assert put(owner, {'username': 'boss'})[1]['username'] == 'boss'
    assert put(other, {'username': 'BOSS'}) == username_taken
    assert put(owner, {'username': 'chief'})[0] == 200
    assert put(other, {'username': 'Boss'})[1]['username'] == 'Boss'
    assert put(owner, {'username': 'BOSS'}) == username_taken


def test_password_change_needs_the_current_password(client, services, install):
    owner = bearer(install.auth_token)
    good = {'password': 'secret-pw', 'passwordNew': 'brand-new-pw', 'passwordVerify': 'brand-new-pw'}
    for changes, errors in [
        ({'passwordVerify': None}, {'passwordVerify': ['This field is required.']}),
        ({'passwordVerify': 'brand-new-pX'}, {'passwordVerify': ['The passwords you entered did not match.']}),
        ({'password': None}, {'password': ['This field is required.']}),
        ({'password': 'wrong-pw'}, {'password': ['The password you entered is not correct.']}),
        ({'passwordNew': 'short', 'passwordVerify': 'short'},
         {'passwordNew': ['This password is too short. It must contain at least 8 characters.']}),
    ]:
        body = {k: v for k, v in {**good, **changes, 'name': 'Half Change'}.items() if v is not None}
        response = client.simulate_put('/api/0/users/me/', json=body, headers=owner)
        assert (response.status_code, response.json) == (400, errors)
    # Nothing was half applied.
    assert client.simulate_get('/api/0/users/me/', headers=owner).json['name'] == 'owner@example.com'
    assert login(client, 'owner@example.com', 'secret-pw').status_code == 200

    response = client.simulate_put('/api/0/users/me/', json={**good, 'name': 'Renamed'}, headers=owner)
    assert response.status_code == 200
    assert response.json['name'] == 'Renamed'
    assert login(client, 'owner@example.com', 'brand-new-pw').status_code == 200
    assert login(client, 'owner@example.com', 'secret-pw').status_code == 401


def test_personal_tokens_lifecycle(client, services, install):
    owner = bearer(install.auth_token)
    listed = client.simulate_get('/api/0/api-tokens/', headers=owner)
    assert listed.status_code == 200
    assert [t['token'] for t in listed.json] == [install.auth_token]
    assert listed.headers.get('Link') is None
    assert listed.headers['Allow'] == 'GET, POST, DELETE, HEAD, OPTIONS'
    for body, errors in [
        ({}, {'scopes': ['This field is required.']}),
        ({'scopes': []}, {'scopes': ['This field is required.']}),
        ({'scopes': 'project:read'}, {'scopes': ['Expected a list of items but got type "str".']}),
        ({'scopes': ['project:read', 'project:fly']},
         {'scopes': ['Select a valid choice. project:fly is not one of the available choices.']}),
    ]:
        response = client.simulate_post('/api/0/api-tokens/', json=body, headers=owner)
        assert (response.status_code, response.json) == (400, errors)

    created = client.simulate_post('/api/0/api-tokens/', json={'scopes': ['event:read', 'project:read']},
                                   headers=owner)
    assert created.status_code == 201
    token = created.json
    assert set(token) == {'id', 'scopes', 'application', 'expiresAt', 'dateCreated', 'token'}
    assert token['scopes'] == ['project:read', 'event:read']
    assert len(token['token']) == 64 and token['application'] is None and token['expiresAt'] is None
    narrow = bearer(token['token'])
    assert client.simulate_get('/api/0/', headers=narrow).json['user']['id'] == install.user_id
    listed = client.simulate_get('/api/0/api-tokens/', headers=owner).json
    assert [t['id'] for t in listed] == [listed[0]['id'], token['id']]

    # A narrow token neither mints, reads back nor revokes a wider one.
    assert client.simulate_post('/api/0/api-tokens/', json={'scopes': ['org:admin']},
                                headers=narrow).status_code == 403
    assert [t['id'] for t in client.simulate_get('/api/0/api-tokens/', headers=narrow).json] == [token['id']]
    response = client.simulate_delete('/api/0/api-tokens/', json={'token': install.auth_token}, headers=narrow)
    assert (response.status_code, response.json) == (403, DENIED)
    # API keys act as no user: no tokens for them.
    key = basic(install.api_key)
    assert client.simulate_get('/api/0/api-tokens/', headers=key).status_code == 403
    assert client.simulate_post('/api/0/api-tokens/', json={'scopes': ['org:read']}, headers=key).status_code == 403
    assert client.simulate_delete('/api/0/api-tokens/', json={'token': token['token']},
                                  headers=key).status_code == 403
    assert client.simulate_get('/api/0/api-tokens/').status_code == 401

    # Someone else cannot delete the owner's token (Sentry answers 204 and deletes nothing).
    _, other_token = register(services, 'other@example.com')
    assert [t['token'] for t in client.simulate_get('/api/0/api-tokens/', headers=bearer(other_token)).json] \
        == [other_token]
    response = client.simulate_delete('/api/0/api-tokens/', json={'token': token['token']},
                                      headers=bearer(other_token))
    assert response.status_code == 204
    assert client.simulate_get('/api/0/', headers=narrow).json['user'] is not None

    response = client.simulate_delete('/api/0/api-tokens/', json={}, headers=owner)
    assert (response.status_code, response.json) == (400, {'token': ''})
    # Revoked tokens stop working at once.
    assert client.simulate_delete('/api/0/api-tokens/', json={'token': token['token']},
                                  headers=owner).status_code == 204
    response = client.simulate_get('/api/0/', headers=narrow)
    assert (response.status_code, response.json) == (401, {'detail': 'Invalid token'})
    assert [t['token'] for t in client.simulate_get('/api/0/api-tokens/', headers=owner).json] \
        == [install.auth_token]


def test_session_manages_tokens_with_csrf(client, install):
    session = login(client, 'owner@example.com', 'secret-pw')
    cookies = session.cookies
    headers = {'Cookie': f'sentrailsession={cookies["sentrailsession"].value}'}
    assert len(client.simulate_get('/api/0/api-tokens/', headers=headers).json) == 1
    response = client.simulate_post('/api/0/api-tokens/', json={'scopes': ['org:read']}, headers=headers)
    assert response.status_code == 403
    headers['X-CSRFToken'] = cookies['sentrailcsrf'].value
    response = client.simulate_post('/api/0/api-tokens/', json={'scopes': list(SCOPES)}, headers=headers)
    assert response.status_code == 201
    assert response.json['scopes'] == list(SCOPES)


def test_other_installation_sees_none_of_acme(client, services, install):
    other = ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')
    tokens = client.simulate_get('/api/0/api-tokens/', headers=bearer(other.auth_token)).json
    assert [t['token'] for t in tokens] == [other.auth_token]
    response = client.simulate_get(f'/api/0/users/{install.user_id}/', headers=bearer(other.auth_token))
    assert (response.status_code, response.json) == (403, DENIED)
    assert client.simulate_get('/api/0/users/me/', headers=basic(other.api_key)).status_code == 403
