"""Real Sentry clients against `sentrail serve` (gunicorn, two workers): sentry-sdk
with gzip and with brotli, raven over its synchronous HTTP transport, and
`sentry-cli send-event`. Each client runs in its own process so its global
state and transport threads stay there; right after its flush, every event
it sent must be found through the management API."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import LiveServer, basic, bearer

SENTRY_SDK = '''
import sys
import sentry_sdk

dsn, algo = sys.argv[1], sys.argv[2]
sentry_sdk.init(dsn=dsn, release='web@1.0.0', environment='test',
                _experiments={'transport_compression_algo': algo})
assert sentry_sdk.get_client().transport._compression_algo == algo
try:
    {}[f'missing-{algo}']
except KeyError as error:
    exception_id = sentry_sdk.capture_exception(error)
message_id = sentry_sdk.capture_message(f'hello from sentry-sdk over {algo}', level='warning')
sentry_sdk.flush(timeout=10)
print(exception_id, message_id)
'''

RAVEN = '''
import sys
import raven
from raven.transport.http import HTTPTransport

client = raven.Client(sys.argv[1], transport=HTTPTransport, raise_send_errors=True, release='web@0.9')
try:
    1 / 0
except ZeroDivisionError:
    exception_id = client.captureException()
message_id = client.captureMessage('hello from raven')
print(exception_id, message_id)
'''

FIND_TIMEOUT = 10.0


def run_client(server: LiveServer, script: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, '-c', script, *args], capture_output=True, text=True, timeout=60,
                          env={**server.env, 'PYTHONPATH': ''})
    assert done.returncode == 0, done.stderr[-3000:]
    return [event_id.replace('-', '') for event_id in done.stdout.split()]


def find_event(server: LiveServer, credentials: dict, event_id: str) -> dict:
    """The event through the management API, polled briefly: the read models
    follow ingestion in the background, not inside the client's request."""
    token = bearer(credentials['auth_token'])
    url = f'{server.url}/api/0/projects/{credentials["organization"]}/{credentials["project"]["slug"]}/events/{event_id}/'
    deadline = time.monotonic() + FIND_TIMEOUT
    while True:
        response = requests.get(url, headers=token, timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()
        time.sleep(0.05)


def issues(server: LiveServer, credentials: dict) -> list[dict]:
    url = f'{server.url}/api/0/projects/{credentials["organization"]}/{credentials["project"]["slug"]}/issues/'
    response = requests.get(url, params={'query': ''}, headers=bearer(credentials['auth_token']), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def assert_found(server: LiveServer, credentials: dict, expected: dict[str, str]) -> None:
    """`expected` maps event ids to text their title or message must contain."""
    found = {event_id: find_event(server, credentials, event_id) for event_id in expected}
    listed = {issue['id']: issue for issue in issues(server, credentials)}
    for event_id, text in expected.items():
        event = found[event_id]
        assert event['eventID'] == event_id
        assert text in event['title'] or text in event['message'], event['title']
        assert event['groupID'] in listed, (event['groupID'], list(listed))
        assert int(listed[event['groupID']]['count']) >= 1


def test_sentry_sdk_over_gzip_and_brotli(live_server):
    credentials = live_server.bootstrap()
    live_server.start()
    for algo in ('gzip', 'br'):
        exception_id, message_id = run_client(live_server, SENTRY_SDK, credentials['dsn'], algo)
        assert_found(live_server, credentials, {exception_id: f'missing-{algo}',
                                                message_id: f'hello from sentry-sdk over {algo}'})


def test_raven_and_sentry_cli(live_server, tmp_path):
    credentials = live_server.bootstrap()
    live_server.start()
    exception_id, message_id = run_client(live_server, RAVEN, credentials['dsn'])
    assert_found(live_server, credentials, {exception_id: 'division by zero', message_id: 'hello from raven'})

    cli = Path(sys.executable).with_name('sentry-cli')
    sent = subprocess.run([str(cli), 'send-event', '-m', 'hello from sentry-cli', '-t', 'via:cli'],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, 'SENTRY_DSN': credentials['dsn'], 'HOME': str(tmp_path)})
    assert sent.returncode == 0, sent.stderr
    event_id = re.search(r'[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}',
                         sent.stdout + sent.stderr).group(0).replace('-', '')
    assert_found(live_server, credentials, {event_id: 'hello from sentry-cli'})


def test_rate_limit_holds_across_workers(live_server):
    credentials = live_server.bootstrap()
    live_server.start()
    org, project = credentials['organization'], credentials['project']['slug']
    keys_url = f'{live_server.url}/api/0/projects/{org}/{project}/keys/'
    key = requests.post(keys_url, json={'name': 'limited'}, headers=basic(credentials['api_key']), timeout=10).json()
    changed = requests.put(f'{keys_url}{key["public"]}/', json={'rateLimit': {'count': 5, 'window': 3600}},
                           headers=basic(credentials['api_key']), timeout=10)
    assert changed.status_code == 200, changed.text
    store = f'{live_server.url}/api/{credentials["project"]["id"]}/store/'
    auth = {'X-Sentry-Auth': f'Sentry sentry_key={key["public"]}, sentry_version=7'}
    statuses = [requests.post(store, data=f'{{"message": "limited {n}"}}', headers=auth, timeout=10).status_code
                for n in range(14)]  # a fresh connection each time: the two workers take turns
    assert statuses == [200] * 5 + [429] * 9
