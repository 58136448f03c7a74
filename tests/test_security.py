"""Security promises, each checked against every endpoint the app serves: another
organization's credentials reach nothing, scopes hold per method, DSN keys stay
out of /api/0/, credentials are looked up by digest, passwords are slow-hashed,
the session cookie is guarded, secrets stay out of logs, errors and the audit
trail, and client-key rate limits hold across workers."""
from __future__ import annotations

import base64
import re
import string
import subprocess
import sys
import threading
import time
import uuid
from uuid import UUID

import orjson
import requests
from sqlalchemy import MetaData, event, inspect, select

from sentrail.commands.organizations import CreateApiKey
from sentrail.domain.actor import SYSTEM
from sentrail.domain.credentials import digest
from sentrail.http.app import ROUTE_FAMILIES
from sentrail.http.resource import allowed_methods
from sentrail.projections import accounts, organizations
from sentrail.seed import ensure_installation
from tests.conftest import LiveServer, basic, bearer
from tests.test_ingest_http import public_key, sentry_auth

WRITES = ('POST', 'PUT', 'DELETE')
PARAM = re.compile(r'{(\w+)}')
RELEASE = 'acme-release@1.0'
# Enough of every write body that validation passes and the access check decides.
INTRUDER_BODY = {
    'name': 'Intruder', 'slug': 'intruder', 'email': 'intruder@example.com', 'role': 'member',
    'version': 'intruder@1.0', 'projects': ['web'], 'environment': 'production', 'label': 'intruder',
    'scope_list': ['org:read'], 'scopes': ['org:read'], 'status': 'resolved', 'text': 'intruding',
    'url': 'https://example.com/intruder', 'isBookmarked': True, 'isActive': False,
}


# --- acme's world, and every route filled in with its real objects -------------------------------------

def stored_events(services) -> list[tuple]:
    """Every row of the event store, bytes and all, in order."""
    table = services.app.recorder.events_record_cls.__table__
    with services.app.recorder.datastore.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]


def build_world(client, services, install) -> dict:
    """A member, an API key, a repository, a release with a commit and a deploy, an
    event and its issue (and a note on it) in acme; returns the path parameters
    naming them, and the strings that must never leak to another organization."""
    owner = bearer(install.auth_token)

    def created(path: str, body: dict, status: int = 201) -> dict:
        response = client.simulate_post(path, json=body, headers=owner)
        assert response.status_code == status, (path, response.text)
        return response.json

    member = created('/api/0/organizations/acme/members/',
                     {'email': 'acme-dev@example.com', 'role': 'member', 'teams': ['web']})
    key = created('/api/0/organizations/acme/api-keys/', {'label': 'acme-ci'})
    repo = created('/api/0/organizations/acme/repos/',
                   {'name': 'acme/backend', 'url': 'https://github.com/acme/backend'})
    created('/api/0/organizations/acme/releases/',
            {'version': RELEASE, 'projects': ['web'], 'commits': [{'id': 'a' * 40, 'repository': 'acme/backend'}]})
    created(f'/api/0/organizations/acme/releases/{RELEASE}/deploys/', {'environment': 'production'})
    event_id = uuid.uuid4().hex
    stored = client.simulate_post(f'/api/{install.project_id}/store/', headers=sentry_auth(public_key(install)),
                                  json={'event_id': event_id, 'message': 'acme secret failure',
                                        'release': RELEASE, 'tags': {'browser': 'Firefox'}})
    assert stored.status_code == 200, stored.text
    services.runner.catch_up()
    issue = client.simulate_get('/api/0/projects/acme/web/issues/', headers=owner).json[0]['id']
    event_number = client.simulate_get('/api/0/projects/acme/web/events/', headers=owner).json[0]['id']
    note = created(f'/api/0/issues/{issue}/notes/', {'text': 'acme private note'})
    return {
        'params': {'org': 'acme', 'team': 'web', 'project': 'web', 'member': member['id'],
                   'user': install.user_id, 'api_key': key['id'], 'client_key': public_key(install),
                   'tag': 'browser', 'version': RELEASE, 'repo': repo['id'], 'issue': issue,
                   'event_id': event_id, 'event_number': event_number, 'note': note['id'],
                   'project_id': install.project_id},
        'markers': ['acme', install.email, 'acme-dev@example.com', RELEASE, 'acme/backend', 'acme secret failure',
                    'acme private note', key['key'], install.api_key, install.auth_token, public_key(install),
                    event_id],
    }


