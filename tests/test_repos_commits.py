"""Repositories and a release's commits: uploads, refs resolved against the commits a
repository is known to have, the previous release with commits, and clearing."""
from __future__ import annotations

from tests.conftest import bearer
from tests.support.paging import walk
from tests.test_releases import RELEASES, add_team_project
from tests.test_teams import key_with, member_token, other_credentials

REPOS = '/api/0/organizations/acme/repos/'
SHAS = [f'{n:x}' * 40 for n in range(1, 8)]  # SHAS[0] is the oldest commit


def upload(client, headers: dict, version: str, shas: list[str], repository: str | None = 'acme/web',
           **extra: object) -> dict:
    """PUT the commits (newest first, as sentry-cli sends them) on a new release."""
    client.simulate_post(RELEASES, headers=headers, json={'version': version, 'projects': ['web']})
    commits = [{'id': sha, 'repository': repository, 'message': f'commit {sha[0]}\n', 'author_name': 'Dev',
                'author_email': 'dev@example.com', 'timestamp': '2026-11-27T07:23:09Z',
                'patch_set': [{'path': 'a.txt', 'type': 'M'}]} for sha in reversed(shas)]
    response = client.simulate_put(RELEASES + version + '/', headers=headers, json={'commits': commits, **extra})
    assert response.status_code == 200, response.text
    return response.json


def refs(client, headers: dict, version: str, *items: dict) -> dict:
    client.simulate_post(RELEASES, headers=headers, json={'version': version, 'projects': ['web']})
    response = client.simulate_put(RELEASES + version + '/', headers=headers, json={'refs': list(items)})
    assert response.status_code == 200, response.text
    return response.json


def commit_ids(client, headers: dict, version: str) -> list[str]:
    response = client.simulate_get(RELEASES + version + '/commits/', headers=headers)
    assert response.status_code == 200, response.text
    return [c['id'] for c in response.json]


def test_repositories_list_create_delete(client, services, install):
    owner = bearer(install.auth_token)
    created = client.simulate_post(REPOS, headers=owner, json={
        'name': 'acme/web', 'provider': 'github', 'url': 'https://github.com/acme/web'})
    assert created.status_code == 201
    assert created.json == {'id': created.json['id'], 'name': 'acme/web', 'url': 'https://github.com/acme/web',
                            'provider': {'id': 'github', 'name': 'GitHub'}, 'status': 'active',
                            'dateCreated': created.json['dateCreated'], 'integrationId': None,
                            'externalSlug': None}
    plain = client.simulate_post(REPOS, headers=owner, json={'name': 'Zeta/tools'})
    assert plain.json['provider'] == {'id': 'unknown', 'name': 'Unknown Provider'} and plain.json['url'] is None
    client.simulate_post(REPOS, headers=owner, json={'name': 'acme/api', 'provider': 'integrations:github'})

    head = services.runner.head()
    taken = client.simulate_post(REPOS, headers=owner, json={'name': 'acme/web'})
    assert (taken.status_code, taken.json) == (409, {'detail': 'A repository with that name already exists'})
    for body, field in (({}, 'name'), ({'name': 'x', 'provider': 'svn'}, 'provider'),
                        ({'name': 'x', 'url': 'ftp:/nohost'}, 'url'), ({'name': 'x' * 201}, 'name')):
        refused = client.simulate_post(REPOS, headers=owner, json=body)
        assert refused.status_code == 400 and list(refused.json) == [field], body
    assert services.runner.head() == head

    # Ordered by name (whatever its case), walked a page at a time as sentry-cli does.
    pages = []
    cursor = ''
    while True:
        response = client.simulate_get(REPOS, params={'per_page': '2', 'cursor': cursor}, headers=owner)
        pages.append([r['name'] for r in response.json])
        link = response.headers['Link']
        cursor = link.rsplit('cursor="', 1)[1].rstrip('"')
        if 'rel="next"; results="true"' not in link:
            break
    assert pages == [['acme/api', 'acme/web'], ['Zeta/tools']]

    repo_id = created.json['id']
    assert client.simulate_get(REPOS + repo_id + '/', headers=owner).json['name'] == 'acme/web'
    assert client.simulate_get(REPOS + '999/', headers=owner).status_code == 404
    assert client.simulate_delete(REPOS + repo_id + '/', headers=key_with(services, 'org:write')).status_code == 403
    deleted = client.simulate_delete(REPOS + repo_id + '/', headers=owner)
    assert (deleted.status_code, deleted.json['status']) == (202, 'pending_deletion')
    assert [r['name'] for r in client.simulate_get(REPOS, headers=owner).json] == ['acme/api', 'Zeta/tools']
    assert [r['name'] for r in client.simulate_get(REPOS, params={'status': 'deleted'}, headers=owner).json] == [
        'acme/web']
    again = client.simulate_post(REPOS, headers=owner, json={'name': 'acme/web', 'provider': 'git',
                                                              'url': 'git@github.com:acme/web.git'})
    assert again.status_code == 201 and again.json['status'] == 'active'
    assert again.json['provider'] == {'id': 'git', 'name': 'Git'}

    reader = key_with(services, 'org:read')
    assert len(client.simulate_get(REPOS, headers=reader).json) == 3
    assert client.simulate_post(REPOS, headers=reader, json={'name': 'x'}).status_code == 403
    for headers in other_credentials(services):
        for method, path, body in (('GET', REPOS, None), ('POST', REPOS, {'name': 'evil'}),
                                   ('GET', REPOS + repo_id + '/', None), ('DELETE', REPOS + repo_id + '/', None),
                                   ('GET', REPOS + repo_id + '/commits/', None)):
            response = client.simulate_request(method, path, headers=headers, json=body)
            assert response.status_code in (403, 404), (method, path)
            assert 'acme/' not in response.text


