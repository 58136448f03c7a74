"""The bulk edit and bulk delete: how issues are selected, every field and its
echo, validation that changes nothing, one atomic change per request (also
under concurrent conflicting edits), and who may edit."""
from __future__ import annotations

import threading
import time
from uuid import UUID

from sqlalchemy import select

from sentrail.commands.issues import UpdateIssues
from sentrail.commands.releases import CreateRelease
from sentrail.domain.actor import SYSTEM
from sentrail.domain.group import group_user_id
from sentrail.projections import accounts
from sentrail.projections.issues import activity, groups
from sentrail.services import Services
from tests.conftest import basic, bearer
from tests.test_issue_read import error, ingest, project_row
from tests.test_issue_search import LIST, member, put, search
from tests.test_releases import add_team_project
from tests.test_teams import key_with, org_id, other_credentials

NOW = time.time()


def some_issues(services, count: int, project: str = 'web', name: str = 'Bulk', **raw) -> None:
    for n in range(count):
        ingest(services, error(f'{name}{n}', timestamp=NOW - 1000 + n, **raw), project=project)


def detail(client, headers, number: str) -> dict:
    response = client.simulate_get(f'/api/0/issues/{number}/', headers=headers)
    assert response.status_code == 200, response.text
    return response.json


def statuses(client, headers) -> dict[str, str]:
    return {i['id']: i['status'] for i in client.simulate_get(LIST, params={'query': ''}, headers=headers).json}


def test_selection_by_ids_filters_and_query(client, services, install, monkeypatch):
    key = basic(install.api_key)
    some_issues(services, 4)
    ingest(services, error('Warn', level='warning', timestamp=NOW - 10))
    everything = search(client, key, '')
    # The seed's own example, verbatim: every unresolved issue of project 1 resolved.
    seed = client.simulate_put(f'/api/0/projects/{install.project_id}/groups/', params={'status': 'unresolved'},
                               json={'status': 'resolved'}, headers=key)
    assert (seed.status_code, seed.json) == (200, {'status': 'resolved', 'statusDetails': {}})
    assert set(statuses(client, key).values()) == {'resolved'}

    # Repeated ?id= picks those issues (of this project only); none found is 204.
    response = put(client, key, {'status': 'unresolved'}, id=everything[:2])
    assert response.status_code == 200
    assert [s for _, s in sorted(statuses(client, key).items())].count('unresolved') == 2
    add_team_project(services, 'backend', 'api')
    ingest(services, error('Elsewhere'), project='api')
    elsewhere = search(client, key, '', path='/api/0/projects/acme/api/issues/')
    assert put(client, key, {'status': 'resolved'}, id=elsewhere).status_code == 204
    assert put(client, key, {'status': 'resolved'}, id=['999', 'abc']).status_code == 204
    assert search(client, key, 'is:unresolved', path='/api/0/projects/acme/api/issues/') == elsewhere

    # A query (or the old filters) selects; no selection at all means the unresolved ones.
    assert put(client, key, {'status': 'ignored'}, query='level:warning').status_code == 200
    assert search(client, key, 'is:ignored') == [everything[0]]
    assert put(client, key, {'status': 'unresolved'}, status='muted').json['status'] == 'unresolved'
    assert search(client, key, 'is:unresolved') == everything[:2]
    assert put(client, key, {'isPublic': True}).status_code == 200
    assert [i['isPublic'] for i in client.simulate_get(LIST, params={'query': ''}, headers=key).json] == \
        [True, True, False, False, False]
    # A query matching nothing still answers the echo.
    assert put(client, key, {'status': 'resolved'}, query='level:fatal').json == \
        {'status': 'resolved', 'statusDetails': {}}

    # At most MAX_BULK issues per request (Sentry's 1,000), in the list's order.
    assert put(client, key, {'status': 'unresolved'}, query='').status_code == 200
    monkeypatch.setattr('sentrail.http.resources.issues.MAX_BULK', 2)
    assert put(client, key, {'status': 'resolved'}).status_code == 200
    assert search(client, key, 'is:unresolved') == everything[2:]


