"""Organization members: invite, list, read, change, remove, and join or leave teams."""
from __future__ import annotations

import threading
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from sentrail.commands.accounts import IssueToken, RegisterUser
from sentrail.commands.members import InviteMember, RemoveMember
from sentrail.commands.organizations import CreateApiKey, CreateTeam
from sentrail.domain.actor import SYSTEM
from sentrail.domain.errors import Forbidden
from sentrail.domain.member import OwnerRoster, member_id, owner_roster_id
from sentrail.domain.roles import SCOPES
from sentrail.projections import organizations
from sentrail.seed import ensure_installation
from sentrail.services import Services
from tests.conftest import basic, bearer

MEMBERS = '/api/0/organizations/acme/members/'


def org_id(services, slug: str = 'acme') -> UUID:
    with services.read() as conn:
        return UUID(organizations.org_by_slug(conn, slug).id)


def key_with(services, scopes: list[str]) -> dict:
    key = services.execute(CreateApiKey(organization_id=org_id(services), scopes=scopes, actor=SYSTEM)).data['key']
    return basic(key)


def person(client, services, install, email: str, role: str, teams: tuple = ()) -> tuple[dict, dict]:
    """A registered (not super) user invited with `role`: their member JSON and their token header."""
    user_id = services.execute(RegisterUser(email=email, password='pw-123456', actor=SYSTEM)).data['user_id']
    response = client.simulate_post(MEMBERS, json={'email': email, 'role': role, 'teams': list(teams)},
                                    headers=bearer(install.auth_token))
    assert response.status_code == 201, response.json
    token = services.execute(IssueToken(user_id=user_id, scopes=list(SCOPES), actor=SYSTEM)).data['token']
    return response.json, bearer(token)


@pytest.fixture
def other(services):
    """A second organization whose owner is an ordinary user (a superuser could see acme)."""
    services.execute(RegisterUser(email='other@example.com', password='pw-123456', actor=SYSTEM))
    return ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')


def emails(response) -> list[str]:
    return [m['email'] for m in response.json]


def test_invite_list_and_read_members(client, services, install):
    owner = bearer(install.auth_token)
    # Invite someone who has no account yet: a pending invitation, already on team web.
    response = client.simulate_post(MEMBERS, json={'email': 'Zed@Example.com', 'role': 'member', 'teams': ['web']},
                                    headers=owner)
    assert response.status_code == 201
    zed = response.json
    assert zed['id'].isdigit() and zed['dateCreated'].endswith('Z')
    assert {k: zed[k] for k in ('email', 'name', 'user', 'role', 'roleName', 'pending', 'flags', 'teams')} == {
        'email': 'zed@example.com', 'name': 'zed@example.com', 'user': None, 'role': 'member',
        'roleName': 'Member', 'pending': True, 'flags': {'sso:linked': False, 'sso:invalid': False},
        'teams': ['web'],
    }
    # Invite someone who has an account: linked at once, not pending.
    amy, amy_token = person(client, services, install, 'amy@example.com', 'admin')
    assert amy['pending'] is False and amy['user']['email'] == 'amy@example.com' and amy['roleName'] == 'Admin'

    # The list holds members and invitations, by email, with a Link header.
    response = client.simulate_get(MEMBERS, headers=basic(install.api_key))
    assert response.status_code == 200
    assert emails(response) == ['amy@example.com', 'owner@example.com', 'zed@example.com']
    assert 'rel="next"; results="false"' in response.headers['Link']
    response = client.simulate_get(MEMBERS, params={'query': 'email:ZED@example.com'}, headers=owner)
    assert emails(response) == ['zed@example.com']

    # The detail lists every role and whether the caller may hand it out.
    response = client.simulate_get(MEMBERS + zed['id'] + '/', headers=owner)
    assert response.status_code == 200
    assert response.json['email'] == 'zed@example.com'
    roles = response.json['allowed_roles']
    assert [r['role']['id'] for r in roles] == ['member', 'admin', 'manager', 'owner']
    assert all(r['allowed'] for r in roles)
    assert set(roles[0]['role']) == {'id', 'name', 'desc', 'scopes', 'is_global'}
    # `me` is the calling user; an admin has no member:write, so may grant nothing.
    response = client.simulate_get(MEMBERS + 'me/', headers=amy_token)
    assert response.json['id'] == amy['id']
    assert not any(r['allowed'] for r in response.json['allowed_roles'])
    # A key is nobody's `me`; unknown or malformed ids do not exist.
    for path in ('me/', '99999/', 'abc/', '9' * 30 + '/'):
        assert client.simulate_get(MEMBERS + path, headers=basic(install.api_key)).status_code == 404


