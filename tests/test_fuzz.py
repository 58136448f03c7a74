"""Schemathesis fuzzes a live `sentrail serve` (gunicorn, two workers) from the
server's own /api/0/openapi.json, authenticated with an all-scopes token:
generated and boundary inputs for every operation, then stateful sequences
along the document's links. No answer may be a 5xx, and none may break the
document (an undeclared status, a body off its schema, a wrong content type,
a declared header missing).

Path parameters are pinned to objects made beforehand, so requests reach the
code behind the lookups instead of stopping at 404; operations that rename or
delete are pinned to spare objects, so the rest keep theirs. The run is
bounded (a few examples per operation, a deterministic seed) to fit CI.
Oversized request heads over a real socket are here too: gunicorn and the
app both answer them in JSON.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, bearer
from tests.test_events_read import rich_event
from tests.test_ingest_http import sentry_auth

# CI's run is derandomized (the same inputs every time) and bounded; SENTRAIL_FUZZ_SEED (random
# inputs from that seed) and SENTRAIL_FUZZ_EXAMPLES make other, deeper runs by hand.
SEED = os.environ.get('SENTRAIL_FUZZ_SEED')
MAX_EXAMPLES = int(os.environ.get('SENTRAIL_FUZZ_EXAMPLES', '3'))
SHARDS = 2
# The coverage phase's systematic values: all of them on SQLite; on PostgreSQL the valid bodies of
# writes only, which are what reach its tables (invalid ones stop at validation, the same code on both).
COVERAGE_MODES = {'sqlite': 'all', 'postgresql': 'positive'}
COVERAGE_METHODS = {'sqlite': {'get', 'post', 'put', 'delete', 'options'}, 'postgresql': {'post', 'put'}}
STATEFUL_STEPS = 6
STATEFUL_SCENARIOS = 10
RUN_TIMEOUT = 300 + 60 * MAX_EXAMPLES
CHECKS = ('not_a_server_error', 'status_code_conformance', 'content_type_conformance',
          'response_schema_conformance', 'response_headers_conformance')
# Along links: what a create answered can be read at once (read-your-writes), and is gone once deleted.
STATEFUL_CHECKS = ('ensure_resource_availability', 'use_after_free')
# Operations left out, each with the bug that makes it fail; remove an entry once its bug is fixed.
KNOWN_BUGS: dict[str, str] = {}
# Other spellings of paths served by the same code (and the project-level twins of organization-level
# releases and issue lists): fuzzed, but not walked through every boundary again.
ALIAS = re.compile(r'^/api/0/groups/|/comments/|/projects/\{org\}/\{project\}/groups/'
                   r'|^/api/0/projects/\{org\}/(?!\{project\})[a-z]|^/api/0/organizations/\{org\}/issues/'
                   r'|^/api/0/projects/\{org\}/\{project\}/releases/')
TWINS = {('put', '/api/0/issues/{issue}/')}  # the bulk edit's parsing, for one issue
# Operations that rename or delete what the others need get spare objects.
SPARE = {
    ('PUT', '/api/0/organizations/{org}/'): {'org': 'spare'},
    ('DELETE', '/api/0/organizations/{org}/'): {'org': 'spare'},
    ('PUT', '/api/0/teams/{org}/{team}/'): {'team': 'spare'},
    ('DELETE', '/api/0/teams/{org}/{team}/'): {'team': 'spare'},
    ('PUT', '/api/0/projects/{org}/{project}/'): {'project': 'spare'},
    ('DELETE', '/api/0/projects/{org}/{project}/'): {'project': 'spare'},
    ('DELETE', '/api/0/organizations/{org}/releases/{version}/'): {'version': 'spare-1'},
    ('DELETE', '/api/0/projects/{org}/{project}/releases/{version}/'): {'version': 'spare-2'},
}


class Fixtures:
    """Objects the pinned path parameters name, made over HTTP as a client would."""

    def __init__(self, server: LiveServer, credentials: dict) -> None:
        self.url = server.url
        self.token = credentials['auth_token']
        self.public_key = credentials['dsn'].split('//')[1].split('@')[0]
        self.project_id = credentials['project']['id']
        self.values: dict[str, str] = {'org': 'acme', 'team': 'web', 'project': 'web', 'project_id': self.project_id,
                                       'version': '1.0'}

    def call(self, method: str, path: str, json_body: object = None, expect: int = 201, **kwargs) -> dict:
        response = requests.request(method, self.url + path, json=json_body, timeout=30,
                                    headers={**bearer(self.token), **kwargs.pop('headers', {})}, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else {}

    def make(self) -> None:
        # The pinned issue has the most events, so a fuzzed merge keeps it as the parent.
        events = [rich_event()] * 3 + [{'message': 'Spare issue', 'level': 'info'}]
        accepted = [self.call('POST', f'/api/{self.project_id}/store/', event, 200,
                              headers=sentry_auth(self.public_key))['id'] for event in events]
        self.values['client_event'] = accepted[0]
        issues = self.call('GET', '/api/0/projects/acme/web/issues/', expect=200, params={'sort': 'freq'})
        self.values['issue'], self.values['spare_issue'] = issues[0]['id'], issues[1]['id']
        self.values['event'] = self.call('GET', f'/api/0/issues/{issues[0]["id"]}/events/latest/', expect=200)['id']
        self.values['note'], self.values['spare_note'] = [
            self.call('POST', f'/api/0/issues/{issues[0]["id"]}/notes/', {'text': text})['id']
            for text in ('Looking into it', 'Spare')]
        self.values['member'], self.values['spare_member'] = [
            self.call('POST', '/api/0/organizations/acme/members/',
                      {'email': email, 'role': 'member', 'teams': ['web']})['id']
            for email in ('fuzz@example.com', 'spare@example.com')]
        self.values['spare_token'] = self.call('POST', '/api/0/api-tokens/', {'scopes': ['org:read']})['token']
        self.values['api_key'] = self.call('POST', '/api/0/organizations/acme/api-keys/', {'label': 'fuzz'})['id']
        self.values['client_key'] = self.call('POST', '/api/0/projects/acme/web/keys/', {'name': 'fuzz'})['id']
        self.call('POST', '/api/0/organizations/', {'name': 'Spare', 'slug': 'spare'})
        self.call('POST', '/api/0/organizations/acme/teams/', {'name': 'Spare', 'slug': 'spare'})
        spare = self.call('POST', '/api/0/teams/acme/spare/projects/', {'name': 'Spare', 'slug': 'spare'})
        self.values['spare_project_id'] = spare['id']
        repos = [self.call('POST', '/api/0/organizations/acme/repos/', {'name': name, 'provider': 'git'})['id']
                 for name in ('acme/web', 'acme/old')]
        self.values['repo'], self.values['spare_repo'] = repos
        commit = {'id': 'f' * 40, 'repository': 'acme/web', 'message': 'Fix', 'author_email': 'a@example.com'}
        for version in ('1.0', 'spare-1', 'spare-2'):
            self.call('POST', '/api/0/organizations/acme/releases/',
                      {'version': version, 'projects': ['web', 'spare'], 'commits': [commit]})
        self.call('POST', '/api/0/organizations/acme/releases/1.0/deploys/', {'environment': 'prod'})

    def path_values(self, method: str, path: str) -> dict[str, str]:
        """What each path parameter of this operation is pinned to."""
        values = dict(self.values)
        if path.startswith('/api/0/users/'):
            values['member'] = 'me'
        if '/api-keys/' in path:
            values['key'] = self.values['api_key']
        elif '/keys/' in path:
            values['key'] = self.values['client_key']
        elif '/tags/' in path:
            values['key'] = 'level'
        if path.startswith('/api/0/projects/{org}/') and '{project}' not in path:  # the overview's numeric id
            spare = path == '/api/0/projects/{org}/' and method in ('PUT', 'DELETE')
            values['org'] = self.values['spare_project_id'] if spare else self.project_id
        if path.startswith('/api/0/events/'):
            values['event_id'] = self.values['event']
        elif '/events/{event_id}/' in path:
            values['event_id'] = self.values['client_event']
        if method == 'DELETE' and '/repos/' in path:
            values['repo'] = self.values['spare_repo']
        if method == 'DELETE' and path == '/api/0/organizations/{org}/members/{member}/':
            values['member'] = self.values['spare_member']
        if method == 'DELETE' and '{note}' in path:
            values['note'] = self.values['spare_note']
        elif method == 'DELETE' and '{issue}' in path:
            values['issue'] = self.values['spare_issue']
        values.update(SPARE.get((method, path), {}))
        return {name: values[name] for name in re.findall(r'{(\w+)}', path)}


def toml_value(value: object) -> str:
    if isinstance(value, dict):
        return '{' + ', '.join(f'{json.dumps(k)} = {toml_value(v)}' for k, v in value.items()) + '}'
    return json.dumps(value)


def fuzz_config(fixtures: Fixtures, doc: dict, shard: int, db_kind: str) -> tuple[str, list[str], list[str]]:
    """schemathesis.toml for one shard of the run (every SHARDS-th operation), the
    operations it fuzzes, and those left out."""
    lines = [
        f'seed = {int(SEED or 0)}', 'workers = 1', 'request-timeout = 30', 'color = false',
        '[generation]', f'max-examples = {MAX_EXAMPLES}', f'deterministic = {"false" if SEED else "true"}',
        'database = "none"',
        '[phases.coverage]', 'unexpected-methods = []',
        '[phases.coverage.generation]', f'mode = "{COVERAGE_MODES[db_kind]}"',
        '[phases.stateful]', f'max-steps = {STATEFUL_STEPS}',
        '[phases.stateful.generation]', f'max-examples = {STATEFUL_SCENARIOS}',
        '[phases.stateful.checks]', *[f'{check}.enabled = true' for check in STATEFUL_CHECKS],
        '[checks]', 'enabled = false', *[f'{check}.enabled = true' for check in CHECKS],
        '[auth.openapi.bearerToken]', f'bearer = {json.dumps(fixtures.token)}',
        '[auth.openapi.sentryAuth]', f'api_key = "Sentry sentry_key={fixtures.public_key}, sentry_version=7"',
    ]
    fuzzed, skipped = [], []
    operations = [(path, method, op) for path, item in doc['paths'].items() for method, op in item.items()
                  if method != 'parameters']
    for index, (path, method, op) in enumerate(operations):
        entry = ['[[operations]]', f'include-operation-id = {json.dumps(op["operationId"])}']
        if op.get('x-undeclared') or op['operationId'] in KNOWN_BUGS or index % SHARDS != shard:
            if index % SHARDS == shard:
                skipped.append(op['operationId'])
            lines += [*entry, 'enabled = false']
            continue
        fuzzed.append(op['operationId'])
        pinned = {f'path.{k}': v for k, v in fixtures.path_values(method.upper(), path).items()}
        if method == 'delete' and any(p['name'] == 'id' for p in op.get('parameters', [])):
            pinned['query.id'] = fixtures.values['spare_issue']  # bulk delete: never the pinned issue
        if method == 'delete' and path == '/api/0/api-tokens/':
            pinned['body.token'] = fixtures.values['spare_token']  # never the token the fuzzer calls with
        settings = ([f'parameters = {toml_value(pinned)}'] if pinned else []) + \
            (['phases.coverage.enabled = false'] if ALIAS.search(path) or (method, path) in TWINS
             or method not in COVERAGE_METHODS[db_kind] else [])
        if settings:
            lines += [*entry, *settings]
    return '\n'.join(lines) + '\n', fuzzed, skipped


def start_shard(server: LiveServer, config: str, directory: Path) -> subprocess.Popen:
    directory.mkdir()
    (directory / 'schemathesis.toml').write_text(config)
    return subprocess.Popen(
        [sys.executable, '-m', 'schemathesis.cli', '--config-file', str(directory / 'schemathesis.toml'), 'run',
         server.url + '/api/0/openapi.json', '--phases', 'examples,coverage,fuzzing,stateful'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=directory,
    )


@pytest.fixture
def fuzz_server(database_url: str):
    """The server, its credentials, and its log: read as it comes, so a busy run never
    fills the pipe, and so a failure can show the server's tracebacks."""
    server = LiveServer(database_url, workers=2)
    credentials = server.bootstrap()
    server.start()
    log: list[bytes] = []
    threading.Thread(target=lambda: log.extend(server.process.stderr), daemon=True).start()
    yield server, credentials, log
    server.stop()