def api_routes(services) -> list[tuple[str, object]]:
    """Every management route (ingestion has its own auth and its own tests)."""
    return [(path, resource) for family in ROUTE_FAMILIES for path, resource in family.routes(services)
            if path.startswith('/api/0/')]


def fill(template: str, params: dict) -> str:
    """The template with acme's objects; where a name means two things, the
    path around it says which (Sentry's URLs reuse `{key}` and `{member}`)."""
    def value(match: re.Match) -> str:
        name, before = match.group(1), template[:match.start()]
        if name == 'org' and template.startswith('/api/0/projects/{org}/') and '{project}' not in template:
            return params['project_id']  # the overview's numeric project id
        if name == 'event_id' and before == '/api/0/events/':
            return params['event_number']  # Sentry's legacy endpoint takes the stored event's id
        if name == 'member' and before.endswith('/users/'):
            return params['user']
        if name == 'key':
            return params['api_key' if before.endswith('/api-keys/') else
                          'client_key' if before.endswith('/keys/') else 'tag']
        if name not in params:
            raise KeyError(f'no acme object for {{{name}}} in {template}: add one to build_world')
        return str(params[name])
    return PARAM.sub(value, template)


def methods_of(resource: object) -> list[str]:
    return [m for m in allowed_methods(resource) if m not in ('HEAD', 'OPTIONS')]


def call(client, method: str, path: str, headers: dict, body: dict | None = None, issue: str = ''):
    """One request; the issue lists' bulk PUT and DELETE name their issues in `id`."""
    query = f'id={issue}' if issue and path.endswith(('/issues/', '/groups/')) else ''
    return client.simulate_request(method, path, headers=headers, query_string=query,
                                   json=body if method in ('POST', 'PUT') else None)


def leaks(text: str, markers: list[str]) -> list[str]:
    return [marker for marker in markers if marker.lower() in text.lower()]


def has_id(value: object) -> bool:
    if isinstance(value, dict):
        return 'id' in value or any(has_id(v) for v in value.values())
    if isinstance(value, list):
        return any(has_id(v) for v in value)
    return False


# --- another organization ------------------------------------------------------------------------------

def test_another_organizations_key_and_token_reach_nothing_of_acme(client, services, install):
    world = build_world(client, services, install)
    other = ensure_installation(services, 'other', 'ot', 'op', email='other@example.com')
    before = stored_events(services)
    checked = 0
    for template, resource in api_routes(services):
        if getattr(resource, 'public', False):
            continue
        path = fill(template, world['params'])
        acme_route = PARAM.search(template) is not None
        for method in methods_of(resource):
            if not acme_route and method != 'GET':
                continue  # organizations/, projects/, api-tokens/: the caller's own things
            for credential in (basic(other.api_key), bearer(other.auth_token)):
                response = call(client, method, path, credential, INTRUDER_BODY, world['params']['issue'])
                where = (method, path, response.status_code, response.text[:300])
                if acme_route:
                    assert response.status_code in (403, 404), where
                    assert not has_id(response.json), where
                assert response.status_code < 500, where
                assert not leaks(response.text, world['markers']), where
                checked += 1
    assert checked > 150
    assert stored_events(services) == before


def test_scopes_hold_per_method(client, services, install):
    """For each write, a key holding only the read scopes that do not also allow
    that write (project:read for a PUT that takes project:write, say) may GET
    the resource and is refused the write."""
    world = build_world(client, services, install)
    with services.read() as conn:
        org_id = UUID(organizations.org_by_slug(conn, 'acme').id)
    cases = []
    for template, resource in api_routes(services):
        scopes = getattr(resource, 'scopes', {})
        if getattr(resource, 'public', False) or 'GET' not in scopes:
            continue
        for method in methods_of(resource):
            if method in WRITES and scopes.get(method):
                held = tuple(s for s in scopes['GET'] if s not in scopes[method])
                if held:
                    cases.append((fill(template, world['params']), resource, method, held))
    keys = {held: services.execute(CreateApiKey(organization_id=org_id, label='reader', scopes=list(held),
                                                actor=SYSTEM)).data['key'] for *_, held in cases}
    before = stored_events(services)
    for path, resource, method, held in cases:
        key = basic(keys[held])
        if hasattr(resource, 'on_get'):
            assert client.simulate_get(path, headers=key).status_code == 200, (path, held)
        response = call(client, method, path, key, INTRUDER_BODY, world['params']['issue'])
        assert response.status_code == 403, (method, path, held, response.text)
        assert response.json == {'detail': 'You do not have permission to perform this action.'}
    assert len(cases) > 40
    assert stored_events(services) == before