def test_member_list_pages_through_emails_in_order(client, services, install):
    key = basic(install.api_key)
    # Several share their first 7 bytes, so they tie on the keyset key.
    invited = ['aaaaaaa3@example.com', 'aaaaaaa1@example.com', 'b@example.com', 'aaaaaaa10@example.com',
               'aaaaaaa2@example.com', 'c@x.io']
    for email in invited:
        response = client.simulate_post(MEMBERS, json={'email': email, 'role': 'member'}, headers=key)
        assert response.status_code == 201
    seen, cursor, pages = [], '', 0
    while True:
        response = client.simulate_get(MEMBERS, params={'per_page': '2', 'cursor': cursor}, headers=key)
        assert response.status_code == 200
        seen += emails(response)
        pages += 1
        links = response.headers['Link']
        if pages == 1:
            assert 'rel="previous"; results="false"' in links
        if 'rel="next"; results="true"' not in links:
            break
        cursor = links.split('rel="next"')[0].rsplit('cursor=', 1)[1].split('>')[0]
    assert seen == sorted(invited + ['owner@example.com'])
    assert pages == 4
    assert client.simulate_get(MEMBERS, params={'cursor': 'bogus'}, headers=key).status_code == 400


def test_invite_is_validated_and_bounded_by_the_inviters_role(client, services, install):
    owner = bearer(install.auth_token)

    def invite(body: dict, headers: dict = owner):  # noqa: ANN202
        return client.simulate_post(MEMBERS, json=body, headers=headers)

    assert invite({'role': 'member'}).json == {'email': ['This field is required.']}
    assert invite({'email': 'nope', 'role': 'member'}).json == {'email': ['Enter a valid email address.']}
    assert invite({'email': 'x' * 70 + '@example.com', 'role': 'member'}).status_code == 400
    assert invite({'email': 'new@example.com'}).json == {'role': ['This field is required.']}
    response = invite({'email': 'new@example.com', 'role': 'king'})
    assert response.status_code == 400 and list(response.json) == ['role']
    response = invite({'email': 'new@example.com', 'role': 'member', 'teams': ['web', 'nope']})
    assert (response.status_code, response.json) == (400, {'teams': 'Invalid team'})
    response = invite({'email': 'OWNER@example.com', 'role': 'member'})
    assert (response.status_code, response.json) == (
        409, {'email': 'The user OWNER@example.com is already a member'})
    # Nobody grants more than they hold; a key may go up to manager.
    refused = {'role': 'You do not have permission to invite that role.'}
    response = invite({'email': 'k1@example.com', 'role': 'owner'}, basic(install.api_key))
    assert (response.status_code, response.json) == (403, refused)
    assert invite({'email': 'k1@example.com', 'role': 'manager'}, basic(install.api_key)).status_code == 201
    _, manager = person(client, services, install, 'mia@example.com', 'manager')
    response = invite({'email': 'm1@example.com', 'role': 'owner'}, manager)
    assert (response.status_code, response.json) == (403, refused)
    assert invite({'email': 'm1@example.com', 'role': 'manager'}, manager).status_code == 201
    # The refused invitations left nothing behind.
    listed = emails(client.simulate_get(MEMBERS, headers=owner))
    assert listed == ['k1@example.com', 'm1@example.com', 'mia@example.com', 'owner@example.com']