def test_status_changes_and_what_they_echo(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    some_issues(services, 3)
    a, b, c = search(client, key, '')
    owner_user = client.simulate_get('/api/0/users/me/', headers=owner).json

    ignored = put(client, owner, {'status': 'ignored', 'statusDetails': {'ignoreDuration': 30}}, id=a).json
    until = ignored['statusDetails'].pop('ignoreUntil')
    assert ignored == {'status': 'ignored', 'statusDetails': {
        'ignoreCount': None, 'ignoreUserCount': None, 'ignoreUserWindow': None, 'ignoreWindow': None,
        'actor': {k: owner_user[k] for k in ignored['statusDetails']['actor']}}}
    assert ignored['statusDetails']['actor']['id'] == owner_user['id'] and until.endswith('Z')
    shown = detail(client, key, a)
    assert shown['status'] == 'ignored' and shown['statusDetails']['ignoreUntil'] == until
    assert shown['statusDetails']['actor']['email'] == 'owner@example.com'

    # Top-level ignore fields, `muted`, and sentry-cli's null snoozeDuration; a key is no actor.
    counted = put(client, key, {'status': 'muted', 'ignoreCount': 100, 'ignoreWindow': 60,
                                'snoozeDuration': None}, id=b).json
    assert counted == {'status': 'ignored', 'statusDetails': {
        'ignoreCount': 100, 'ignoreUntil': None, 'ignoreUserCount': None, 'ignoreUserWindow': None,
        'ignoreWindow': 60, 'actor': None}}
    users = put(client, key, {'status': 'ignored', 'statusDetails': {'ignoreUserCount': 5}}, id=c).json
    assert users['statusDetails']['ignoreUserCount'] == 5
    assert put(client, key, {'status': 'ignored', 'snoozeDuration': None}, id=c).json == \
        {'status': 'ignored', 'statusDetails': {}}
    assert detail(client, key, c)['statusDetails'] == {}
    assert put(client, key, {'status': 'unresolved'}, id=[a, b, c]).json == \
        {'status': 'unresolved', 'statusDetails': {}}
    assert set(statuses(client, key).values()) == {'unresolved'}

    # Resolving in a release needs one.
    no_release = "No release data present in the system to form a basis for 'Next Release'"
    for body, answer in (
            ({'status': 'resolvedInNextRelease'}, {'detail': no_release}),
            ({'status': 'resolved', 'statusDetails': {'inNextRelease': True}},
             {'statusDetails': [{'inNextRelease': [no_release]}]}),
            ({'status': 'resolved', 'statusDetails': {'inRelease': 'latest'}},
             {'statusDetails': [{'inRelease': [no_release]}]}),
            ({'status': 'resolved', 'statusDetails': {'inRelease': '9.9'}},
             {'statusDetails': [{'inRelease': ['Unable to find a release with the given version.']}]})):
        response = put(client, key, body, id=a)
        assert (response.status_code, response.json) == (400, answer), body
    services.execute(CreateRelease(organization_id=UUID(org_id(services)), version='1.0',
                                   project_ids=(web_project_id(services),), actor=SYSTEM))
    assert put(client, owner, {'status': 'resolvedInNextRelease'}, id=a).json['statusDetails']['inNextRelease'] is True
    in_release = put(client, key, {'statusDetails': {'inRelease': 'latest'}}, id=b).json
    assert in_release == {'status': 'resolved', 'statusDetails': {'inRelease': '1.0', 'actor': None}}
    assert detail(client, key, b)['statusDetails'] == {'inRelease': '1.0', 'actor': None}
    assert detail(client, key, a)['statusDetails']['inNextRelease'] is True


def web_project_id(services) -> UUID:
    return UUID(project_row(services).id)


def test_every_other_field_and_validation(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    some_issues(services, 2)
    a, b = search(client, key, '')
    dev, dev_id = member(services, 'dev@example.com')
    outsider, _ = member(services, 'ops@example.com', teams=())

    assigned = put(client, owner, {'assignedTo': 'dev@example.com'}, id=[a, b]).json
    assert assigned['assignedTo']['email'] == 'dev@example.com'
    assert {i['assignedTo']['id'] for i in client.simulate_get(LIST, headers=key).json} == {dev_id}
    for reference in (dev_id, 'DEV@example.com', int(dev_id)):
        assert put(client, key, {'assignedTo': reference}, id=a).json['assignedTo']['id'] == dev_id
    for reference, message in (('ops@example.com', 'Cannot assign to non-team member'),
                               ('nobody@example.com', 'Unable to find user'), (['x'], 'Unable to find user')):
        response = put(client, key, {'assignedTo': reference, 'status': 'resolved'}, id=a)
        assert (response.status_code, response.json) == (400, {'assignedTo': [message]})
    assert detail(client, key, a)['status'] == 'unresolved'  # nothing of a refused edit happened
    assert put(client, key, {'assignedTo': None}, id=a).json == {'assignedTo': None}
    assert put(client, key, {'assignedTo': ''}, id=b).json == {'assignedTo': None}
    assert detail(client, key, a)['assignedTo'] is None

    # The caller's own marks; a key has no user, so they are echoed and kept by nobody.
    marks = put(client, dev, {'isBookmarked': True, 'hasSeen': True, 'isSubscribed': False}, id=a).json
    assert marks == {'isBookmarked': True, 'hasSeen': True, 'isSubscribed': False,
                     'subscriptionDetails': {'reason': 'unknown'}}
    mine = detail(client, dev, a)
    assert (mine['isBookmarked'], mine['hasSeen'], mine['isSubscribed'], mine['subscriptionDetails']) == \
        (True, True, False, None)
    theirs = detail(client, owner, a)
    assert (theirs['isBookmarked'], theirs['hasSeen']) == (False, False)
    assert [u['id'] for u in mine['seenBy']] == [dev_id] and mine['seenBy'][0]['lastSeen'].endswith('Z')
    assert put(client, outsider, {'hasSeen': True}, id=a).status_code == 403  # not even a reader of web
    assert put(client, dev, {'isSubscribed': True, 'hasSeen': False}, id=a).json['subscriptionDetails'] == \
        {'reason': 'unknown'}
    mine = detail(client, dev, a)
    assert (mine['isSubscribed'], mine['hasSeen'], mine['seenBy']) == (True, False, [])
    assert put(client, key, {'isBookmarked': True}, id=b).json == {'isBookmarked': True}
    assert detail(client, dev, b)['isBookmarked'] is False
    # Marks that change nothing are not kept: no per-user state for (b, owner) appears.
    assert put(client, owner, {'isBookmarked': False, 'hasSeen': False}, id=[b]).status_code == 200
    with services.read() as conn:
        b_id = conn.execute(select(groups.c.id).where(groups.c.number == int(b))).scalar()
        owner_id = accounts.user_by_number(conn, int(install.user_id)).id
    assert services.app.find(group_user_id(UUID(b_id), UUID(owner_id))) is None

    shared = put(client, key, {'isPublic': True}, id=a).json
    assert shared['isPublic'] is True and len(shared['shareId']) == 32
    again = put(client, key, {'isPublic': True}, id=a).json
    assert again['shareId'] != shared['shareId'] and detail(client, key, a)['shareId'] == again['shareId']
    assert put(client, key, {'isPublic': False}, id=a).json == {'isPublic': False, 'shareId': None}
    assert detail(client, key, a)['isPublic'] is False

    before = client.simulate_get(LIST, params={'query': ''}, headers=key).json
    for body, errors in (
            ({'status': 'sleeping'}, {'status': ['Select a valid choice. sleeping is not one of the available '
                                                 'choices.']}),
            ({'isBookmarked': 'maybe', 'status': 'resolved'}, {'isBookmarked': ["'maybe' value must be either True "
                                                                                "or False."]}),
            ({'status': 'ignored', 'ignoreCount': 'ten'}, {'ignoreCount': ['Enter a whole number.']}),
            ({'status': 'ignored', 'statusDetails': {'ignoreWindow': 99999}},
             {'statusDetails': [{'ignoreWindow': ['Ensure this value is less than or equal to 10080.']}]}),
            ({'status': 'ignored', 'statusDetails': {'ignoreCount': -1}},
             {'statusDetails': [{'ignoreCount': ['Ensure this value is greater than or equal to 0.']}]}),
            ({'status': 'ignored', 'ignoreDuration': 2 ** 31},
             {'ignoreDuration': ['Ensure this value is less than or equal to 2147483647.']}),
            ({'status': 'ignored', 'snoozeDuration': 2 ** 40},
             {'snoozeDuration': ['Ensure this value is less than or equal to 2147483647.']}),
            ({'status': 'ignored', 'statusDetails': {'ignoreUserCount': 2 ** 31}},
             {'statusDetails': [{'ignoreUserCount': ['Ensure this value is less than or equal to 2147483647.']}]}),
            ({'status': 'resolved', 'statusDetails': 'soon'}, {'statusDetails': ['Invalid data']}),
            ({'merge': 'yes'}, {'merge': ["'yes' value must be either True or False."]}),
            ({'discard': True}, {'detail': ['You do not have that feature enabled']})):
        response = put(client, key, body, id=[a, b])
        assert (response.status_code, response.json) == (400, errors), body
    bad_json = client.simulate_put(LIST, params={'id': a}, body='{"status": ', headers={
        **key, 'Content-Type': 'application/json'})
    assert bad_json.status_code == 400 and bad_json.json['detail'].startswith('JSON parse error')
    assert client.simulate_get(LIST, params={'query': ''}, headers=key).json == before


def test_one_request_is_one_atomic_change(client, services, install):
    key = basic(install.api_key)
    add_team_project(services, 'backend', 'api')
    some_issues(services, 2)
    some_issues(services, 2, project='api')
    services.execute(CreateRelease(organization_id=UUID(org_id(services)), version='1.0',
                                   project_ids=(web_project_id(services),), actor=SYSTEM))
    org = '/api/0/organizations/acme/issues/'
    everything = search(client, key, '', path=org)
    # The api project has no release: the whole edit is refused, web's issues included.
    refused = put(client, key, {'status': 'resolvedInNextRelease'}, path=org, id=everything)
    assert refused.status_code == 400
    assert search(client, key, 'is:unresolved', path=org) == everything
    merge_across = put(client, key, {'merge': True}, path=org, id=everything)
    assert (merge_across.status_code, merge_across.json) == \
        (400, {'detail': 'Merging across multiple projects is not supported'})
    assert put(client, key, {'status': 'resolved'}, path=org, id=everything).status_code == 200
    assert search(client, key, 'is:resolved', path=org) == everything

    # The whole edit is one save: one log position for every issue's change.
    with services.read() as conn:
        rows = conn.execute(select(activity.c.id).where(activity.c.type == 'set_resolved')).scalars().all()
    assert len(rows) == 4 and max(rows) - min(rows) == 3


def test_concurrent_conflicting_edits_lose_nothing(config, install):
    """Two processes' worth of services edit the same issues at once; the loser of
    each race is retried by the bus, so both edits land on every issue."""
    first, second = Services(config), Services(config)
    try:
        some_issues(first, 12)
        with first.read() as conn:
            group_ids = tuple(UUID(i) for i in conn.execute(select(groups.c.id)).scalars())
        failures: list[BaseException] = []

        def edit(services: Services, **fields) -> None:
            try:
                for _ in range(4):
                    services.execute(UpdateIssues(group_ids=group_ids, actor=SYSTEM, **fields))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=edit, args=(first,), kwargs={'status': 'resolved'}),
                   threading.Thread(target=edit, args=(second,), kwargs={'is_public': True})]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not failures, failures
        first.runner.catch_up()
        with first.read() as conn:
            rows = conn.execute(select(groups.c.status, groups.c.is_public)).all()
        assert set(rows) == {('resolved', True)} and len(rows) == 12
    finally:
        first.close()
        second.close()


