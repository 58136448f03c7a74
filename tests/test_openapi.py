"""The OpenAPI document: it is valid OpenAPI 3.1, it describes every route and
method the app serves, and real answers match the shapes it declares (so a
serializer that drifts from its schema fails here). Oversized request heads
get JSON errors."""
from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import orjson
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from sentrail.http import schemas
from sentrail.http.resource import METHODS
from tests.conftest import basic, bearer
from tests.test_events_read import rich_event
from tests.test_ingest_http import public_key, sentry_auth

# Modules whose owner is rewriting them; their new responders may still lack declarations.
IN_FLUX = ('sentrail.http.resources.issues', 'sentrail.http.resources.notes')


def served_routes(app) -> dict[str, tuple[object, list[str]]]:
    """Every URI template falcon routes, with its resource and the methods it answers."""
    found = {}
    nodes = list(app._router._roots)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children)
        if node.resource is not None:
            methods = [m for m in METHODS if hasattr(node.resource, f'on_{m.lower()}')]
            if any('on_options' in vars(cls) for cls in type(node.resource).__mro__):
                methods.append('OPTIONS')  # answered by the resource itself, not falcon's default
            found[node.uri_template] = (node.resource, methods)
    return found


def refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value['$ref']} if isinstance(value.get('$ref'), str) else set()
        return found.union(*(refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(refs(v) for v in value))
    return set()


def test_document_describes_every_route_and_method(client):
    response = client.simulate_get('/api/0/openapi.json')
    assert response.status_code == 200 and response.headers['content-type'] == 'application/json'
    doc = response.json
    errors = [f'{e.instance_path}: {e}'[:300] for e in OPENAPI_31_VALIDATOR.iter_errors(doc)]
    assert errors == []
    assert doc['servers'] == [{'url': 'http://testserver'}]

    routes = served_routes(client.app)
    assert len(routes) > 60 and '/api/{project_id}/store/' in routes and '/api/0/openapi.json' in routes
    assert set(doc['paths']) == set(routes)
    undeclared = []
    for path, (resource, methods) in routes.items():
        item = doc['paths'][path]
        assert {m.upper() for m in item if m != 'parameters'} == set(methods), path
        assert [p['name'] for p in item.get('parameters', [])] == re.findall(r'{(\w+)}', path)
        for method in methods:
            op = item[method.lower()]
            assert op['summary'] and op['responses'], (path, method)
            assert any(code.startswith('2') for code in op['responses']), (path, method)
            if op.get('x-undeclared'):
                undeclared.append((type(resource).__module__, path, method))
    assert [u for u in undeclared if u[0] not in IN_FLUX] == []

    # Every reference resolves, every link names an operation, ids are unique.
    components = doc['components']['schemas']
    assert {r.rsplit('/', 1)[-1] for r in refs(doc)} <= set(components)
    ids = [op['operationId'] for item in doc['paths'].values() for m, op in item.items() if m != 'parameters']
    assert len(ids) == len(set(ids))
    linked = {link['operationId'] for item in doc['paths'].values() for m, op in item.items() if m != 'parameters'
              for answer in op['responses'].values() for link in answer.get('links', {}).values()}
    assert linked and linked <= set(ids)

    # What the reference promises about auth and a few operations.
    schemes = doc['components']['securitySchemes']
    assert schemes['apiKey'] == {**schemes['apiKey'], 'type': 'http', 'scheme': 'basic'}
    assert schemes['bearerToken']['scheme'] == 'bearer' and schemes['session']['in'] == 'cookie'
    assert (schemes['sentryAuth']['name'], schemes['sentryKey']['in']) == ('X-Sentry-Auth', 'query')
    store = doc['paths']['/api/{project_id}/store/']['post']
    assert store['security'] == [{'sentryAuth': []}, {'sentryKey': []}]
    orgs = doc['paths']['/api/0/organizations/']
    assert orgs['get']['responses']['200']['content']['application/json']['schema'] == {
        'type': 'array', 'items': {'$ref': '#/components/schemas/Organization'}}
    assert orgs['get']['responses']['200']['headers']['Link']['required'] is True
    assert {p['name'] for p in orgs['get']['parameters']} == {'member', 'query', 'cursor', 'per_page'}
    assert orgs['post']['requestBody']['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/OrganizationCreate'}
    assert {'201', '400', '401', '403', '405', '409', '413', '415'} <= set(orgs['post']['responses'])
    assert 'GetOrganizationsOrg' in orgs['post']['responses']['201']['links']
    assert doc['paths']['/api/0/']['get']['security'][0] == {}


class Checker:
    """Calls the app and validates each answer against what the document declares
    for its operation and status."""

    def __init__(self, client, doc: dict, headers: dict) -> None:
        self.client, self.doc, self.headers = client, doc, headers
        self.components = {'components': doc['components']}
        self.checked: set[tuple[str, str]] = set()

    def validator(self, schema: dict) -> jsonschema_rs.Validator:
        return jsonschema_rs.Draft202012Validator({**schema, **self.components}, validate_formats=True)

    def __call__(self, method: str, template: str, *, expect: int | None = None, json: Any = None,
                 params: dict | None = None, headers: dict | None = None, **path: str) -> Any:
        url = template.format(**path)
        response = self.client.simulate_request(method, url, json=json, params=params,
                                                headers={**self.headers, **(headers or {})})
        if expect is not None:
            assert response.status_code == expect, (method, url, response.text)
        answers = self.doc['paths'][template][method.lower()]['responses']
        answer = answers.get(str(response.status_code))
        assert answer is not None, f'{method} {url}: {response.status_code} is not declared'
        schema = answer.get('content', {}).get('application/json', {}).get('schema')
        if schema is None:
            assert response.content == b'', (method, url)
            return None
        assert response.headers['content-type'] == 'application/json'
        errors = [f'{e.instance_path}: {e.message}'[:400] for e in self.validator(schema).iter_errors(response.json)]
        assert errors == [], f'{method} {url} does not match its schema: {errors}'
        for header, spec in answer.get('headers', {}).items():
            assert not spec.get('required') or header in response.headers, (method, url, header)
        self.checked.add((method, template))
        return response.json


def test_real_answers_match_their_schemas(client, install):
    doc = client.simulate_get('/api/0/openapi.json').json
    call = Checker(client, doc, bearer(install.auth_token))
    org, proj = {'org': 'acme'}, {'org': 'acme', 'project': 'web'}
    p = '/api/0/projects/{org}/{project}/'

    # Ingestion first, so issues, events and tags exist.
    sent = rich_event()
    accepted = call('POST', '/api/{project_id}/store/', expect=200, json=sent, project_id=install.project_id,
                    headers=sentry_auth(public_key(install)))
    assert re.fullmatch(r'[0-9a-f]{32}', accepted['id'])

    call('GET', '/api/0/', expect=200)
    call('GET', '/api/0/', expect=200, headers={'Authorization': ''})
    call('GET', '/api/0/', expect=401, headers=bearer('0' * 64))
    call('GET', '/api/0/auth/', expect=200)
    call('GET', '/api/0/users/{member}/', expect=200, member='me')
    token = call('POST', '/api/0/api-tokens/', expect=201, json={'scopes': ['org:read']})
    call('GET', '/api/0/api-tokens/', expect=200)
    call('DELETE', '/api/0/api-tokens/', expect=204, json={'token': token['token']})

    call('POST', '/api/0/organizations/', expect=201, json={'name': 'Spare', 'slug': 'spare'})
    call('GET', '/api/0/organizations/', expect=200)
    call('GET', '/api/0/organizations/{org}/', expect=200, **org)
    call('PUT', '/api/0/organizations/{org}/', expect=200, json={'name': 'Acme Inc'}, **org)
    call('PUT', '/api/0/organizations/{org}/', expect=400, json={'projectRateLimit': 5}, **org)
    call('GET', '/api/0/organizations/{org}/', expect=404, org='nowhere')
    call('DELETE', '/api/0/organizations/{org}/', expect=204, org='spare')

    invited = call('POST', '/api/0/organizations/{org}/members/', expect=201,
                   json={'email': 'new@example.com', 'role': 'member', 'teams': ['web']}, **org)
    call('GET', '/api/0/organizations/{org}/members/', expect=200, **org)
    call('GET', '/api/0/organizations/{org}/members/{member}/', expect=200, member=invited['id'], **org)
    call('PUT', '/api/0/organizations/{org}/members/{member}/', expect=200, json={'role': 'admin'},
         member=invited['id'], **org)
    call('POST', '/api/0/organizations/{org}/members/{member}/teams/{team}/', expect=204, member='me', team='web',
         **org)
    call('DELETE', '/api/0/organizations/{org}/members/{member}/', expect=204, member=invited['id'], **org)

    key = call('POST', '/api/0/organizations/{org}/api-keys/', expect=201, json={'label': 'CI'}, **org)
    call('GET', '/api/0/organizations/{org}/api-keys/', expect=200, **org)
    call('PUT', '/api/0/organizations/{org}/api-keys/{key}/', expect=200, json={'allowed_origins': 'x.io'},
         key=key['id'], **org)
    call('GET', '/api/0/organizations/{org}/api-keys/{key}/', expect=404, key='99999', **org)

    call('POST', '/api/0/organizations/{org}/teams/', expect=201, json={'name': 'Ops'}, **org)
    call('POST', '/api/0/organizations/{org}/teams/', expect=409, json={'name': 'Ops'}, **org)
    call('GET', '/api/0/organizations/{org}/teams/', expect=200, **org)
    call('GET', '/api/0/teams/{org}/{team}/', expect=200, team='web', **org)
    call('PUT', '/api/0/teams/{org}/{team}/', expect=200, json={'name': 'Operations'}, team='ops', **org)
    call('POST', '/api/0/teams/{org}/{team}/projects/', expect=201, json={'name': 'API', 'platform': 'python'},
         team='ops', **org)
    call('GET', '/api/0/teams/{org}/{team}/projects/', expect=200, team='web', **org)
    call('GET', '/api/0/teams/{org}/{team}/members/', expect=200, team='web', **org)
    call('GET', '/api/0/teams/{org}/{team}/stats/', expect=200, team='web', **org)

    call('GET', '/api/0/projects/', expect=200)
    call('GET', '/api/0/organizations/{org}/projects/', expect=200, params={'statsPeriod': '24h'}, **org)
    call('GET', p, expect=200, **proj)
    call('GET', '/api/0/projects/{org}/', expect=200, org=str(install.project_id))
    call('PUT', p, expect=200, json={'isBookmarked': True, 'options': {'sentry:origins': 'a.io\nb.io'}}, **proj)
    call('GET', p + 'members/', expect=200, **proj)
    client_key = call('POST', p + 'keys/', expect=201, json={'name': 'Browser'}, **proj)
    call('GET', p + 'keys/', expect=200, **proj)
    call('PUT', p + 'keys/{key}/', expect=200, json={'rateLimit': {'count': 10, 'window': 60}},
         key=client_key['id'], **proj)
    call('DELETE', p + 'keys/{key}/', expect=204, key=client_key['id'], **proj)
    call('DELETE', p, expect=204, org='acme', project='api')

    commit = {'id': 'a' * 40, 'repository': 'acme/web', 'message': 'Fix', 'author_email': 'owner@example.com',
              'author_name': 'Owner', 'timestamp': '2024-01-02T03:04:05Z'}
    call('POST', '/api/0/organizations/{org}/repos/', expect=201,
         json={'name': 'acme/web', 'provider': 'git', 'url': 'https://git.example/acme/web'}, **org)
    repos = call('GET', '/api/0/organizations/{org}/repos/', expect=200, **org)
    call('POST', '/api/0/organizations/{org}/releases/', expect=201,
         json={'version': '3.0', 'projects': ['web'], 'commits': [commit]}, **org)
    call('POST', p + 'releases/', expect=208, json={'version': '3.0'}, **proj)
    call('POST', '/api/0/organizations/{org}/releases/{version}/deploys/', expect=201,
         json={'environment': 'prod'}, version='3.0', **org)
    call('POST', '/api/0/organizations/{org}/releases/', expect=201, json={'version': '3.1', 'projects': ['web']},
         **org)
    call('GET', '/api/0/organizations/{org}/releases/', expect=200, **org)
    call('GET', '/api/0/organizations/{org}/releases/{version}/', expect=200, version='3.0', **org)
    call('PUT', '/api/0/organizations/{org}/releases/{version}/', expect=200,
         json={'ref': 'main', 'url': 'https://ci.example/3.0'}, version='3.0', **org)
    call('GET', '/api/0/organizations/{org}/releases/{version}/commits/', expect=200, version='3.0', **org)
    call('GET', '/api/0/organizations/{org}/releases/{version}/previous-with-commits/', expect=200, version='3.1',
         **org)
    call('GET', '/api/0/organizations/{org}/releases/{version}/previous-with-commits/', expect=200, version='3.0',
         **org)
    call('GET', '/api/0/organizations/{org}/releases/{version}/deploys/', expect=200, version='3.0', **org)
    call('GET', p + 'releases/', expect=200, **proj)
    call('GET', p + 'releases/{version}/', expect=200, version='3.0', **proj)
    call('GET', p + 'releases/{version}/commits/', expect=200, version='3.0', **proj)
    call('DELETE', p + 'releases/{version}/', expect=204, version='3.1', **proj)
    call('GET', '/api/0/organizations/{org}/repos/{repo}/', expect=200, repo=repos[0]['id'], **org)
    call('GET', '/api/0/organizations/{org}/repos/{repo}/commits/', expect=200, repo=repos[0]['id'], **org)
    call('DELETE', '/api/0/organizations/{org}/repos/{repo}/', expect=202, repo=repos[0]['id'], **org)

    issues = call('GET', p + 'issues/', expect=200, **proj)
    issue = {'issue': issues[0]['id']}
    for alias in ('issues', 'groups'):
        call('GET', f'/api/0/{alias}/{{issue}}/', expect=200, **issue)
    call('GET', '/api/0/issues/{issue}/events/', expect=200, **issue)
    latest = call('GET', '/api/0/issues/{issue}/events/latest/', expect=200, **issue)
    call('GET', '/api/0/issues/{issue}/events/oldest/', expect=200, **issue)
    call('GET', '/api/0/events/{event_id}/', expect=200, event_id=latest['id'])
    call('GET', p + 'events/', expect=200, **proj)
    call('GET', p + 'events/{event_id}/', expect=200, event_id=accepted['id'], **proj)
    call('GET', '/api/0/issues/{issue}/hashes/', expect=200, **issue)
    call('GET', '/api/0/issues/{issue}/tags/', expect=200, **issue)
    call('GET', '/api/0/issues/{issue}/tags/{key}/', expect=200, key='user', **issue)
    call('GET', '/api/0/issues/{issue}/tags/{key}/values/', expect=200, key='user', **issue)
    call('GET', p + 'tags/', expect=200, **proj)
    call('GET', p + 'tags/{key}/values/', expect=200, key='user', **proj)
    call('GET', p + 'stats/', expect=200, **proj)
    call('GET', '/api/0/organizations/{org}/stats/', expect=200, params={'group': 'project'}, **org)
    call('GET', '/api/0/issues/{issue}/stats/', expect=200, params={'resolution': '1h'}, **issue)
    call('GET', '/api/0/issues/{issue}/stats/', expect=400, params={'resolution': '7m'}, **issue)
    call('GET', '/api/0/organizations/{org}/issues/', expect=200, **org)
    call('PUT', p + 'issues/', expect=200, params={'id': issue['issue']}, json={'isBookmarked': True}, **proj)
    call('PUT', '/api/0/issues/{issue}/', expect=200, json={'status': 'resolved'}, **issue)
    note = call('POST', '/api/0/issues/{issue}/notes/', expect=201, json={'text': 'Looking'}, **issue)
    call('POST', '/api/0/issues/{issue}/notes/', expect=400, json={'text': 'Looking'}, **issue)
    call('GET', '/api/0/issues/{issue}/notes/', expect=200, **issue)
    call('PUT', '/api/0/issues/{issue}/notes/{note}/', expect=200, json={'text': 'Fixed'}, note=note['id'], **issue)
    call('DELETE', '/api/0/issues/{issue}/notes/{note}/', expect=204, note=note['id'], **issue)
    call('GET', '/api/0/issues/{issue}/activity/', expect=200, **issue)
    call('GET', '/api/0/issues/{issue}/participants/', expect=200, **issue)
    call('DELETE', '/api/0/issues/{issue}/', expect=202, **issue)
    call('DELETE', p + 'issues/', expect=204, params={'id': issue['issue']}, **proj)
    call('GET', '/api/0/organizations/{org}/audit-logs/', expect=200, **org)

    as_key = Checker(client, doc, basic(install.api_key))
    as_key('GET', '/api/0/', expect=200)
    as_key('GET', '/api/0/organizations/{org}/', expect=200, **org)
    as_key('GET', '/api/0/api-tokens/', expect=403)
    assert len(call.checked | as_key.checked) > 65

    # The check can fail: a shape with a field missing, or one too many, is refused.
    organization = call('GET', '/api/0/organizations/', expect=200)[0]
    validator = call.validator(schemas.ref('Organization'))
    assert validator.is_valid(organization)
    assert not validator.is_valid({k: v for k, v in organization.items() if k != 'slug'})
    assert not validator.is_valid({**organization, 'surprise': 1})


@pytest.mark.parametrize('headers, params, status', [
    ({}, {'query': 'x' * 5000}, 414),
    ({'X-Padding': 'y' * 9000}, {}, 431),
])
def test_oversized_request_heads_get_json_errors(client, install, headers, params, status):
    response = client.simulate_get('/api/0/organizations/', params=params,
                                   headers={**bearer(install.auth_token), **headers})
    assert response.status_code == status
    assert response.headers['content-type'] == 'application/json'
    assert set(orjson.loads(response.content)) == {'detail'}


def test_generator_reads_declarations_and_never_drops_a_route():
    """No database: the generator over hand-made routes. A declared resource gets
    its parameters, body, answers and links; an undeclared one is still there."""
    from sentrail.http.openapi import Api, Link, Op, Param, created, document, ok

    class Widgets:
        """Widgets of a shop."""

        api = Api(get=Op(returns=ok(['Team']), paged=True, query=(Param('kind', {'type': 'string'}),)),
                  post=Op(body='TeamCreate', returns=created('Team'),
                          links=(Link('/api/0/widgets/{widget}/', {'widget': '$response.body#/slug'}),)))

        def on_get(self, req, resp): ...

        def on_post(self, req, resp): ...

    class Widget:
        def on_get(self, req, resp, widget): ...

        def on_delete(self, req, resp, widget):
            """Gone for good."""

    doc = document([('/api/0/widgets/', Widgets()), ('/api/0/widgets/{widget}/', Widget())], 'http://x/')
    assert doc['servers'] == [{'url': 'http://x'}]
    listing = doc['paths']['/api/0/widgets/']
    assert listing['get']['summary'] == 'Read widgets' and listing['get']['description'] == 'Widgets of a shop.'
    assert [p['name'] for p in listing['get']['parameters']] == ['kind', 'cursor', 'per_page']
    assert listing['post']['requestBody']['required'] is True
    assert set(listing['post']['responses']) == {'201', '400', '401', '403', '405', '409', '413', '414', '415',
                                                 '431'}
    links = listing['post']['responses']['201']['links']
    assert set(links) == {'GetWidgetsWidget', 'DeleteWidgetsWidget'}
    assert links['DeleteWidgetsWidget']['parameters'] == {'widget': '$response.body#/slug'}
    detail = doc['paths']['/api/0/widgets/{widget}/']
    assert detail['parameters'][0]['name'] == 'widget'
    assert detail['get']['x-undeclared'] is True and detail['delete']['description'] == 'Gone for good.'
    assert detail['get']['responses']['200']['content']['application/json']['schema'] == {}
    assert '404' in detail['delete']['responses'] and '200' in detail['delete']['responses']