def test_dsn_keys_cannot_call_the_management_api(client, services, install):
    world = build_world(client, services, install)
    public = public_key(install)
    before = stored_events(services)
    for template, resource in api_routes(services):
        path = fill(template, world['params'])
        for method in methods_of(resource):
            for kwargs in ({'headers': sentry_auth(public)}, {'params': {'sentry_key': public}}):
                response = client.simulate_request(method, path, **kwargs)
                where = (method, path, kwargs, response.text[:200])
                if getattr(resource, 'public', False):
                    assert response.status_code in (200, 204, 400, 401), where  # anonymous, as without it
                    assert response.status_code != 200 or response.json.get('auth') is None, where
                else:
                    assert response.status_code == 401, where
    assert stored_events(services) == before


# --- credentials at rest and in comparison -------------------------------------------------------------

def test_keys_and_tokens_are_found_by_digest_and_a_near_miss_is_refused(client, services, install):
    tables = MetaData()
    tables.reflect(services.reader, only=['api_keys', 'api_tokens'])
    for name, column in (('api_keys', 'key_hash'), ('api_tokens', 'token_hash')):
        unique = {tuple(c.name for c in index.columns) for index in tables.tables[name].indexes if index.unique}
        unique |= {tuple(c.name for c in constraint.columns) for constraint in tables.tables[name].constraints
                   if constraint.__class__.__name__ == 'UniqueConstraint'}
        assert (column,) in unique, (name, unique)
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append((statement, parameters))

    event.listen(services.reader, 'before_cursor_execute', record)
    try:
        for secret, header in ((install.api_key, basic), (install.auth_token, bearer)):
            statements.clear()
            assert client.simulate_get('/api/0/organizations/acme/', headers=header(secret)).status_code == 200
            lookups = [(s, p) for s, p in statements if 'api_keys' in s or 'api_tokens' in s]
            assert lookups, statements
            assert any(digest(secret) in str(p) and ('key_hash' in s or 'token_hash' in s) for s, p in lookups)
            assert not any(secret in str(p) for _, p in statements), 'a secret was sent to the database'
    finally:
        event.remove(services.reader, 'before_cursor_execute', record)
    for secret, header in ((install.api_key, basic), (install.auth_token, bearer)):
        last = secret[-1]
        other = next(c for c in string.hexdigits.lower() + string.ascii_letters if c != last)
        for near in (secret[:-1] + other, secret[:-1], secret + last, secret.upper()):
            if near == secret:
                continue
            response = client.simulate_get('/api/0/organizations/acme/', headers=header(near))
            assert response.status_code == 401, (near, response.text)


def dump_everything(services) -> bytes:
    """The event store and every table of the database, raw, as bytes to search."""
    chunks = []
    with services.writer.connect() as conn:
        for name in inspect(conn).get_table_names():
            for row in conn.exec_driver_sql(f'SELECT * FROM "{name}"'):
                for value in row:
                    chunks.append(value if isinstance(value, bytes) else
                                  bytes(value) if isinstance(value, memoryview) else str(value).encode())
    return b'\n'.join(chunks)


def test_passwords_are_scrypt_hashed_and_never_stored_in_the_clear(client, services, install):
    changed = client.simulate_put('/api/0/users/me/', headers=bearer(install.auth_token), json={
        'password': 'secret-pw', 'passwordNew': 'Correct-Horse-42', 'passwordVerify': 'Correct-Horse-42'})
    assert changed.status_code == 200, changed.text
    login = client.simulate_post('/api/0/auth/', json={'username': 'owner@example.com', 'password': 'Correct-Horse-42'})
    assert login.status_code == 200
    refused = client.simulate_post('/api/0/auth/', json={'username': 'owner@example.com', 'password': 'secret-pw'})
    assert refused.status_code == 401
    everything = dump_everything(services)
    for password in (b'secret-pw', b'Correct-Horse-42'):
        assert password not in everything
        assert base64.b64encode(password) not in everything
    with services.read() as conn:
        stored = accounts.user_by_email(conn, 'owner@example.com').password_hash
    kind, n, r, p, salt, hashed = stored.split('$')
    assert kind == 'scrypt' and int(n) >= 2 ** 14 and int(r) >= 8 and len(bytes.fromhex(salt)) >= 16
    assert len(bytes.fromhex(hashed)) >= 32
    assert login.cookies['sentrailsession'].value.encode() not in everything  # only its digest is kept