def tracebacks(log: list[bytes]) -> str:
    text = b''.join(log).decode(errors='replace')
    return '\n'.join(block for block in text.split('\n[') if 'Traceback' in block)[-15000:]


def test_fuzzing_finds_no_server_error_and_nothing_off_the_document(fuzz_server, db_kind: str, tmp_path: Path):
    server, credentials, log = fuzz_server
    fixtures = Fixtures(server, credentials)
    fixtures.make()
    doc = requests.get(server.url + '/api/0/openapi.json', timeout=30).json()
    configs = [fuzz_config(fixtures, doc, shard, db_kind) for shard in range(SHARDS)]
    # One schemathesis process per shard, side by side: their requests meet on the server, as clients' do.
    runs = [start_shard(server, config, tmp_path / f'shard-{n}') for n, (config, _, _) in enumerate(configs)]
    outputs = [run.communicate(timeout=RUN_TIMEOUT)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-20000:] + '\nServer tracebacks:\n' + tracebacks(log)
    fuzzed = [op for _, ops, _ in configs for op in ops]
    assert len(fuzzed) > 120, [op for _, _, ops in configs for op in ops]
    counts = [re.search(r'(\d+) generated, (\d+) passed', output) for output in outputs]
    assert all(c and c.group(1) == c.group(2) for c in counts), outputs
    assert sum(int(c.group(1)) for c in counts) > 1000
    # The server is still whole: the pinned objects answer.
    assert requests.get(f'{server.url}/api/0/projects/acme/web/', headers=bearer(fixtures.token),
                        timeout=10).status_code == 200


