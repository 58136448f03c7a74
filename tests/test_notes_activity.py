"""Notes (comments) on an issue: list, create, edit and delete one's own, with
Sentry's refusals; and the activity entry, type and data of every kind of change."""
from __future__ import annotations

import time
from uuid import UUID

from sentrail.commands.releases import CreateRelease
from sentrail.domain.actor import SYSTEM
from tests.conftest import basic, bearer
from tests.test_issue_detail import issue, one_issue
from tests.test_issue_read import error, ingest, project_row
from tests.test_issue_search import LIST, link, member, put, search
from tests.test_teams import key_with, org_id, other_credentials

NOW = time.time()


def notes_path(number: str, kind: str = 'issues', name: str = 'notes') -> str:
    return f'/api/0/{kind}/{number}/{name}/'


def test_notes_list_create_edit_delete(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    number = one_issue(client, services, key)
    dev, dev_id = member(services, 'dev@example.com')
    path = notes_path(number)

    created = client.simulate_post(path, json={'text': 'looking into it'}, headers=owner)
    assert created.status_code == 201
    note = created.json
    assert (note['type'], note['data'], note['user']['email']) == ('note', {'text': 'looking into it'},
                                                                  'owner@example.com')
    assert note['id'].isdigit() and note['dateCreated'].endswith('Z')
    again = client.simulate_post(path, json={'text': 'looking into it'}, headers=owner)
    assert (again.status_code, again.json) == (400, '{"detail": "You have already posted that comment."}')
    assert client.simulate_post(path, json={'text': 'looking into it'}, headers=dev).status_code == 201
    by_key = client.simulate_post(notes_path(number, 'groups', 'comments'), json={'text': 'from CI'}, headers=key)
    assert by_key.status_code == 201 and by_key.json['user'] is None
    mention = client.simulate_post(path, json={'text': 'cc', 'mentions': [dev_id]}, headers=owner)
    assert mention.status_code == 201
    for body, errors in (({}, {'text': ['This field is required.']}), ({'text': '  '}, {'text': ['This field is '
                                                                                                   'required.']}),
                         ({'text': 'x', 'mentions': ['nobody@example.com']},
                          {'mentions': ['Cannot mention a non-team member']}),
                         ({'text': 'x', 'mentions': [2678891633779]},
                          {'mentions': ['Cannot mention a non-team member']}),
                         ({'text': 'x', 'mentions': ['\u00b2']}, {'mentions': ['Cannot mention a non-team member']})):
        response = client.simulate_post(path, json=body, headers=owner)
        assert (response.status_code, response.json) == (400, errors)

    detail = issue(client, dev, number)
    assert detail['numComments'] == 4
    assert detail['isSubscribed'] is True and detail['subscriptionDetails'] == {'reason': 'commented'}
    assert {u['email'] for u in detail['participants']} == {'owner@example.com', 'dev@example.com'}
    listed = client.simulate_get(path, headers=key)
    assert [n['data']['text'] for n in listed.json] == ['cc', 'from CI', 'looking into it', 'looking into it']
    assert [int(n['id']) for n in listed.json] == sorted((int(n['id']) for n in listed.json), reverse=True)
    first = client.simulate_get(path, params={'per_page': '3'}, headers=key)
    cursor, more = link(first, 'next')
    rest = client.simulate_get(path, params={'per_page': '3', 'cursor': cursor}, headers=key)
    assert more and [n['id'] for n in first.json + rest.json] == [n['id'] for n in listed.json]
    assert client.simulate_get(notes_path(number, 'groups', 'comments'), headers=key).json == listed.json

    # Only the author edits or deletes; a key never may.
    one = f'{path}{note["id"]}/'
    refused = client.simulate_put(one, json={'text': 'x'}, headers=key)
    assert (refused.status_code, refused.json) == (403, {'detail': "Key doesn't have permission to edit Note"})
    refused = client.simulate_delete(one, headers=key)
    assert (refused.status_code, refused.json) == (403, {'detail': "Key doesn't have permission to delete Note"})
    assert client.simulate_put(one, json={'text': 'mine now'}, headers=dev).status_code == 404
    assert client.simulate_delete(one, headers=dev).status_code == 404
    assert client.simulate_put(f'{path}999999/', json={'text': 'x'}, headers=owner).status_code == 404
    assert client.simulate_put(one, json={'text': ''}, headers=owner).json == {'text': ['This field is required.']}
    edited = client.simulate_put(f'/api/0/groups/{number}/comments/{note["id"]}/', json={'text': 'fixed in 2.0'},
                                 headers=owner)
    assert edited.status_code == 200 and edited.json['data'] == {'text': 'fixed in 2.0'}
    assert edited.json['id'] == note['id']
    assert client.simulate_delete(one, headers=owner).status_code == 204
    assert client.simulate_delete(one, headers=owner).status_code == 404
    assert issue(client, key, number)['numComments'] == 3
    assert [n['data']['text'] for n in client.simulate_get(path, headers=key).json] == \
        ['cc', 'from CI', 'looking into it']

    reader = key_with(services, 'event:read')
    assert client.simulate_get(path, headers=reader).status_code == 200
    assert client.simulate_post(path, json={'text': 'x'}, headers=reader).status_code == 403
    for headers in other_credentials(services):
        for response in (client.simulate_get(path, headers=headers),
                         client.simulate_post(path, json={'text': 'x'}, headers=headers)):
            assert response.status_code in (403, 404) and 'looking' not in response.text


def test_every_change_is_an_activity_entry(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    ingest(services, error('Other', timestamp=NOW - 500))
    number = one_issue(client, services, key)
    other = [i for i in search(client, key, '') if i != number][0]
    services.execute(CreateRelease(organization_id=UUID(org_id(services)), version='1.0',
                                   project_ids=(UUID(project_row(services).id),), actor=SYSTEM))
    steps = [
        ({'status': 'resolved'}, owner), ({'status': 'unresolved'}, owner),
        ({'status': 'ignored', 'ignoreCount': 10, 'ignoreWindow': 5}, owner),
        ({'status': 'resolved', 'statusDetails': {'inRelease': '1.0'}}, key),
        ({'status': 'resolvedInNextRelease'}, owner), ({'assignedTo': 'owner@example.com'}, key),
        ({'assignedTo': None}, owner), ({'isPublic': True}, owner), ({'isPublic': False}, owner),
    ]
    for body, headers in steps:
        assert put(client, headers, body, id=number).status_code == 200, body
    ingest(services, error(timestamp=NOW, release='2.0'))  # newer than the next release: a regression
    client.simulate_post(notes_path(number), json={'text': 'hi'}, headers=owner)
    assert put(client, key, {'merge': True}, id=[number, other]).json['merge'] == \
        {'parent': number, 'children': [other]}
    activity = client.simulate_get(f'/api/0/issues/{number}/activity/', headers=key).json['activity']
    owner_id = install.user_id
    shown = [(a['type'], a['data'], a['user']['id'] if a['user'] else None) for a in activity]
    ignore_data = shown[-4][1]
    assert shown == [
        ('merge', {'issues': [{'id': int(other)}]}, None),
        ('note', {'text': 'hi'}, owner_id),
        ('set_regression', {'version': '2.0'}, None),
        ('set_private', {}, owner_id),
        ('set_public', {}, owner_id),
        ('unassigned', {}, owner_id),
        ('assigned', {'assignee': owner_id, 'assigneeEmail': 'owner@example.com'}, None),
        ('set_resolved_in_release', {'version': '2.0'}, owner_id),
        ('set_resolved_in_release', {'version': '1.0'}, None),
        ('set_ignored', ignore_data, owner_id),
        ('set_unresolved', {}, owner_id),
        ('set_resolved', {}, owner_id),
        ('first_seen', {}, None),
    ]
    assert ignore_data == {'ignoreCount': 10, 'ignoreDuration': None, 'ignoreUntil': None, 'ignoreUserCount': None,
                           'ignoreUserWindow': None, 'ignoreWindow': 5}
    assert all(a['id'].isdigit() and a['dateCreated'].endswith('Z') for a in activity)
    # The detail shows the newest entry of each kind and user, every note, then first_seen.
    client.simulate_post(notes_path(number), json={'text': 'again'}, headers=owner)
    put(client, owner, {'status': 'resolved'}, id=number)
    detail = issue(client, key, number)['activity']
    assert [a['type'] for a in detail] == ['set_resolved', 'note', 'merge', 'note', 'set_regression', 'set_private',
                                           'set_public', 'unassigned', 'assigned', 'set_resolved_in_release',
                                           'set_resolved_in_release', 'set_ignored', 'set_unresolved', 'first_seen']
    with_until = put(client, owner, {'status': 'ignored', 'ignoreDuration': 10}, id=number)
    until = with_until.json['statusDetails']['ignoreUntil']
    entry = client.simulate_get(f'/api/0/issues/{number}/activity/', headers=key).json['activity'][0]
    assert entry['type'] == 'set_ignored' and entry['data']['ignoreUntil'] == until
    assert entry['data']['ignoreDuration'] == 10
    assert client.simulate_get(f'/api/0/issues/{number}/activity/',
                               headers=key_with(services, 'project:read')).status_code == 403
    assert [i['id'] for i in client.simulate_get(LIST, headers=key).json] == []  # ignored now
    assert search(client, key, 'is:ignored') == [number]