# --- the session cookie --------------------------------------------------------------------------------

def log_in(client, email: str = 'owner@example.com', password: str = 'secret-pw') -> dict:
    response = client.simulate_post('/api/0/auth/', json={'username': email, 'password': password})
    assert response.status_code == 200, response.text
    return {name: cookie.value for name, cookie in response.cookies.items()}


def test_every_unsafe_method_needs_the_sessions_own_csrf_token(client, services, install):
    """test_http_core checks HttpOnly, SameSite and POST; here PUT and DELETE too,
    a token of another session, a garbled one, and the Secure flag behind https."""
    world = build_world(client, services, install)
    cookies = log_in(client)
    stranger = log_in(client)
    writes = [
        ('PUT', '/api/0/organizations/acme/', {'name': 'Acme By Session'}, 200),
        ('POST', '/api/0/organizations/acme/teams/', {'name': 'Session Team'}, 201),
        ('DELETE', f'/api/0/organizations/acme/members/{world["params"]["member"]}/', None, 204),
    ]
    before = stored_events(services)
    for method, path, body, _ in writes:
        for token in (None, '', stranger['sentrailcsrf'], cookies['sentrailcsrf'][:-1], 'é' * 8, '\x00'):
            headers = {} if token is None else {'X-CSRFToken': token}
            response = client.simulate_request(method, path, json=body, cookies=cookies, headers=headers)
            assert response.status_code == 403, (method, path, token, response.text)
            assert response.json == {'detail': 'CSRF Failed: CSRF token missing or incorrect.'}
    assert stored_events(services) == before
    for method, path, body, status in writes:
        response = client.simulate_request(method, path, json=body, cookies=cookies,
                                           headers={'X-CSRFToken': cookies['sentrailcsrf']})
        assert response.status_code == status, (method, path, response.text)
    from falcon import testing

    from sentrail.http.app import create_app
    from sentrail.services import Services
    secure = Services(services.config.with_(url_prefix='https://sentry.example.com'))
    try:
        answer = testing.TestClient(create_app(services=secure)).simulate_post(
            '/api/0/auth/', json={'username': 'owner@example.com', 'password': 'secret-pw'})
        session = answer.cookies['sentrailsession']
        assert session.secure and session.http_only and session.same_site == 'Lax'
        assert answer.cookies['sentrailcsrf'].secure
    finally:
        secure.close()


# --- secrets in logs, error bodies and audit entries; rate limits under load ---------------------------

class Captured:
    """Drains a LiveServer's stderr (so a chatty server never blocks on a full pipe)."""

    def __init__(self, server: LiveServer) -> None:
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self._drain, args=(server.process.stderr,), daemon=True)
        self.thread.start()

    def _drain(self, stream) -> None:  # noqa: ANN001
        for line in iter(stream.readline, b''):
            self.chunks.append(line)

    def text(self) -> str:
        self.thread.join(10)
        return b''.join(self.chunks).decode(errors='replace')


def start(server: LiveServer) -> Captured:
    server.start()
    return Captured(server)


