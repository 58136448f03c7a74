"""Hostile and broken requests to the management API: each gets a JSON 4xx, never a
500, and leaves the event store byte for byte as it was."""
from __future__ import annotations

import base64
import json

import orjson

from tests.conftest import basic, bearer
from tests.test_security import stored_events

ORG_FLAGS = ('openMembership', 'allowSharedIssues', 'enhancedPrivacy', 'dataScrubber', 'dataScrubberDefaults',
             'scrubIPAddresses', 'isEarlyAdopter', 'require2FA')

# Wrong values per kind of field; every one must be refused whatever the field.
NUL = 'nul \x00 inside'
TEXT = [5, 1.5, True, [], {}, ['x'], {'a': 'b'}, NUL]
FLAG = ['maybe', 2, 1.5, [], {}, [True], NUL]
NUMBER = ['abc', 1.5, True, [], {}, [1], 2 ** 70, -(2 ** 70), NUL]
TEXTS = [5, True, {}, [1], [None], [[]], [NUL]]
CHOICE = [5, True, [], {}, 'no-such-choice', NUL]
SCOPE_LIST = [5, 'org:read', [], [5], ['no:such'], {}, [NUL]]
OBJECT = [5, 'x', [], True, {'count': 'x', 'window': 60}, {'count': 1, 'window': 10 ** 9},
          {'count': -1, 'window': 60}, {'count': 2 ** 70, 'window': 60}, {'count': 1}]
DATE = ['yesterday', 5, [], {}, '2024-13-45T00:00:00Z', NUL]
URL = [5, [], 'not a url', 'javascript:alert(1)', 'http://', NUL]
OBJECTS = [5, 'x', {}, [5], [{}], [{'id': 5}], [{'id': 'a' * 65}], [{'id': 'abc', 'timestamp': 'soon'}],
           [{'id': 'abc', 'patch_set': [{'path': 'a', 'type': 'Z'}]}], [{'id': NUL}]]
REFS = [5, 'x', {}, [5], [{}], [{'repository': 5, 'commit': 'abc'}], [{'repository': 'r', 'commit': []}]]


def endpoints(ids: dict) -> list[tuple[str, str, dict, dict]]:
    """(method, path, a valid base body, {field: wrong values}) for the main writes."""
    release = f'/api/0/organizations/acme/releases/{ids["release"]}/'
    return [
        ('POST', '/api/0/organizations/', {'name': 'Fine Org'}, {'name': TEXT, 'slug': TEXT, 'defaultTeam': FLAG}),
        ('PUT', '/api/0/organizations/acme/', {}, {
            'name': TEXT, 'slug': TEXT, **{flag: FLAG for flag in ORG_FLAGS}, 'sensitiveFields': TEXTS,
            'safeFields': TEXTS, 'accountRateLimit': NUMBER, 'projectRateLimit': NUMBER, 'defaultRole': CHOICE}),
        ('POST', '/api/0/organizations/acme/teams/', {'name': 'Fine Team'}, {'name': TEXT, 'slug': TEXT}),
        ('PUT', '/api/0/teams/acme/web/', {}, {'name': TEXT, 'slug': TEXT}),
        ('POST', '/api/0/teams/acme/web/projects/', {'name': 'Fine Project'},
         {'name': TEXT, 'slug': TEXT, 'platform': TEXT}),
        ('PUT', '/api/0/projects/acme/web/', {}, {
            'name': TEXT, 'slug': TEXT, 'team': TEXT + ['no-such-team'], 'platform': TEXT,
            'digestsMinDelay': NUMBER, 'digestsMaxDelay': NUMBER, 'subjectPrefix': TEXT, 'subjectTemplate': TEXT,
            'isBookmarked': FLAG, 'isSubscribed': FLAG,
            'options': [5, 'x', [], {'no:such': 1}, {'sentry:scrub_data': 'maybe'}, {'sentry:origins': 5},
                        {'sentry:origins': [NUL]}]}),
        ('POST', '/api/0/organizations/acme/members/', {'email': 'fine@example.com', 'role': 'member'},
         {'email': TEXT + ['x' * 80 + '@example.com'], 'role': CHOICE + ['owner ', None],
          'teams': TEXTS + [['no-such-team']]}),
        ('PUT', f'/api/0/organizations/acme/members/{ids["member"]}/', {},
         {'reinvite': FLAG, 'role': CHOICE, 'teams': TEXTS + [['no-such-team']]}),
        ('POST', '/api/0/organizations/acme/api-keys/', {}, {'label': TEXT + ['x' * 65], 'scope_list': SCOPE_LIST}),
        ('PUT', f'/api/0/organizations/acme/api-keys/{ids["api_key"]}/', {},
         {'label': TEXT + ['x' * 65], 'scope_list': SCOPE_LIST, 'allowed_origins': [5, [], {}, True, NUL]}),
        ('POST', '/api/0/projects/acme/web/keys/', {}, {'name': TEXT, 'public': TEXT, 'secret': TEXT}),
        ('PUT', f'/api/0/projects/acme/web/keys/{ids["client_key"]}/', {},
         {'name': [5, 1.5, True, ['x'], {'a': 'b'}, NUL], 'isActive': FLAG, 'rateLimit': OBJECT}),
        ('POST', '/api/0/organizations/acme/releases/', {'version': 'fine@1.0', 'projects': ['web']}, {
            'version': TEXT + ['a/b', '.', 'x' * 251, 'latest'], 'projects': [5, 'web', {}, [5], ['no-such'], [None]],
            'ref': TEXT, 'url': URL, 'dateReleased': DATE, 'dateStarted': DATE, 'commits': OBJECTS, 'refs': REFS,
            'status': CHOICE}),
        ('POST', '/api/0/projects/acme/web/releases/', {'version': 'fine@2.0'},
         {'version': TEXT + ['a/b', 'x' * 251], 'ref': TEXT, 'url': URL, 'dateReleased': DATE, 'commits': OBJECTS}),
        # Like Sentry, an empty value (0, false, [], {}) leaves a release field as it is: only truthy ones here.
        ('PUT', release, {}, {'ref': [5, 1.5, True, ['x'], {'a': 'b'}, NUL], 'url': [5, ['x'], 'not a url', NUL],
                              'dateReleased': ['yesterday', 5, ['x'], NUL], 'commits': [5, 'x', [5], [{}], [{'id': 5}]],
                              'refs': [5, 'x', [5], [{}]], 'status': [5, 'no-such-status', ['x'], NUL]}),
        ('POST', f'{release}deploys/', {'environment': 'production'},
         {'environment': TEXT + ['x' * 65], 'name': TEXT, 'url': URL, 'dateStarted': DATE, 'dateFinished': DATE}),
        ('POST', '/api/0/organizations/acme/repos/', {'name': 'acme/fine'},
         {'name': TEXT, 'provider': TEXT, 'url': URL}),
        ('PUT', '/api/0/users/me/', {}, {'name': TEXT, 'username': TEXT, 'email': TEXT + ['not an email'],
                                         'passwordNew': TEXT}),
        ('POST', '/api/0/api-tokens/', {}, {'scopes': SCOPE_LIST}),
    ]