def raw_request(server: LiveServer, head: bytes) -> tuple[int, dict, bytes]:
    """Send a request head over a socket as it is; the status, headers and body."""
    with socket.create_connection(('127.0.0.1', server.port), timeout=10) as sock:
        sock.sendall(head)
        data = b''
        while chunk := sock.recv(65536):
            data += chunk
    head_part, _, body = data.partition(b'\r\n\r\n')
    status_line, *header_lines = head_part.decode('latin-1').split('\r\n')
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(':') for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_oversized_heads_get_json_errors_from_the_live_server(live_server):
    live_server.bootstrap()
    live_server.start()
    cases = [
        ('GET /api/0/', 4_000, 0, 200),
        ('GET /api/0/', 5_000, 0, 414),  # past the app's limit
        ('GET /api/0/', 9_000, 0, 414),  # past gunicorn's
        ('GET /api/0/', 0, 10_000, 431),  # past the app's limit
        ('GET /api/0/', 0, 20_000, 431),  # past gunicorn's
        ('POST /api/1/store/', 9_000, 0, 414),  # ingestion: gunicorn's limits only
    ]
    for request, line_length, header_length, status in cases:
        target = request + '?q=' + 'x' * line_length
        padding = f'X-Padding: {"y" * header_length}\r\n' if header_length else ''
        head = f'{target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{padding}Connection: close\r\n\r\n'.encode()
        code, headers, body = raw_request(live_server, head)
        assert code == status, (line_length, header_length, body[:300])
        assert headers['content-type'] == 'application/json'
        assert status == 200 or set(json.loads(body)) == {'detail'}