def test_secrets_stay_out_of_logs_errors_and_audit_and_rate_limits_hold_across_workers(database_url):
    server = LiveServer(database_url, workers=3)
    first_password = 'Initial-Passw0rd-1'
    credentials = orjson.loads(subprocess.run(
        [sys.executable, '-m', 'sentrail.cli', 'bootstrap', '--org', 'acme', '--team', 'web', '--project', 'web',
         '--password', first_password, '--json'], env=server.env, check=True, capture_output=True).stdout)
    captured = start(server)
    url, admin = server.url, basic(credentials['api_key'])
    secrets, bodies = [credentials['api_key'], credentials['auth_token'], first_password], []
    try:
        def answer(method: str, path: str, **kwargs) -> requests.Response:
            response = requests.request(method, url + path, timeout=30, **kwargs)
            if response.status_code >= 400:
                bodies.append(response.text)
            return response

        key = answer('POST', '/api/0/organizations/acme/api-keys/', headers=admin, json={'label': 'leaky'}).json()
        token = answer('POST', '/api/0/api-tokens/', headers=bearer(credentials['auth_token']),
                       json={'scopes': ['org:read']}).json()
        client_key = answer('POST', '/api/0/projects/acme/web/keys/', headers=admin, json={'name': 'limited'}).json()
        secrets += [key['key'], token['token'], client_key['secret']]
        user = answer('GET', '/api/0/users/me/', headers=bearer(credentials['auth_token'])).json()
        password = 'Sup3r-Secret-Passw0rd'
        assert answer('PUT', '/api/0/users/me/', headers=bearer(credentials['auth_token']), json={
            'password': first_password, 'passwordNew': password, 'passwordVerify': password}).status_code == 200
        secrets.append(password)
        login = answer('POST', '/api/0/auth/', json={'username': user['email'], 'password': password})
        assert login.status_code == 200, login.text
        secrets += [login.cookies['sentrailsession'], login.cookies['sentrailcsrf']]
        for wrong in (password[:-1], password + 'x'):
            refused = answer('POST', '/api/0/auth/', json={'username': user['email'], 'password': wrong})
            assert refused.status_code == 401
        near_misses = [key['key'][:-1] + 'x', token['token'][:-1] + 'x']
        assert answer('GET', '/api/0/', headers=basic(near_misses[0])).status_code == 401
        assert answer('GET', '/api/0/', headers=bearer(near_misses[1])).status_code == 401
        assert answer('POST', '/api/0/organizations/acme/teams/', headers=admin,
                      data=b'{"name": ' + password.encode()).status_code == 400
        assert answer('PUT', '/api/0/organizations/acme/', cookies=login.cookies.get_dict(),
                      json={'name': 'x'}).status_code == 403
        assert answer('POST', f'/api/{credentials["project"]["id"]}/store/',
                      headers=sentry_auth(client_key['public'], 'f' * 32), json={'message': 'x'}).status_code == 401
        audit = answer('GET', '/api/0/organizations/acme/audit-logs/', headers=admin)
        assert audit.status_code == 200 and len(audit.json()) >= 3
        # A fresh key: a worker caches a key it has seen for SENTRAIL_CLIENT_KEY_TTL (1 s).
        limited = answer('POST', '/api/0/projects/acme/web/keys/', headers=admin, json={'name': 'burst'}).json()
        accepted, limit = rate_limited_burst(url, admin, limited, credentials['project']['id'])
        assert accepted == limit
    finally:
        server.stop()
    logs = captured.text()
    replayed = subprocess.run([sys.executable, '-m', 'sentrail.cli', 'audit', 'replay', '--format', 'jsonl'],
                              env=server.env, capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    assert 'api-key' in replayed.stdout or 'apikey' in replayed.stdout
    assert 'Booting worker' in logs  # the capture works
    for name, text in (('server log', logs), ('error bodies', '\n'.join(bodies)), ('audit log', audit.text),
                       ('audit replay', replayed.stdout + replayed.stderr)):
        for secret in secrets + near_misses:
            assert secret not in text, f'a secret ({secret[:4]}...) appears in the {name}'


def rate_limited_burst(url: str, admin: dict, client_key: dict, project_id: str, limit: int = 40,
                       threads: int = 8, each: int = 15) -> tuple[int, int]:
    """Eight threads race 120 events through three workers at a key limited to
    `limit` per window; the shared counter must let exactly `limit` in."""
    window = 3600
    if time.time() % window > window - 20:
        time.sleep(window - time.time() % window + 0.5)  # keep the burst inside one window
    limited = requests.put(f'{url}/api/0/projects/acme/web/keys/{client_key["public"]}/', headers=admin,
                           json={'rateLimit': {'count': limit, 'window': window}}, timeout=30)
    assert limited.status_code == 200, limited.text
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        with requests.Session() as session:
            for _ in range(each):
                response = session.post(f'{url}/api/{project_id}/store/', headers=sentry_auth(client_key['public']),
                                        data=orjson.dumps({'message': 'burst'}), timeout=30)
                with lock:
                    statuses.append(response.status_code)

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert set(statuses) <= {200, 429}, statuses
    return statuses.count(200), limit
