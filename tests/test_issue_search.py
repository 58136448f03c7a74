"""The issue stream: every term of the query language, the old top-level filters,
each sort with ties walked both ways, stats periods, limits and hit counts,
direct hits on event ids and short ids, the numeric and org-wide lists, and who
may read them."""
from __future__ import annotations

import re
import time

from uuid import UUID

from sentrail.commands.accounts import IssueToken, RegisterUser
from sentrail.commands.members import InviteMember
from sentrail.commands.organizations import UpdateOrganization
from sentrail.domain.actor import SYSTEM
from sentrail.domain.roles import SCOPES
from sentrail.projections import accounts, organizations
from tests.conftest import basic, bearer
from tests.test_issue_read import error, ingest
from tests.test_releases import add_team_project
from tests.test_teams import key_with, other_credentials

NOW = time.time()
HOUR = 3600
LIST = '/api/0/projects/acme/web/issues/'


def member(services, email: str, teams: tuple[str, ...] = ('web',), role: str = 'member') -> tuple[dict, str]:
    """Bearer auth (every scope, cut to the role) of a new acme member of these teams, and
    their public id. Membership becomes closed, so the teams are all they may act on."""
    user_id = services.execute(RegisterUser(email=email, password='pw', actor=SYSTEM)).data['user_id']
    with services.read() as conn:
        org = organizations.org_by_slug(conn, 'acme')
        team_ids = tuple(UUID(organizations.team_by_slug(conn, org.id, slug).id) for slug in teams)
    services.execute(InviteMember(organization_id=UUID(org.id), email=email, role=role, team_ids=team_ids,
                                  actor=SYSTEM))
    services.execute(UpdateOrganization(organization_id=UUID(org.id), actor=SYSTEM,
                                        changes={'flags': {'open_membership': False}}))
    token = services.execute(IssueToken(user_id=user_id, scopes=list(SCOPES), actor=SYSTEM)).data['token']
    with services.read() as conn:
        number = str(accounts.user_by_email(conn, email).number)
    return bearer(token), number


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [issue['id'] for issue in response.json]


def search(client, headers, query: str | None, path: str = LIST, **params) -> list[str]:
    if query is not None:
        params['query'] = query
    return ids(client.simulate_get(path, params=params, headers=headers))


def link(response, rel: str) -> tuple[str, bool]:
    match = re.search(rf'rel="{rel}"; results="(true|false)"; cursor="([^"]+)"', response.headers['Link'])
    return match.group(2), match.group(1) == 'true'


def issue_id(client, headers, title: str) -> str:
    found = [i['id'] for i in client.simulate_get(LIST, params={'query': ''}, headers=headers).json
             if i['title'].startswith(title)]
    assert len(found) == 1, found
    return found[0]


def put(client, headers, body: dict, path: str = LIST, **params):
    return client.simulate_put(path, params=params, json=body, headers=headers)


def three_issues(services) -> None:
    """A: old, frequent-ish, prod 1.0 in Chrome; B: recent, the most frequent,
    staging 2.0 on web1; C: a fresh message without release."""
    for n in range(5):
        ingest(services, error('ValueError', 'bad input', function='checkout', timestamp=NOW - 72 * HOUR + n,
                               environment='prod', release='1.0', tags={'browser': 'Chrome'}, user={'id': '1'}))
    for n in range(12):
        ingest(services, error('KeyError', "'sku'", function='cart', level='warning', timestamp=NOW - 2 * HOUR + n * 60,
                               environment='staging', release='2.0', server_name='web1',
                               user={'email': f'u{n % 3}@example.com'}))
    ingest(services, {'message': 'Disk full on /var', 'level': 'info', 'timestamp': NOW - 600, 'culprit': 'cron'})


