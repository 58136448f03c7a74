"""The real sentry-cli against a live server: the release workflow CI runs on every
deploy (3.x at organization level, 2.x at project level), checked through the API."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import DATABASES, LiveServer, module_database_url

pytestmark = pytest.mark.shared_database

SENTRY_CLI_3 = Path(sys.executable).parent / 'sentry-cli'
REMOTE = 'https://github.com/acme/web.git'


@pytest.fixture(scope='module', params=DATABASES)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One server per database for the whole module (the tests use distinct versions)."""
    url = module_database_url(request, tmp_path_factory, 'cli-releases')
    server = LiveServer(url)
    server.credentials = server.bootstrap()
    server.start()
    yield server
    server.stop()


def cli(live: LiveServer, home: Path, *args: str, binary: Path = SENTRY_CLI_3,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """sentry-cli with a clean environment (no SENTRY_* but these), which must exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('SENTRY_')}
    env.update({'HOME': str(home), 'SENTRY_URL': live.url, 'SENTRY_AUTH_TOKEN': live.credentials['auth_token'],
                'SENTRY_ORG': 'acme', 'SENTRY_PROJECT': 'web'})
    result = subprocess.run([str(binary), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f'sentry-cli {" ".join(args)} failed:\n{result.stdout}\n{result.stderr}'
    return result


def api(live: LiveServer, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, f'{live.url}/api/0/{path}', timeout=30,
                            headers={'Authorization': f'Bearer {live.credentials["auth_token"]}'}, **kwargs)


def release(live: LiveServer, version: str) -> dict:
    response = api(live, 'GET', f'organizations/acme/releases/{requests.utils.quote(version, safe="@")}/')
    assert response.status_code == 200, response.text
    return response.json()


def commits(live: LiveServer, version: str) -> list[str]:
    return [c['id'] for c in api(live, 'GET', f'organizations/acme/releases/{version}/commits/').json()]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, 'GIT_AUTHOR_NAME': 'Dev', 'GIT_AUTHOR_EMAIL': 'dev@example.com',
           'GIT_COMMITTER_NAME': 'Dev', 'GIT_COMMITTER_EMAIL': 'dev@example.com', 'HOME': str(repo.parent)}
    return subprocess.run(['git', *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, name: str) -> str:
    (repo / f'{name}.txt').write_text(name)
    git(repo, 'add', '.')
    git(repo, 'commit', '-q', '-m', f'add {name}')
    return git(repo, 'rev-parse', 'HEAD')


def test_release_lifecycle_with_sentry_cli_3(live, tmp_path):
    cli(live, tmp_path, 'releases', 'new', 'cli-1.0.0')
    made = release(live, 'cli-1.0.0')
    assert [p['slug'] for p in made['projects']] == ['web']
    assert made['dateStarted'] is not None and made['dateReleased'] is None

    cli(live, tmp_path, 'releases', 'new', 'cli-1.0.1', '--finalize', '--url', 'https://example.com/r')
    finalized_at_once = release(live, 'cli-1.0.1')
    assert finalized_at_once['dateReleased'] is not None and finalized_at_once['url'] == 'https://example.com/r'
    cli(live, tmp_path, 'releases', 'new', 'web@2.0.0+build.7 x')
    assert 'web@2.0.0+build.7 x' in cli(live, tmp_path, 'releases', 'info', 'web@2.0.0+build.7 x').stdout

    listed = cli(live, tmp_path, 'releases', 'list').stdout
    assert 'cli-1.0.0' in listed and 'cli-1.0.1' in listed
    assert 'cli-1.0.0' in cli(live, tmp_path, 'releases', 'info', 'cli-1.0.0').stdout
    cli(live, tmp_path, 'releases', 'finalize', 'cli-1.0.0')
    assert release(live, 'cli-1.0.0')['dateReleased'] is not None

    cli(live, tmp_path, 'releases', 'archive', 'cli-1.0.0')
    assert release(live, 'cli-1.0.0')['status'] == 'archived'
    cli(live, tmp_path, 'releases', 'restore', 'cli-1.0.0')
    assert release(live, 'cli-1.0.0')['status'] == 'open'

    cli(live, tmp_path, 'deploys', 'new', '-r', 'cli-1.0.0', '-e', 'production', '-n', 'Deploy 1', '-t', '30')
    deploys = api(live, 'GET', 'organizations/acme/releases/cli-1.0.0/deploys/').json()
    assert [(d['environment'], d['name']) for d in deploys] == [('production', 'Deploy 1')]
    assert deploys[0]['dateStarted'] < deploys[0]['dateFinished']
    assert 'production' in cli(live, tmp_path, 'deploys', 'list', '-r', 'cli-1.0.0').stdout
    assert release(live, 'cli-1.0.0')['deployCount'] == 1

    cli(live, tmp_path, 'releases', 'delete', 'cli-1.0.1')
    assert api(live, 'GET', 'organizations/acme/releases/cli-1.0.1/').status_code == 404
    assert 'Did nothing' in cli(live, tmp_path, 'releases', 'delete', 'cli-missing').stdout


def test_set_commits_in_every_mode(live, tmp_path):
    created = api(live, 'POST', 'organizations/acme/repos/', json={
        'name': 'acme/web', 'provider': 'github', 'url': 'https://github.com/acme/web'})
    assert created.status_code == 201, created.text
    repo = tmp_path / 'checkout'
    repo.mkdir()
    git(repo, 'init', '-q')
    git(repo, 'remote', 'add', 'origin', REMOTE)
    shas = [commit(repo, name) for name in ('one', 'two', 'three')]

    # --local: every commit, filed (as sentry-cli does) under the remote's name.
    cli(live, tmp_path, 'releases', 'new', 'sc-1')
    cli(live, tmp_path, 'releases', 'set-commits', 'sc-1', '--local', cwd=repo)
    first = release(live, 'sc-1')
    assert first['commitCount'] == 3 and first['lastCommit']['id'] == shas[2]
    assert first['lastCommit']['repository']['name'] == 'origin'
    assert [a['email'] for a in first['authors']] == ['dev@example.com']
    assert commits(live, 'sc-1') == shas[::-1]

    # --local again on a later release: only what came after the previous release's last commit.
    shas += [commit(repo, name) for name in ('four', 'five')]
    cli(live, tmp_path, 'releases', 'new', 'sc-2')
    cli(live, tmp_path, 'releases', 'set-commits', 'sc-2', '--local', cwd=repo)
    assert commits(live, 'sc-2') == [shas[4], shas[3]]

    # --commit REPO@A..B and REPO@SHA resolve against the commits the server knows.
    cli(live, tmp_path, 'releases', 'set-commits', 'sc-3', '--commit', f'acme/web@{shas[0]}..{shas[4]}', cwd=repo)
    assert commits(live, 'sc-3') == [shas[4], shas[3], shas[2], shas[1]]
    cli(live, tmp_path, 'releases', 'set-commits', 'sc-4', '--commit', f'acme/web@{shas[1]}', cwd=repo)
    assert commits(live, 'sc-4') == [shas[1]]

    # --auto: the repository whose url matches the checkout's remote, at HEAD.
    shas.append(commit(repo, 'six'))
    cli(live, tmp_path, 'releases', 'set-commits', 'sc-5', '--auto', cwd=repo)
    auto = release(live, 'sc-5')
    assert auto['commitCount'] == 1 and auto['lastCommit']['id'] == shas[5]

    cli(live, tmp_path, 'releases', 'set-commits', 'sc-5', '--clear', cwd=repo)
    cleared = release(live, 'sc-5')
    assert (cleared['commitCount'], cleared['lastCommit']) == (0, None)
    assert 'sc-3' in cli(live, tmp_path, 'releases', 'info', 'sc-3', '--show-commits').stdout


def test_project_level_paths_with_sentry_cli_2(live, tmp_path, sentry_cli_2):
    cli(live, tmp_path, 'releases', 'new', '-p', 'web', 'v2-1.0', binary=sentry_cli_2)
    assert [p['slug'] for p in release(live, 'v2-1.0')['projects']] == ['web']
    cli(live, tmp_path, 'releases', 'finalize', '-p', 'web', 'v2-1.0', binary=sentry_cli_2)
    assert release(live, 'v2-1.0')['dateReleased'] is not None
    assert 'v2-1.0' in cli(live, tmp_path, 'releases', 'info', '-p', 'web', 'v2-1.0', binary=sentry_cli_2).stdout
    cli(live, tmp_path, 'releases', 'delete', '-p', 'web', 'v2-1.0', binary=sentry_cli_2)
    assert api(live, 'GET', 'organizations/acme/releases/v2-1.0/').status_code == 404
