"""One issue: its detail with every extra, PUT answering the whole issue, DELETE,
and ignores that lapse by time, by event count (with and without a window) and
by user count, on the read side at once and on the write side with the next event."""
from __future__ import annotations

import time
from uuid import UUID

from sentrail.domain.group import Group
from tests.conftest import basic, bearer
from tests.test_issue_read import error, ingest
from tests.test_issue_search import LIST, member, put, search
from tests.test_teams import key_with, other_credentials

NOW = time.time()
MINUTE = 60


def one_issue(client, services, headers, **raw) -> str:
    ingest(services, error(timestamp=NOW - 100, **raw))
    return search(client, headers, '')[0]


def issue(client, headers, number: str) -> dict:
    response = client.simulate_get(f'/api/0/issues/{number}/', headers=headers)
    assert response.status_code == 200, response.text
    return response.json


def test_detail_put_and_delete(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    ingest(services, error(timestamp=NOW - 300, release='1.0', user={'id': '1'}))
    number = one_issue(client, services, key, release='1.1', user={'id': '2'})
    body = issue(client, key, number)
    assert body['firstRelease']['version'] == '1.0' and body['lastRelease']['version'] == '1.1'
    assert [(p['slug'], p['newGroups']) for p in body['firstRelease']['projects']] == [('web', 1)]
    assert body['firstRelease']['dateCreated'].endswith('Z') and body['lastRelease']['newGroups'] == 0
    assert (body['seenBy'], body['participants'], body['numComments'], body['assignedTo']) == ([], [], 0, None)
    assert [a['type'] for a in body['activity']] == ['first_seen'] and body['userReportCount'] == 0
    assert (body['isBookmarked'], body['isSubscribed'], body['hasSeen'], body['shareId']) == (False, False, False, None)
    assert sum(n for _, n in body['stats']['24h']) == 2 and len(body['stats']['30d']) == 30

    answered = client.simulate_put(f'/api/0/issues/{number}/', headers=owner,
                                   json={'status': 'resolved', 'assignedTo': install.user_id, 'hasSeen': True,
                                         'merge': True})
    assert answered.status_code == 200
    whole = answered.json
    assert whole['id'] == number and whole['status'] == 'resolved' and whole['statusDetails'] == {}
    assert whole['assignedTo']['email'] == 'owner@example.com' and whole['hasSeen'] is True
    assert whole['isSubscribed'] is True and whole['subscriptionDetails'] == {'reason': 'changed_status'}
    assert 'activity' not in whole and whole['shortId'] == 'WEB-1'
    body = issue(client, owner, number)
    assert [u['email'] for u in body['participants']] == ['owner@example.com']
    assert [u['email'] for u in body['seenBy']] == ['owner@example.com']
    assert [a['type'] for a in body['activity']] == ['assigned', 'set_resolved', 'first_seen']
    # A new event reactivates the issue: seen before it, it is no longer "seen".
    ingest(services, error(timestamp=NOW))
    assert issue(client, owner, number)['hasSeen'] is False

    bad = client.simulate_put(f'/api/0/issues/{number}/', json={'status': 'later'}, headers=key)
    assert bad.status_code == 400 and 'status' in bad.json
    assert client.simulate_put(f'/api/0/issues/{number}/', json={'status': 'resolved'},
                               headers=key_with(services, 'event:read')).status_code == 403
    assert client.simulate_delete(f'/api/0/issues/{number}/',
                                  headers=key_with(services, 'event:write')).status_code == 403
    for headers in other_credentials(services):
        for response in (client.simulate_get(f'/api/0/issues/{number}/', headers=headers),
                         client.simulate_delete(f'/api/0/issues/{number}/', headers=headers)):
            assert response.status_code in (403, 404) and 'ValueError' not in response.text
    deleted = client.simulate_delete(f'/api/0/issues/{number}/', headers=key)
    assert (deleted.status_code, deleted.text) == (202, '')
    assert client.simulate_get(f'/api/0/issues/{number}/', headers=key).status_code == 404
    assert client.simulate_delete(f'/api/0/issues/{number}/', headers=key).status_code == 404
    assert search(client, key, '') == []
    assert search(client, key, '', path='/api/0/organizations/acme/issues/') == []


def group_stream(services, number: str) -> list:
    from sentrail.projections import issues
    with services.read() as conn:
        group_id = UUID(issues.group_by_number(conn, int(number)).id)
    return list(services.app.repository.event_store.get(group_id))


def test_ignore_lapses_by_time(client, services, install, monkeypatch):
    key = basic(install.api_key)
    number = one_issue(client, services, key)
    # Ignored 31 minutes ago for 30 minutes: shown unresolved at once.
    monkeypatch.setattr('sentrail.commands.issues.now_ms', lambda: int((time.time() - 31 * MINUTE) * 1000))
    put(client, key, {'status': 'ignored', 'ignoreDuration': 30}, id=number)
    lapsed = issue(client, key, number)
    assert (lapsed['status'], lapsed['statusDetails']) == ('unresolved', {})
    assert search(client, key, 'is:unresolved') == [number] and search(client, key, 'is:ignored') == []
    assert search(client, key, None) == [number] and search(client, key, '!is:ignored') == [number]
    # Ignored now for 30 minutes: it holds.
    monkeypatch.undo()
    put(client, key, {'status': 'ignored', 'ignoreDuration': 30}, id=number)
    assert issue(client, key, number)['status'] == 'ignored' and search(client, key, None) == []
    ingest(services, error(timestamp=NOW))
    assert issue(client, key, number)['status'] == 'ignored'
    # The next event after the lapse records it on the write side.
    monkeypatch.setattr('sentrail.commands.issues.now_ms', lambda: int((time.time() - 31 * MINUTE) * 1000))
    put(client, key, {'status': 'ignored', 'ignoreDuration': 30}, id=number)
    before = len(group_stream(services, number))
    ingest(services, error(timestamp=NOW))
    stream = group_stream(services, number)
    assert len(stream) == before + 1 and isinstance(stream[-1], Group.StatusChanged)
    assert stream[-1].status == 'unresolved'
    from sentrail.projections import issues
    with services.read() as conn:
        assert issues.group_by_number(conn, int(number)).status == 'unresolved'
    activity = client.simulate_get(f'/api/0/issues/{number}/activity/', headers=key).json['activity']
    assert [(a['type'], a['user']) for a in activity[:2]] == [('set_unresolved', None), ('set_ignored', None)]


def test_the_longest_ignore_ends_on_a_date(client, services, install):
    """The largest duration the validator takes (2^31 - 1 minutes, ~4,000 years)
    still ends on a date the issue, its activity and the PUT's answer can show."""
    key = basic(install.api_key)
    number = one_issue(client, services, key)
    answer = put(client, key, {'status': 'ignored', 'ignoreDuration': 2 ** 31 - 1}, id=number)
    assert answer.status_code == 200, answer.text
    until = answer.json['statusDetails']['ignoreUntil']
    assert until.startswith('6') and until.endswith('Z')
    shown = issue(client, key, number)
    assert (shown['status'], shown['statusDetails']['ignoreUntil']) == ('ignored', until)
    activity = client.simulate_get(f'/api/0/issues/{number}/activity/', headers=key)
    assert activity.status_code == 200 and activity.json['activity'][0]['data']['ignoreUntil'] == until


def test_numbers_past_any_id_name_no_issue(client, services, install):
    key = basic(install.api_key)
    one_issue(client, services, key)
    for number in ('9' * 5000, '2147483648', '0' * 40 + '9' * 11):
        for path in (f'/api/0/issues/{number}/', f'/api/0/issues/{number}/events/latest/'):
            assert client.simulate_get(path, headers=key).status_code == 404, path


def test_dates_beyond_the_calendar_show_as_its_edges():
    from sentrail.http.serializers.dates import iso
    assert iso(1_732_712_345_123) == '2024-11-27T12:59:05.123Z'
    assert iso(-62_135_596_800_000) == '0001-01-01T00:00:00.000Z'
    assert iso(10 ** 30) == '9999-12-31T23:59:59.999Z' and iso(-10 ** 30) == '0001-01-01T00:00:00.000Z'


def test_ignore_lapses_by_count_and_users(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    number = one_issue(client, services, key)
    put(client, owner, {'status': 'ignored', 'statusDetails': {'ignoreCount': 3}}, id=number)
    assert issue(client, key, number)['statusDetails']['ignoreCount'] == 3
    for remaining in (2, 1):
        ingest(services, error(timestamp=NOW))
        shown = issue(client, key, number)
        assert (shown['status'], shown['statusDetails']['ignoreCount']) == ('ignored', remaining)
        assert shown['statusDetails']['actor']['email'] == 'owner@example.com'
    ingest(services, error(timestamp=NOW))
    assert issue(client, key, number)['status'] == 'unresolved'
    assert client.simulate_get(f'/api/0/issues/{number}/', headers=key).json['count'] == '4'

    # Within a window: events older than it do not count, and the count shown is the condition.
    put(client, key, {'status': 'ignored', 'ignoreCount': 2, 'ignoreWindow': 60}, id=number)
    ingest(services, error(timestamp=NOW), received_at=time.time() - 2 * 3600)
    ingest(services, error(timestamp=NOW))
    shown = issue(client, key, number)
    assert (shown['status'], shown['statusDetails']['ignoreCount'], shown['statusDetails']['ignoreWindow']) == \
        ('ignored', 2, 60)
    ingest(services, error(timestamp=NOW))
    assert issue(client, key, number)['status'] == 'unresolved'

    # By users: the same user twice is one; the second user lifts it.
    put(client, key, {'status': 'ignored', 'statusDetails': {'ignoreUserCount': 2}}, id=number)
    for _ in range(3):
        ingest(services, error(timestamp=NOW, user={'id': 'a'}))
        ingest(services, error(timestamp=NOW))  # no user: not counted
    shown = issue(client, key, number)
    assert (shown['status'], shown['statusDetails']['ignoreUserCount']) == ('ignored', 1)
    ingest(services, error(timestamp=NOW, user={'id': 'b'}))
    assert issue(client, key, number)['status'] == 'unresolved'

    # Users within a window: one seen long ago does not count.
    put(client, key, {'status': 'ignored', 'ignoreUserCount': 2, 'ignoreUserWindow': 30}, id=number)
    ingest(services, error(timestamp=NOW, user={'id': 'c'}), received_at=time.time() - 3600)
    ingest(services, error(timestamp=NOW, user={'id': 'd'}))
    assert issue(client, key, number)['status'] == 'ignored'
    ingest(services, error(timestamp=NOW, user={'id': 'e'}))
    assert issue(client, key, number)['status'] == 'unresolved'


def test_the_issue_stream_stays_small(client, services, install):
    """Events reach the issue's own stream only while an ignore counts them, and
    then no more than its condition allows."""
    key = basic(install.api_key)
    number = one_issue(client, services, key)
    start = len(group_stream(services, number))
    for _ in range(20):
        ingest(services, error(timestamp=NOW))
    assert len(group_stream(services, number)) == start
    put(client, key, {'status': 'ignored'}, id=number)
    for _ in range(20):
        ingest(services, error(timestamp=NOW, user={'id': 'x'}))
    assert len(group_stream(services, number)) == start + 1
    put(client, key, {'status': 'ignored', 'ignoreUserCount': 10}, id=number)
    for _ in range(20):
        ingest(services, error(timestamp=NOW, user={'id': 'x'}))
    assert len(group_stream(services, number)) == start + 3  # the ignore, one user counted once
    put(client, key, {'status': 'ignored', 'ignoreCount': 5}, id=number)
    for _ in range(20):
        ingest(services, error(timestamp=NOW))
    # four counted, the fifth lifts the ignore, the rest touch nothing
    assert len(group_stream(services, number)) == start + 3 + 1 + 4 + 1
    assert issue(client, key, number)['count'] == '81'


def test_members_see_their_own_marks(client, services, install):
    key = basic(install.api_key)
    number = one_issue(client, services, key)
    dev, dev_id = member(services, 'dev@example.com')
    ops, _ = member(services, 'ops@example.com')
    put(client, dev, {'isBookmarked': True, 'hasSeen': True}, id=number)
    put(client, ops, {'isSubscribed': True}, id=number)
    mine, theirs = issue(client, dev, number), issue(client, ops, number)
    assert (mine['isBookmarked'], mine['hasSeen'], mine['isSubscribed']) == (True, True, True)
    assert mine['subscriptionDetails'] == {'reason': 'bookmarked'}
    assert (theirs['isBookmarked'], theirs['hasSeen'], theirs['isSubscribed']) == (False, False, True)
    assert {u['email'] for u in mine['participants']} == {'dev@example.com', 'ops@example.com'}
    assert [u['id'] for u in theirs['seenBy']] == [dev_id]
    participants = client.simulate_get(f'/api/0/issues/{number}/participants/', headers=key).json
    assert sorted(u['email'] for u in participants) == ['dev@example.com', 'ops@example.com']
    assert [i['isBookmarked'] for i in client.simulate_get(LIST, headers=dev).json] == [True]