def test_uploaded_commits_make_repositories_authors_and_the_last_commit(client, services, install):
    owner = bearer(install.auth_token)
    member_token(services, 'dev@example.com', 'member', ['web'], open_membership=True)
    body = upload(client, owner, '1.0', SHAS[:3], repository='origin')
    assert body['commitCount'] == 3 and body['lastCommit']['id'] == SHAS[2]
    assert body['lastCommit']['message'] == 'commit 3\n'
    assert body['lastCommit']['dateCreated'] == '2026-11-27T07:23:09.000Z'
    assert body['lastCommit']['repository']['name'] == 'origin'
    assert body['lastCommit']['repository']['provider'] == {'id': 'unknown', 'name': 'Unknown Provider'}
    # dev@example.com is a member now: the author shows as that user.
    assert [a['email'] for a in body['authors']] == ['dev@example.com'] and 'username' in body['authors'][0]
    assert commit_ids(client, owner, '1.0') == [SHAS[2], SHAS[1], SHAS[0]]
    assert [r['name'] for r in client.simulate_get(REPOS, headers=owner).json] == ['origin']

    # No repository named: Sentry's per-organization default. Duplicates count once.
    anonymous = client.simulate_put(RELEASES + '1.0/', headers=owner, json={'commits': [
        {'id': 'abc', 'author_email': 'someone@example.org', 'author_name': 'Someone'}, {'id': 'abc'}]})
    assert anonymous.json['commitCount'] == 1
    assert anonymous.json['authors'] == [{'name': 'Someone', 'email': 'someone@example.org'}]
    assert anonymous.json['lastCommit']['repository']['name'].startswith('organization-')

    head = services.runner.head()
    for commits in ([{'id': 'x' * 65}], [{'id': 'a', 'patch_set': [{'path': 'f', 'type': 'X'}]}],
                    [{'id': 'a', 'timestamp': 'noon'}], 'not a list'):
        refused = client.simulate_put(RELEASES + '1.0/', headers=owner, json={'commits': commits})
        assert refused.status_code == 400 and list(refused.json) == ['commits'], commits
    assert services.runner.head() == head

    project_commits = client.simulate_get('/api/0/projects/acme/web/releases/1.0/commits/', headers=owner)
    assert [c['id'] for c in project_commits.json] == ['abc']
    paged = client.simulate_put(RELEASES + '1.0/', headers=owner, json={'commits': [
        {'id': sha, 'repository': 'origin'} for sha in reversed(SHAS)]})
    assert paged.json['commitCount'] == 7
    assert walk_ids(client, owner) == [list(reversed(SHAS))[:4], list(reversed(SHAS))[4:]]
    origin = next(r for r in client.simulate_get(REPOS, headers=owner).json if r['name'] == 'origin')
    known = client.simulate_get(REPOS + origin['id'] + '/commits/', headers=owner)
    assert [c['id'] for c in known.json] == list(reversed(SHAS))  # latest learnt first


def walk_ids(client, headers: dict) -> list[list[str]]:
    pages, cursor = [], ''
    while True:
        response = client.simulate_get(RELEASES + '1.0/commits/', params={'per_page': '4', 'cursor': cursor},
                                       headers=headers)
        pages.append([c['id'] for c in response.json])
        link = response.headers['Link']
        cursor = link.rsplit('cursor="', 1)[1].rstrip('"')
        if 'rel="next"; results="true"' not in link:
            return pages