def test_members_need_scopes_and_stay_in_their_organization(client, services, install, other):
    reader = key_with(services, ['member:read'])
    assert client.simulate_get(MEMBERS, headers=reader).status_code == 200
    assert client.simulate_get(MEMBERS + 'me/', headers=reader).status_code == 404
    response = client.simulate_post(MEMBERS, json={'email': 'r@example.com', 'role': 'member'}, headers=reader)
    assert response.status_code == 403
    assert client.simulate_get(MEMBERS, headers=key_with(services, ['project:read'])).status_code == 403
    # A member (role member) may read members, not invite.
    _, member = person(client, services, install, 'amy@example.com', 'member')
    assert client.simulate_get(MEMBERS, headers=member).status_code == 200
    response = client.simulate_post(MEMBERS, json={'email': 'r@example.com', 'role': 'member'}, headers=member)
    assert response.status_code == 403
    # Another organization's key and owner see nothing of acme.
    with services.read() as conn:
        acme_owner = organizations.member_by_email(conn, str(org_id(services)), 'owner@example.com')
    for headers in (basic(other.api_key), bearer(other.auth_token)):
        for method, path in (('GET', MEMBERS), ('GET', f'{MEMBERS}{acme_owner.number}/'),
                             ('POST', MEMBERS), ('DELETE', f'{MEMBERS}{acme_owner.number}/')):
            response = client.simulate_request(method, path, headers=headers,
                                               json={'email': 'x@example.com', 'role': 'member'})
            assert response.status_code in (403, 404)
            assert 'owner@example.com' not in response.text
    # acme's member number means nothing under the other organization.
    response = client.simulate_get(f'/api/0/organizations/other/members/{acme_owner.number}/',
                                   headers=bearer(other.auth_token))
    assert response.status_code == 404


def test_change_role_teams_and_reinvite(client, services, install):
    owner = bearer(install.auth_token)
    zed = client.simulate_post(MEMBERS, json={'email': 'zed@example.com', 'role': 'member'}, headers=owner).json
    zed_url = MEMBERS + zed['id'] + '/'
    amy, _ = person(client, services, install, 'amy@example.com', 'member')
    # Role and teams change together; teams are replaced, and the member answers.
    response = client.simulate_put(zed_url, json={'role': 'admin', 'teams': ['web', 'web']}, headers=owner)
    assert response.status_code == 200
    assert (response.json['role'], response.json['teams']) == ('admin', ['web'])
    assert 'allowed_roles' in response.json
    assert client.simulate_put(zed_url, json={'teams': []}, headers=owner).json['teams'] == []
    assert client.simulate_get(zed_url, headers=owner).json['role'] == 'admin'
    # Reinvite: a pending invitation only; alone it answers 204 like Sentry, as does an empty body.
    assert client.simulate_put(zed_url, json={'reinvite': True}, headers=owner).status_code == 204
    assert client.simulate_put(zed_url, json={}, headers=owner).status_code == 204
    response = client.simulate_put(MEMBERS + amy['id'] + '/', json={'reinvite': True}, headers=owner)
    assert response.json == {'detail': 'You cannot send an invitation to a user who is already a full member.'}
    # Bad input.
    assert list(client.simulate_put(zed_url, json={'role': 'king'}, headers=owner).json) == ['role']
    assert client.simulate_put(zed_url, json={'teams': ['nope']}, headers=owner).json == {'teams': 'Invalid team'}
    # A manager cannot raise anyone above themself, nor touch an owner.
    _, manager = person(client, services, install, 'mia@example.com', 'manager')
    response = client.simulate_put(zed_url, json={'role': 'owner'}, headers=manager)
    assert (response.status_code, response.json) == (
        403, {'role': 'You do not have permission to assign that role.'})
    assert client.simulate_put(zed_url, json={'role': 'manager'}, headers=manager).status_code == 200
    response = client.simulate_put(MEMBERS + 'me/', json={'role': 'owner'}, headers=manager)
    assert response.status_code == 403
    owner_row = client.simulate_get(MEMBERS, params={'query': 'email:owner@example.com'}, headers=owner).json[0]
    response = client.simulate_put(MEMBERS + owner_row['id'] + '/', json={'role': 'member'}, headers=manager)
    assert response.json == {'detail': 'You cannot change a member who has more access than you.'}
    # Keys stop below owner; member:write without member:admin cannot change roles.
    assert client.simulate_put(zed_url, json={'role': 'owner'}, headers=basic(install.api_key)).status_code == 403
    response = client.simulate_put(zed_url, json={'role': 'member'}, headers=key_with(services, ['member:write']))
    assert response.json == {'detail': 'You are missing the member:admin scope.'}
    # The only owner cannot step down; once there is a second, they can.
    response = client.simulate_put(MEMBERS + 'me/', json={'role': 'manager'}, headers=owner)
    assert (response.status_code, response.json) == (
        403, {'detail': 'You cannot demote the only remaining owner of the organization.'})
    assert client.simulate_put(zed_url, json={'role': 'owner'}, headers=owner).json['role'] == 'owner'
    assert client.simulate_put(MEMBERS + 'me/', json={'role': 'manager'}, headers=owner).json['role'] == 'manager'