def prepare(client, install) -> dict:
    """A member, an API key, a client key and a release to aim the PUTs at."""
    owner = bearer(install.auth_token)
    member = client.simulate_post('/api/0/organizations/acme/members/', headers=owner,
                                  json={'email': 'someone@example.com', 'role': 'member'}).json
    key = client.simulate_post('/api/0/organizations/acme/api-keys/', headers=owner, json={}).json
    client_key = client.simulate_post('/api/0/projects/acme/web/keys/', headers=owner, json={}).json
    release = client.simulate_post('/api/0/organizations/acme/releases/', headers=owner,
                                   json={'version': 'acme@1.0', 'projects': ['web']}).json
    return {'member': member['id'], 'api_key': key['id'], 'client_key': client_key['public'],
            'release': release['version']}


def refused(response, case: object, status: int | tuple = (400, 403, 404, 409, 413, 414, 415, 431)) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (case, response.status_code, response.text[:300])
    assert response.headers['Content-Type'].startswith('application/json'), case
    assert isinstance(response.json, dict) and response.json, case


def send(client, method: str, path: str, token: str, body: bytes, query: str = ''):
    return client.simulate_request(method, path, body=body, query_string=query,
                                   headers={**bearer(token), 'Content-Type': 'application/json'})


def test_broken_bodies_are_refused_and_change_nothing(client, services, install):
    ids = prepare(client, install)
    before = stored_events(services)
    deep = b'[' * 10_000 + b']' * 10_000
    for method, path, base, fields in endpoints(ids):
        name = next(iter(fields))
        start = orjson.dumps(base)[:-1] + (b', ' if base else b'')
        bodies = {
            'invalid utf-8': start + b'"' + name.encode() + b'": "\xff\xfe\xc3"}',
            'overlong utf-8': start + b'"' + name.encode() + b'": "\xc0\xaf"}',
            'lone surrogate': start + b'"' + name.encode() + b'": "\\udc00"}',
            'nested 10,000 deep': start + b'"' + name.encode() + b'": ' + deep + b'}',
            'whole body nested': deep,
            'not an object': b'["' + name.encode() + b'"]',
            'truncated': orjson.dumps(base)[:-1] + b', "' + name.encode(),
            'NaN': start + b'"' + name.encode() + b'": NaN}',
            'nul escape': start + b'"' + name.encode() + b'": "a\\u0000b"}',
            'nul in a key': start + b'"' + name.encode() + b'\\u0000": "x"}',
            'duplicate key, the last wrong': start + b'"' + name.encode() + b'": "fine", "'
                                             + name.encode() + b'": {"not": "a value"}}',
        }
        for case, body in bodies.items():
            refused(send(client, method, path, install.auth_token, body), (method, path, case), 400)
        huge = orjson.dumps({**base, name: 'x' * 10_000_000})
        refused(send(client, method, path, install.auth_token, huge), (method, path, '10 MB string'), 413)
    assert stored_events(services) == before
    # Duplicate keys follow Sentry (Python's json): the last one counts.
    twice = b'{"name": {"not": "a value"}, "name": "Twice Named"}'
    created = send(client, 'POST', '/api/0/organizations/acme/teams/', install.auth_token, twice)
    assert created.status_code == 201 and created.json['name'] == 'Twice Named'


