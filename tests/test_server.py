"""The newcomer's path end to end: bootstrap, `sentrail serve` under gunicorn with
two workers, read-your-writes across them, and the first-start install."""
from __future__ import annotations

import subprocess
import sys
import time

import requests

from tests.conftest import LiveServer, basic, bearer


def test_bootstrap_twice_creates_nothing_new_but_credentials(database_url):
    server = LiveServer(database_url)
    first, second = server.bootstrap(), server.bootstrap()
    assert first['organization'] == second['organization'] == 'acme'
    assert first['project'] == second['project']
    assert first['project']['id'].isdigit()
    assert first['dsn'] == second['dsn']
    assert first['dsn'].startswith('http://') and first['dsn'].endswith('/' + first['project']['id'])
    assert len(first['api_key']) == 32 and first['api_key'] != second['api_key']
    assert first['auth_token'] != second['auth_token']
    assert first['user'] == second['user']


def test_writes_are_visible_at_once_on_any_worker(live_server):
    credentials = live_server.bootstrap()
    live_server.start()
    token = bearer(credentials['auth_token'])
    for n in range(15):
        created = requests.post(live_server.url + '/api/0/organizations/', json={'name': f'Org {n}'},
                                headers=token, timeout=10)
        assert created.status_code == 201, created.text
        slug = created.json()['slug']
        for _ in range(3):  # fresh connections: each may land on the other worker
            seen = requests.get(f'{live_server.url}/api/0/organizations/{slug}/', headers=token, timeout=10)
            assert seen.status_code == 200, seen.text
            assert seen.json()['id'] == created.json()['id']
    listed = requests.get(live_server.url + '/api/0/organizations/', headers=token, timeout=10).json()
    assert {o['slug'] for o in listed} >= {f'org-{n}' for n in range(15)}


def test_api_key_over_http_basic_answers_the_root(live_server):
    credentials = live_server.bootstrap()
    live_server.start()
    response = requests.get(live_server.url + '/api/0/', headers=basic(credentials['api_key']), timeout=10)
    assert response.status_code == 200
    assert response.json()['version'] == '0'
    assert 'project:read' in response.json()['auth']['scopes']


def test_first_start_creates_the_install_and_prints_credentials(database_url):
    server = LiveServer(database_url)
    process = subprocess.Popen([sys.executable, '-m', 'sentrail.cli', 'serve', '--port', str(server.port),
                                '--workers', '1'], env=server.env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    server.process = process
    try:
        printed = {}
        deadline = time.monotonic() + 30
        while 'DSN' not in printed and time.monotonic() < deadline:
            line = process.stdout.readline()
            name, _, value = line.strip().partition(':')
            printed[name.strip().replace('auth token', 'token').replace('api key', 'key').upper()] = value.strip()
        key = printed['KEY']
        assert printed['DSN'].endswith('/1')
        for _ in range(100):
            try:
                response = requests.get(server.url + '/api/0/organizations/', headers=basic(key), timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert [o['slug'] for o in response.json()] == ['sentry']
    finally:
        server.stop()