def test_refs_resolve_against_known_commits(client, services, install):
    owner = bearer(install.auth_token)
    client.simulate_post(REPOS, headers=owner, json={'name': 'acme/web', 'provider': 'github',
                                                      'url': 'https://github.com/acme/web'})
    upload(client, owner, '1.0', SHAS[:5])  # the repository now knows commits 1..5

    # A range: the commits after A up to B, newest first.
    ranged = refs(client, owner, '2.0', {'repository': 'acme/web', 'commit': f'{SHAS[1]}..{SHAS[4]}'})
    assert ranged['commitCount'] == 3 and ranged['lastCommit']['id'] == SHAS[4]
    assert commit_ids(client, owner, '2.0') == [SHAS[4], SHAS[3], SHAS[2]]
    explicit = refs(client, owner, '2.1', {'repository': 'acme/web', 'commit': SHAS[3], 'previousCommit': SHAS[0]})
    assert commit_ids(client, owner, '2.1') == [SHAS[3], SHAS[2], SHAS[1]] and explicit['commitCount'] == 3

    # No previous commit: start at the head of the latest other release of the project (2.1: commit 4).
    refs(client, owner, '3.0', {'repository': 'acme/web', 'commit': SHAS[4], 'previousCommit': None})
    assert commit_ids(client, owner, '3.0') == [SHAS[4]]
    # A head never seen before stands alone, and is known from now on.
    refs(client, owner, '4.0', {'repository': 'acme/web', 'commit': SHAS[6]})
    assert commit_ids(client, owner, '4.0') == [SHAS[6]]
    refs(client, owner, '4.1', {'repository': 'acme/web', 'commit': f'{SHAS[4]}..{SHAS[6]}'})
    assert commit_ids(client, owner, '4.1') == [SHAS[6]]
    # History filed under another name (`--local` uses the remote's, `origin`) serves too.
    upload(client, owner, '4.5', SHAS[5:], repository='origin')
    refs(client, owner, '4.6', {'repository': 'acme/web', 'commit': f'{SHAS[5]}..{SHAS[6]}'})
    assert commit_ids(client, owner, '4.6') == [SHAS[6]]
    # The deprecated headCommits spelling still works.
    client.simulate_post(RELEASES, headers=owner, json={'version': '5.0', 'projects': ['web']})
    legacy = client.simulate_put(RELEASES + '5.0/', headers=owner, json={'headCommits': [
        {'repository': 'acme/web', 'currentId': SHAS[2], 'previousId': SHAS[0]}]})
    assert legacy.json['commitCount'] == 2

    # Refs on creation, and refs naming an unknown repository (which change nothing).
    created = client.simulate_post(RELEASES, headers=owner, json={
        'version': '6.0', 'projects': ['web'], 'refs': [{'repository': 'acme/web', 'commit': f'{SHAS[0]}..{SHAS[2]}'}]})
    assert created.status_code == 201 and created.json['commitCount'] == 2
    head = services.runner.head()
    for bad in ([{'repository': 'acme/other', 'commit': SHAS[0]}], [{'repository': 'acme/web', 'commit': 'a..'}],
                [{'repository': 'acme/web'}], [{'commit': SHAS[0]}], [{'repository': 'acme/web', 'commit': 'a' * 65}],
                [{'repository': 'acme/web', 'commit': 'a' * 65 + '..b'}]):
        refused = client.simulate_put(RELEASES + '6.0/', headers=owner, json={'refs': bad})
        assert refused.status_code == 400 and list(refused.json) == ['refs'], bad
    assert services.runner.head() == head
    assert commit_ids(client, owner, '6.0') == [SHAS[2], SHAS[1]]

    # `set-commits --clear` sends no refs at all: the release's commits go.
    cleared = client.simulate_put(RELEASES + '6.0/', headers=owner, json={'refs': []})
    assert (cleared.json['commitCount'], cleared.json['lastCommit'], cleared.json['authors']) == (0, None, [])
    assert commit_ids(client, owner, '6.0') == []

    # Refs were resolved against the history known at their place in the log: a rebuild agrees.
    versions = ('1.0', '2.0', '2.1', '3.0', '4.0', '4.1', '4.6', '5.0', '6.0')
    before = {v: commit_ids(client, owner, v) for v in versions}
    services.runner.rebuild(['releases'])
    assert {v: commit_ids(client, owner, v) for v in versions} == before


def test_previous_release_with_commits(client, services, install):
    owner = bearer(install.auth_token)
    add_team_project(services, 'ops', 'api')
    client.simulate_post(RELEASES, headers=owner, json={'version': '1.0', 'projects': ['web']})
    assert client.simulate_get(RELEASES + '1.0/previous-with-commits/', headers=owner).json == {}
    upload(client, owner, '1.0', SHAS[:3])
    # Another project's release with commits does not count.
    client.simulate_post(RELEASES, headers=owner, json={'version': 'api-1', 'projects': ['api']})
    client.simulate_put(RELEASES + 'api-1/', headers=owner, json={'commits': [{'id': SHAS[5]}]})
    client.simulate_post(RELEASES, headers=owner, json={'version': '2.0', 'projects': ['web']})

    previous = client.simulate_get(RELEASES + '2.0/previous-with-commits/', headers=owner)
    assert previous.status_code == 200
    assert previous.json['version'] == '1.0' and previous.json['lastCommit']['id'] == SHAS[2]
    # As in Sentry, a release with commits of its own is its own previous one.
    assert client.simulate_get(RELEASES + '1.0/previous-with-commits/', headers=owner).json['version'] == '1.0'
    assert client.simulate_get(RELEASES + 'nope/previous-with-commits/', headers=owner).status_code == 404
    member = member_token(services, 'dev@example.com', 'admin', ['ops'])
    assert client.simulate_get(RELEASES + '2.0/previous-with-commits/', headers=member).status_code == 404
    assert walk(client, RELEASES, owner, field='version') == [['2.0', 'api-1', '1.0']]