def test_bulk_delete_and_who_may_edit(client, services, install):
    key = basic(install.api_key)
    some_issues(services, 3)
    a, b, c = search(client, key, '')
    no_ids = client.simulate_delete(LIST, headers=key)
    assert (no_ids.status_code, no_ids.json) == (400, {'detail': 'You must specify a list of IDs for this operation'})
    assert client.simulate_delete(LIST, params={'id': ['999']}, headers=key).status_code == 204
    deleted = client.simulate_delete(f'/api/0/projects/{install.project_id}/groups/', params={'id': [a, b]},
                                     headers=key)
    assert deleted.status_code == 204 and deleted.text == ''
    assert search(client, key, '') == [c]
    assert client.simulate_get(f'/api/0/issues/{a}/', headers=key).status_code == 404
    assert client.simulate_put(f'/api/0/issues/{a}/', json={'status': 'resolved'}, headers=key).status_code == 404
    # The deleted issue's hash starts a new issue.
    ingest(services, error('Bulk2', timestamp=NOW))
    newer = search(client, key, '')
    assert len(newer) == 2 and a not in newer and b not in newer and int(newer[0]) > int(c)

    reader = key_with(services, 'event:read')
    writer = key_with(services, 'event:write')
    assert put(client, reader, {'status': 'resolved'}).status_code == 403
    assert put(client, writer, {'status': 'resolved'}).status_code == 200
    assert client.simulate_delete(LIST, params={'id': [c]}, headers=writer).status_code == 403
    for headers in other_credentials(services):
        for response in (put(client, headers, {'status': 'unresolved'}, id=[c]),
                         client.simulate_delete(LIST, params={'id': [c]}, headers=headers),
                         put(client, headers, {'status': 'unresolved'}, path=f'/api/0/issues/{c}/')):
            assert response.status_code in (403, 404) and 'Bulk' not in response.text
    assert detail(client, key, c)['status'] == 'resolved'