def test_remove_members_by_the_rules(client, services, install):
    owner = bearer(install.auth_token)
    zed = client.simulate_post(MEMBERS, json={'email': 'zed@example.com', 'role': 'member', 'teams': ['web']},
                               headers=owner).json
    _, manager = person(client, services, install, 'mia@example.com', 'manager')
    _, member = person(client, services, install, 'amy@example.com', 'member')
    owner_id = client.simulate_get(MEMBERS + 'me/', headers=owner).json['id']
    # The only owner stays; nobody removes someone above them; removing others takes member:admin.
    response = client.simulate_delete(MEMBERS + 'me/', headers=owner)
    assert (response.status_code, response.json) == (
        403, {'detail': 'You cannot remove the only remaining owner of the organization.'})
    response = client.simulate_delete(MEMBERS + owner_id + '/', headers=manager)
    assert (response.status_code, response.json) == (
        400, {'detail': 'You cannot remove a member who has more access than you.'})
    response = client.simulate_delete(MEMBERS + zed['id'] + '/', headers=member)
    assert (response.status_code, response.json) == (400, {'detail': 'You are missing the member:admin scope.'})
    assert client.simulate_delete(MEMBERS + zed['id'] + '/', headers=key_with(services, ['member:read'])
                                  ).status_code == 400
    assert client.simulate_delete(MEMBERS + owner_id + '/', headers=basic(install.api_key)).status_code == 400
    # Anyone may leave; they lose access at once.
    assert client.simulate_delete(MEMBERS + 'me/', headers=member).status_code == 204
    assert client.simulate_get(MEMBERS, headers=member).status_code == 403
    # A manager removes a member; it is gone from the list and its team.
    assert client.simulate_delete(MEMBERS + zed['id'] + '/', headers=manager).status_code == 204
    assert client.simulate_get(MEMBERS + zed['id'] + '/', headers=owner).status_code == 404
    assert emails(client.simulate_get(MEMBERS, headers=owner)) == ['mia@example.com', 'owner@example.com']
    # Invited again, the same address comes back with a new id and only the new teams.
    again = client.simulate_post(MEMBERS, json={'email': 'zed@example.com', 'role': 'admin'}, headers=owner)
    assert again.status_code == 201
    assert again.json['id'] != zed['id'] and (again.json['role'], again.json['teams']) == ('admin', [])