def test_every_query_term(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    three_issues(services)
    a, b, c = (issue_id(client, key, t) for t in ('ValueError', 'KeyError', 'Disk full'))
    assert put(client, owner, {'assignedTo': 'owner@example.com'}, id=a).status_code == 200
    assert put(client, owner, {'isBookmarked': True, 'isSubscribed': True}, id=b).status_code == 200
    assert put(client, key, {'status': 'resolved'}, id=c).status_code == 200  # a key subscribes nobody

    expectations = {
        None: [b, a], '': [c, b, a], 'is:unresolved': [b, a], 'is:resolved': [c], 'is:ignored': [],
        'is:muted': [], 'is:assigned': [a], 'is:unassigned': [c, b], '!is:assigned': [c, b],
        'is:bookmarked': [b], 'is:subscribed': [b, a], 'assigned:me': [a], 'assigned:owner@example.com': [a],
        f'assigned:{install.user_id}': [a], 'assigned:nobody@example.com': [], '!assigned:me': [c, b],
        'bookmarks:me': [b], 'bookmarks:owner@example.com': [b], 'subscribed:me': [b, a], '!subscribed:me': [c],
        'release:1.0': [a], 'release:"2.0"': [b], 'release:latest': [b], '!release:1.0': [c, b],
        'has:sentry:release': [b, a], 'firstRelease:1.0': [a], 'first-release:latest': [b],
        'level:warning': [b], 'level:error': [a], '!level:error': [c, b], 'environment:prod': [a],
        'environment:"staging"': [b], 'has:browser': [a], '!has:browser': [c, b], 'has:user': [b, a],
        'has:environment': [b, a], 'browser:Chrome': [a], "browser:'Chrome'": [a], 'server_name:web1': [b],
        'user:id:1': [a], 'user.id:1': [a], 'user.email:u1@example.com': [b], 'browser:Firefox': [],
        'age:-24h': [c, b], 'age:+24h': [a], 'firstSeen:-3h': [c, b], 'age:-5m': [], 'lastSeen:-1h': [c], 'lastSeen:-2h': [c, b],
        'lastSeen:+70h': [a], 'last_seen:-2d': [c, b], 'activeSince:-1w': [c, b, a],
        f'age:>{time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 4 * HOUR))}': [c, b],
        f'age:<{time.strftime("%Y-%m-%d", time.gmtime(NOW - 48 * HOUR))}Z': [a],
        f'age:{time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 72 * HOUR))}': [a],
        'timesSeen:>10': [b], 'timesSeen:>=5': [b, a], 'timesSeen:<5': [c], 'timesSeen:5': [a],
        'timesSeen:<=12': [c, b, a], 'Disk': [c], '"full on /var"': [c], 'keyerror': [b], 'checkout': [a],
        'cron': [c], 'bad input': [a], 'is:unresolved checkout': [a], 'level:error is:resolved': [],
        'is: unresolved': [b, a], 'assigned: me': [a], 'assigned:2678891633779': [], 'assigned:\u00b2': [],
        # Past what a 64-bit column holds: compared as its end, so nothing has more.
        f'timesSeen:>{"9" * 30}': [], f'timesSeen:<{"9" * 1000}': [c, b, a], f'timesSeen:{"0" * 40}5': [a],
        f'firstSeen:>{"9" * 25}': [], f'lastSeen:<{"9" * 25}.5': [c, b, a],
    }
    for query, expected in expectations.items():
        assert search(client, owner, query) == expected, query

    # An API key has no user: `me` matches nothing.
    assert search(client, key, 'assigned:me') == [] and search(client, key, 'bookmarks:me') == []
    for query, detail in (('is:sleeping', "Your search query could not be parsed: 'is:' had unknown status code "
                                          "'sleeping'."),
                          ('age:-3x', '-3x is not a valid datetime query'),
                          ('age:-\u00b2h', '-\u00b2h is not a valid datetime query'),
                          ('age:-99999999999999999999h', '-99999999999999999999h is not a valid datetime query'),
                          ('age:yesterday', 'yesterday is not a valid datetime query'),
                          ('timesSeen:many', 'Invalid format for numeric search: many')):
        response = client.simulate_get(LIST, params={'query': query}, headers=key)
        assert (response.status_code, response.json) == (400, {'detail': detail})


def test_old_top_level_filters(client, services, install):
    owner = bearer(install.auth_token)
    three_issues(services)
    a, b, c = (issue_id(client, owner, t) for t in ('ValueError', 'KeyError', 'Disk full'))
    put(client, owner, {'status': 'resolved'}, id=c)
    put(client, owner, {'status': 'ignored'}, id=b)
    put(client, owner, {'assignedTo': install.user_id, 'isBookmarked': True}, id=a)
    # `status=` replaces the default is:unresolved; with a query both apply.
    assert search(client, owner, None, status='resolved') == [c]
    assert search(client, owner, None, status='muted') == [b] == search(client, owner, None, status='ignored')
    assert search(client, owner, None, status='unresolved') == [a]
    assert search(client, owner, 'level:info', status='resolved') == [c]
    assert search(client, owner, 'level:error', status='resolved') == []
    assert search(client, owner, '', bookmarks='1') == [a] == search(client, owner, '', assigned='1')
    bad = client.simulate_get(LIST, params={'status': 'sleeping'}, headers=owner)
    assert (bad.status_code, bad.json) == (400, {'detail': 'invalid status'})


def numbered(services, counts: list[int], users: list[int], seen: list[float]) -> None:
    """Issues E0.. with these event counts, distinct users and last-seen offsets (ties on purpose)."""
    for n, (count, user_count, offset) in enumerate(zip(counts, users, seen)):
        for k in range(count):
            raw = {'user': {'id': str(k)}} if k < user_count else {}
            first = k == 0
            ingest(services, error(f'E{n}', timestamp=NOW - 5000 + n * 10 if first else NOW - offset, **raw))


def walk(client, headers, **params) -> tuple[list[list[str]], object]:
    pages, cursor, response = [], '', None
    while len(pages) < 50:
        response = client.simulate_get(LIST, params={**params, 'cursor': cursor}, headers=headers)
        pages.append(ids(response))
        cursor, more = link(response, 'next')
        if not more:
            return pages, response
    raise AssertionError(f'the walk does not end: {pages}')


def walk_back(client, headers, response, **params) -> list[list[str]]:
    pages = []
    cursor, more = link(response, 'previous')
    while more and len(pages) < 50:
        response = client.simulate_get(LIST, params={**params, 'cursor': cursor}, headers=headers)
        pages.append(ids(response))
        cursor, more = link(response, 'previous')
    return pages


def test_sorts_page_both_ways_through_ties(client, services, install):
    key = basic(install.api_key)
    # freq ties: 3,3,3 and 2,2; user ties: 2,2 and 1,1; last-seen ties: 100 s ago x3.
    numbered(services, counts=[3, 1, 3, 2, 3, 1, 2], users=[2, 1, 1, 2, 0, 0, 1],
             seen=[100, 100, 300, 50, 100, 900, 20])
    fields = {'date': 'lastSeen', 'new': 'firstSeen', 'freq': 'count', 'user': 'userCount'}
    for sort in ('date', 'new', 'freq', 'priority', 'user'):
        everything = client.simulate_get(LIST, params={'sort': sort, 'limit': '100'}, headers=key).json
        full = [i['id'] for i in everything]
        assert len(full) == 7
        if sort in fields:
            keyed = [(int(i[fields[sort]]) if sort in ('freq', 'user') else i[fields[sort]], int(i['id']))
                     for i in everything]
            assert keyed == sorted(keyed, reverse=True), sort  # by the key, ties by id, both descending
        for limit in ('2', '3'):
            pages, last = walk(client, key, sort=sort, limit=limit)
            assert [i for page in pages for i in page] == full, (sort, limit, pages)
            back = walk_back(client, key, last, sort=sort, limit=limit)
            assert [i for page in reversed(back) for i in page] == full[:len(full) - len(pages[-1])], (sort, back)
    assert [i['count'] for i in client.simulate_get(LIST, params={'sort': 'freq'}, headers=key).json] == \
        ['3', '3', '3', '2', '2', '1', '1']
    bad = client.simulate_get(LIST, params={'sort': 'loudest'}, headers=key)
    assert (bad.status_code, bad.json) == (400, {'detail': 'Invalid sort: loudest'})


def test_list_parameters_and_direct_hits(client, services, install):
    key = basic(install.api_key)
    numbered(services, counts=[1] * 5, users=[0] * 5, seen=[500, 400, 300, 200, 100])
    event = ingest(services, error('Target', timestamp=NOW - 10))
    response = client.simulate_get(LIST, params={'limit': '2', 'statsPeriod': '14d'}, headers=key)
    assert response.headers['X-Hits'] == '6' and response.headers['X-Max-Hits'] == '1000'
    assert len(response.json) == 2 and len(response.json[0]['stats']['14d']) == 14
    assert response.headers['Link'] == (
        f'<http://testserver{LIST}?limit=2&statsPeriod=14d&cursor={link(response, "previous")[0]}>; '
        f'rel="previous"; results="false"; cursor="{link(response, "previous")[0]}", '
        f'<http://testserver{LIST}?limit=2&statsPeriod=14d&cursor={link(response, "next")[0]}>; '
        f'rel="next"; results="true"; cursor="{link(response, "next")[0]}"')
    assert len(client.simulate_get(LIST, params={'limit': '500'}, headers=key).json) == 6  # clamped to 100
    assert 'stats' not in client.simulate_get(LIST, params={'statsPeriod': ''}, headers=key).json[0]
    assert len(client.simulate_get(LIST, headers=key).json[0]['stats']['24h']) == 24
    for params, detail in ((dict(limit='0'), 'invalid limit'),
                           (dict(statsPeriod='30d'), "Invalid stats_period. Valid choices are '', '24h', and '14d'")):
        bad = client.simulate_get(LIST, params=params, headers=key)
        assert (bad.status_code, bad.json) == (400, {'detail': detail})

    # A 32-hex event id finds its issue directly, whatever its status.
    target = issue_id(client, key, 'Target')
    put(client, key, {'status': 'resolved'}, id=target)
    hit = client.simulate_get(LIST, params={'query': event['event_id']}, headers=key)
    assert hit.headers['X-Sentry-Direct-Hit'] == '1' and 'Link' not in hit.headers
    assert [i['id'] for i in hit.json] == [target] and hit.json[0]['matchingEventId'].isdigit()
    assert hit.json[0]['status'] == 'resolved' and 'stats' in hit.json[0]
    miss = client.simulate_get(LIST, params={'query': 'f' * 32}, headers=key)
    assert miss.json == [] and 'X-Sentry-Direct-Hit' not in miss.headers

    # shortIdLookup=1 with a short id (any case) answers that issue, also from the org-wide list.
    short = client.simulate_get(f'/api/0/issues/{target}/', headers=key).json['shortId']
    for path in (LIST, '/api/0/organizations/acme/issues/'):
        found = client.simulate_get(path, params={'query': short.lower(), 'shortIdLookup': '1'}, headers=key)
        assert [i['id'] for i in found.json] == [target] and found.headers['X-Sentry-Direct-Hit'] == '1'
    assert client.simulate_get(LIST, params={'query': short}, headers=key).json == []
    assert search(client, key, 'WEB-ZZZZ', shortIdLookup='1') == []


def test_numeric_and_organization_lists(client, services, install):
    key, owner = basic(install.api_key), bearer(install.auth_token)
    three_issues(services)
    add_team_project(services, 'backend', 'api')
    ingest(services, error('ApiError', timestamp=NOW - 60), project='api')
    api_project = client.simulate_get('/api/0/projects/acme/api/', headers=key).json['id']
    everything = search(client, key, '')
    for kind in ('groups', 'issues'):
        assert search(client, key, '', path=f'/api/0/projects/{install.project_id}/{kind}/') == everything
    org = '/api/0/organizations/acme/issues/'
    both = search(client, owner, '', path=org)
    assert len(both) == 4 and set(everything) < set(both)
    assert search(client, owner, '', path=org, project=install.project_id) == everything
    assert search(client, owner, '', path=org, project=[install.project_id, api_project]) == both
    assert search(client, owner, 'ApiError', path=org, project='-1') == [both[0]]
    assert client.simulate_get(org, params={'project': '999'}, headers=owner).status_code == 403
    assert client.simulate_get('/api/0/organizations/acme/groups/', headers=owner).status_code == 404

    # A member of the web team only sees web's issues, and may not name api's.
    dev, _ = member(services, 'dev@example.com')
    assert search(client, dev, '', path=org) == everything
    assert client.simulate_get(org, params={'project': api_project}, headers=dev).status_code == 403


def test_repeated_lists_are_answered_again_until_anything_changes(client, services, install, monkeypatch):
    from sentrail.http.resources import issues as resource
    key, owner = basic(install.api_key), bearer(install.auth_token)
    ingest(services, error('First', timestamp=NOW - 20))
    ingest(services, error('Second', timestamp=NOW - 10))
    computed = []
    respond = resource.StreamAnswer.respond
    monkeypatch.setattr(resource.StreamAnswer, 'respond', lambda self, scope: (computed.append(1), respond(self, scope)))
    monkeypatch.setattr(resource.AnswerCache, 'MAX_AGE', 60.0)

    first = client.simulate_get(LIST, headers=key)
    again = client.simulate_get(LIST, headers=key)
    assert (again.json, again.headers['Link'], again.headers['X-Hits']) == \
        (first.json, first.headers['Link'], first.headers['X-Hits'])
    assert len(computed) == 1
    client.simulate_get(LIST, headers=owner)  # another credential
    client.simulate_get(LIST, params={'limit': '1'}, headers=key)  # another request
    client.simulate_get(LIST, headers={**key, 'Cache-Control': 'no-cache'})
    assert len(computed) == 4
    # Any write misses: an edit, or an event ingested but not yet folded in.
    second = first.json[0]['id']
    put(client, key, {'status': 'resolved'}, id=second)
    assert ids(client.simulate_get(LIST, headers=key)) == [first.json[1]['id']] and len(computed) == 5
    ingest(services, error('Third', timestamp=NOW), catch_up=False)
    assert len(ids(client.simulate_get(LIST, headers=key))) == 2 and len(computed) == 6
    # An ignore lapsing changes the list with no event: the answer lasts until then.
    monkeypatch.setattr('sentrail.commands.issues.now_ms', lambda: int((time.time() - 59) * 1000))
    put(client, key, {'status': 'ignored', 'ignoreDuration': 1}, id=second)
    assert second not in ids(client.simulate_get(LIST, params={'query': 'is:unresolved'}, headers=key))
    time.sleep(1.2)
    assert second in ids(client.simulate_get(LIST, params={'query': 'is:unresolved'}, headers=key))
    # And no answer outlives MAX_AGE.
    monkeypatch.setattr(resource.AnswerCache, 'MAX_AGE', 0.3)
    count = len(computed)
    client.simulate_get(LIST, headers=key)
    time.sleep(0.4)
    client.simulate_get(LIST, headers=key)
    assert len(computed) == count + 2


def test_who_may_search(client, services, install):
    ingest(services, error())
    numeric = f'/api/0/projects/{install.project_id}/groups/'
    narrow = key_with(services, 'project:read', 'org:read')
    reader = key_with(services, 'event:read')
    for path in (LIST, numeric, '/api/0/organizations/acme/issues/'):
        assert client.simulate_get(path, headers=reader).status_code == 200
        assert client.simulate_get(path, headers=narrow).status_code == 403
        assert client.simulate_put(path, json={'status': 'resolved'}, headers=reader).status_code == 403
        assert client.simulate_delete(path, params={'id': '1'}, headers=reader).status_code == 403
        for headers in other_credentials(services) if path == LIST else ():
            foreign = client.simulate_get(path, headers=headers)
            assert foreign.status_code in (403, 404) and 'ValueError' not in foreign.text
        assert client.simulate_get(path).status_code == 401
    assert client.simulate_get('/api/0/projects/999/groups/', headers=reader).status_code == 404