def test_wrong_types_for_every_field_are_400(client, services, install):
    ids = prepare(client, install)
    before = stored_events(services)
    checked, accepted = 0, []
    for method, path, base, fields in endpoints(ids):
        for name, values in fields.items():
            for value in values:
                body = {**base, name: value}
                if name == 'passwordNew':
                    body.update(passwordVerify=value, password='secret-pw')
                response = send(client, method, path, install.auth_token, json.dumps(body).encode())
                if response.status_code not in (400, 403, 409) or not response.json:
                    accepted.append((method, path, name, value, response.status_code, response.text[:120]))
                checked += 1
    assert not accepted, '\n'.join(map(str, accepted))
    assert checked > 500
    assert stored_events(services) == before


def test_huge_queries_bad_cursors_and_malformed_auth_are_refused(client, services, install):
    ids = prepare(client, install)
    owner = bearer(install.auth_token)
    before = stored_events(services)
    lists = ['/api/0/organizations/', '/api/0/organizations/acme/members/', '/api/0/organizations/acme/releases/',
             '/api/0/projects/acme/web/keys/', '/api/0/projects/acme/web/issues/', '/api/0/organizations/acme/repos/',
             '/api/0/organizations/acme/audit-logs/', '/api/0/projects/', '/api/0/projects/acme/web/events/']
    cursors = ['x', '1:2', '1:x:0', '1:-1:0', '1:0:2', ':::', '1:99999999999999999999:0', 'abc:0:0:0',
               '1e400:0:0', '-1:0:1', '1:0:0:' + 'x' * 3000, 'NaN:0:0', '%00', '\u2603:0:0',
               '99999999999999999999999:0:0']
    for path in lists:
        for cursor in cursors:
            response = client.simulate_get(path, params={'cursor': cursor}, headers=owner)
            if response.status_code != 200:  # some lists take any sort key; none may fail
                refused(response, (path, cursor), 400)
        for params in ({'per_page': 'x'}, {'per_page': '0'}, {'per_page': '-5'}, {'per_page': '10' * 30},
                       {'limit': 'x'}, {'query': 'x' * 5000}, {'a': 'b' * 100_000}):
            response = client.simulate_get(path, params=params, headers=owner)
            if response.status_code != 200:
                refused(response, (path, list(params)), (400, 414))
        refused(client.simulate_get(path, query_string='&'.join(f'p{n}=v' for n in range(20_000)), headers=owner),
                (path, 'many parameters'), (400, 414))
    writes = [('POST', '/api/0/organizations/acme/teams/', {'name': 'Huge Query'}),
              ('PUT', f'/api/0/organizations/acme/members/{ids["member"]}/', {'role': 'admin'})]
    for method, path, body in writes:
        response = client.simulate_request(method, path, json=body, headers=owner, query_string='x=' + 'y' * 100_000)
        refused(response, (method, path, 'huge query'), (400, 414))
    headers = [
        'Bearer', 'Bearer ', 'Bearer a b', 'Bearer ' + 'f' * 64, 'Bearer é', 'Bearer \x00', 'Bearer ' + 'a' * 9000,
        'Basic', 'Basic %%%', 'Basic ' + base64.b64encode(b'no-colon').decode(),
        'Basic ' + base64.b64encode(b'\xff:').decode(),
        'Basic ' + base64.b64encode(b'a\x00b:').decode(), 'Basic ' + base64.b64encode('ключ:'.encode()).decode(),
        'Basic ' + base64.b64encode(install.api_key[:-1].encode() + b':').decode(), 'Basic ' + 'A' * 9000,
        'Digest username="x"', 'Token abc', 'Bearer\t' + install.auth_token, install.auth_token, '\x00',
        'Bearer ' + install.auth_token + ' x', 'Basic ' + install.api_key,
    ]
    for path, method, body in [('/api/0/organizations/acme/', 'GET', None), ('/api/0/organizations/acme/teams/', 'POST',
                                                                            {'name': 'Nope'})]:
        for header in headers:
            response = client.simulate_request(method, path, json=body, headers={'Authorization': header})
            refused(response, (method, header[:40]), (400, 401, 431))
        for cookie in ('x', 'é' * 10, '\x00', 'a' * 5000):
            response = client.simulate_request(method, path, json=body, cookies={'sentrailsession': cookie})
            refused(response, (method, 'cookie', cookie[:10]), (400, 401, 431))
        for credentials in ('owner@example.com:wrong', 'a\x00b:pw', ':', 'é:é'):
            response = client.simulate_post('/api/0/auth/', headers={
                'Authorization': 'Basic ' + base64.b64encode(credentials.encode()).decode()})
            refused(response, ('login', credentials), (400, 401))
    assert stored_events(services) == before
    assert client.simulate_get('/api/0/organizations/acme/', headers=basic(install.api_key)).status_code == 200