def test_the_last_owner_survives_concurrent_removals(client, services, install):
    """Two owners removed at the same time: both decisions write the OwnerRoster, so
    the second to commit conflicts, is retried against the new roster, and refused."""
    org = org_id(services)
    response = client.simulate_post(MEMBERS, json={'email': 'bob@example.com', 'role': 'owner'},
                                    headers=bearer(install.auth_token))
    assert response.status_code == 201
    with services.read() as conn:
        owners = [UUID(m) for m in organizations.owner_member_ids(conn, str(org))]
    assert len(owners) == 2

    # Deterministically: two stale copies of the roster each let one owner go.
    app = services.app
    first, second = app.repository.get(owner_roster_id(org)), app.repository.get(owner_roster_id(org))
    alice, bob = app.repository.get(owners[0]), app.repository.get(owners[1])
    first.dismiss(alice.id)
    alice.delete(SYSTEM.meta())
    app.save(alice, first)
    second.dismiss(bob.id)
    bob.delete(SYSTEM.meta())
    with pytest.raises(IntegrityError):
        app.save(bob, second)
    assert not app.repository.get(owners[1]).deleted
    # Through the bus, the retry sees the truth.
    with pytest.raises(Forbidden):
        services.execute(RemoveMember(member_id=owners[1], actor=SYSTEM))

    # Really concurrently, from two processes' worth of services: exactly one wins.
    services.execute(InviteMember(organization_id=org, email='carol@example.com', role='owner', actor=SYSTEM))
    carol = member_id(org, 'carol@example.com')
    second_services = Services(services.config)
    barrier, results = threading.Barrier(2), {}

    def remove(name: str, runner: Services, member_id: UUID) -> None:
        barrier.wait()
        try:
            runner.execute(RemoveMember(member_id=member_id, actor=SYSTEM))
            results[name] = 'removed'
        except Forbidden:
            results[name] = 'refused'

    threads = [threading.Thread(target=remove, args=('bob', services, owners[1])),
               threading.Thread(target=remove, args=('carol', second_services, carol))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        second_services.close()
    assert sorted(results.values()) == ['refused', 'removed']
    roster = services.app.repository.get(owner_roster_id(org))
    assert isinstance(roster, OwnerRoster) and len(roster.owner_ids) == 1
    services.runner.catch_up()
    with services.read() as conn:
        assert len(organizations.owner_member_ids(conn, str(org))) == 1


def test_join_and_leave_teams(client, services, install, other):
    owner = bearer(install.auth_token)
    services.execute(CreateTeam(organization_id=org_id(services), name='API', slug='api', actor=SYSTEM))
    amy, amy_token = person(client, services, install, 'amy@example.com', 'member')
    me_api = MEMBERS + 'me/teams/api/'
    # Join (201 TeamWithProjects), join again (204), leave (200), leave again (200).
    response = client.simulate_post(me_api, headers=amy_token)
    assert response.status_code == 201
    assert (response.json['slug'], response.json['isMember'], response.json['projects']) == ('api', True, [])
    response = client.simulate_post(me_api, headers=amy_token)
    assert (response.status_code, response.text) == (204, '')
    assert client.simulate_get(MEMBERS + 'me/', headers=amy_token).json['teams'] == ['api']
    response = client.simulate_delete(me_api, headers=amy_token)
    assert (response.status_code, response.json['isMember']) == (200, False)
    assert client.simulate_delete(me_api, headers=amy_token).status_code == 200
    assert client.simulate_get(MEMBERS + 'me/', headers=amy_token).json['teams'] == []
    # Only for oneself, unless holding member:admin and at least the member's role.
    owner_id = client.simulate_get(MEMBERS + 'me/', headers=owner).json['id']
    response = client.simulate_post(f'{MEMBERS}{owner_id}/teams/api/', headers=amy_token)
    assert (response.status_code, response.json) == (
        400, {'detail': 'You cannot modify a member other than yourself.'})
    response = client.simulate_post(f'{MEMBERS}{amy["id"]}/teams/web/', headers=owner)
    assert response.status_code == 201
    assert response.json['isMember'] is True and [p['slug'] for p in response.json['projects']] == ['web']
    key = basic(install.api_key)
    assert client.simulate_post(f'{MEMBERS}{amy["id"]}/teams/api/', headers=key).status_code == 201
    assert client.simulate_post(f'{MEMBERS}{owner_id}/teams/api/', headers=key).status_code == 400
    # Unknown team, a key's `me`, a scope-less key, another organization.
    assert client.simulate_post(MEMBERS + 'me/teams/nope/', headers=amy_token).status_code == 404
    assert client.simulate_post(me_api, headers=basic(install.api_key)).status_code == 404
    assert client.simulate_post(me_api, headers=key_with(services, ['project:read'])).status_code == 403
    response = client.simulate_post(f'{MEMBERS}{amy["id"]}/teams/api/', headers=basic(other.api_key))
    assert response.status_code == 403 and 'api' not in response.text
    # In a closed organization a plain member cannot join by themself; an owner can add them.
    response = client.simulate_put('/api/0/organizations/acme/', json={'openMembership': False}, headers=owner)
    assert response.status_code == 200
    client.simulate_delete(MEMBERS + 'me/teams/web/', headers=amy_token)
    response = client.simulate_post(MEMBERS + 'me/teams/web/', headers=amy_token)
    assert (response.status_code, response.json) == (
        403, {'detail': 'You do not have permission to join that team.'})
    assert client.simulate_post(f'{MEMBERS}{amy["id"]}/teams/web/', headers=owner).status_code == 201
