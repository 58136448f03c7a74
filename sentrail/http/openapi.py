"""The OpenAPI 3.1 document of everything the app serves, generated from the routes.

Nothing here lists endpoints: the generator walks the routes the app mounts
(path templates and the `on_*` responders each resource has) and reads what
each resource class declares in its `api` attribute (an `Api`: per method the
query parameters, the body and the answers, by component name from
`sentrail.http.schemas`); descriptions are the responders' (or classes')
docstrings. A route nobody described still appears, with a generic answer, so
the document never silently lacks an endpoint; a test insists that the
described ones are all there is. Error answers are added by rule (what the
middleware and the error handlers can answer for such an operation).
"""
from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sentrail.http import schemas
from sentrail.http.auth import CSRF_HEADER, SESSION_COOKIE

METHODS = ('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS')
WRITES = frozenset({'POST', 'PUT', 'DELETE', 'PATCH'})
JSON = 'application/json'

# Who may call: an API credential (the default), anyone (with or without one), or a client key (ingestion).
API, ANYONE, CLIENT_KEY = 'api', 'anyone', 'client-key'
API_SECURITY = [{'apiKey': []}, {'bearerToken': []}, {'session': []}]


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    schema: dict
    description: str = ''
    repeated: bool = False


@dataclass(frozen=True)
class Link:
    """After a 2xx, the operations on `path` (all its methods, or `methods`) may
    follow with these parameters ($request.path.x, $response.body#/y): what the
    fuzzer's stateful phase chains, and what a reader learns about ids."""

    path: str
    parameters: dict[str, str]
    methods: tuple[str, ...] | None = None
    body: dict | None = None


@dataclass(frozen=True)
class Op:
    """One responder: `returns` maps each success status to a component name,
    a one-item list of one (an array of it), an inline schema, or None (no body)."""

    returns: dict[int, Any]
    query: tuple[Param, ...] = ()
    body: str | None = None
    body_types: tuple[str, ...] = (JSON,)
    paged: bool = False
    headers: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    summary: str | None = None
    errors: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Api:
    """What a resource class declares: an `Op` per method it implements, and what its
    path parameters mean where that differs from PATH_PARAMS."""

    get: Op | None = None
    post: Op | None = None
    put: Op | None = None
    delete: Op | None = None
    options: Op | None = None
    path: dict[str, str] = field(default_factory=dict)
    security: str = API
    tag: str | None = None

    def op(self, method: str) -> Op | None:
        return getattr(self, method.lower(), None)


# --- shared pieces of declarations -----------------------------------------------------------------------

def ok(schema: Any) -> dict[int, Any]:
    return {200: schema}


def created(schema: Any) -> dict[int, Any]:
    return {201: schema}


NO_CONTENT = {204: None}
CURSOR = Param('cursor', {'type': 'string'}, 'Pagination cursor `value:offset:is_prev`, from the Link header.')
PER_PAGE = Param('per_page', {'type': 'integer', 'minimum': 1, 'maximum': 100}, 'Page size (default 100).')
PAGED = (CURSOR, PER_PAGE)

PATH_PARAMS = {
    'org': "The organization's slug (in `projects/{org}/`, the overview's numeric project id).",
    'team': "The team's slug.",
    'project': "The project's slug.",
    'member': 'A member id (a user id under `users/`), or `me` for the caller.',
    'key': 'The key.',
    'version': "The release's version.",
    'repo': "The repository's id.",
    'issue': "The issue's numeric id.",
    'event_id': "The event's id.",
    'project_id': "The project's numeric id (the last part of a DSN).",
}

STANDARD_ERRORS = {
    400: 'Bad input: a JSON parse error, an invalid parameter, or field errors {"field": ["message"]}.',
    401: 'No credentials where some are needed, or bad ones.',
    403: 'Not allowed: a missing scope, another organization, or a failed CSRF check.',
    404: 'Unknown, or not visible to the caller.',
    405: 'The server is read-only (it serves a snapshot).',
    409: 'Conflict: the slug or name is taken, or a concurrent change won.',
    413: 'The body is too large.',
    414: 'The query string is too long.',
    415: 'The body is not JSON.',
    429: 'Rate limited; see Retry-After.',
    431: 'A header field is too large.',
    503: 'Not recorded in time; retry (an event id is stored once).',
}

PAGE_HEADERS = {
    'Link': 'Previous and next pages: `<url&cursor=C>; rel="previous|next"; results="true|false"; cursor="C"`.',
    'X-Hits': 'How many rows match, counted up to X-Max-Hits.',
    'X-Max-Hits': 'Where counting X-Hits stops.',
}


# --- the generator ------------------------------------------------------------------------------------------

def declared(resource: object) -> Api:
    return getattr(resource, 'api', None) or PENDING.get(type(resource).__name__) or Api()


def implemented(resource: object) -> list[str]:
    """The methods a resource answers: its `on_*` responders (HEAD is GET's alias and
    OPTIONS falcon's, unless the class answers OPTIONS itself)."""
    found = [m for m in METHODS if m != 'OPTIONS' and hasattr(resource, f'on_{m.lower()}')]
    if any('on_options' in vars(cls) for cls in type(resource).__mro__):
        found.append('OPTIONS')
    return found


def operation_id(path: str, method: str) -> str:
    words = [w for w in re.split(r'[/{}_-]+', path) if w and w not in ('api', '0')]
    return method.lower() + ''.join(w[:1].upper() + w[1:] for w in words)


def schema_of(spec: Any) -> dict | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return schemas.ref(spec)
    if isinstance(spec, list):
        return schemas.array(schema_of(spec[0]))
    return spec


VERBS = {'GET': 'Read', 'POST': 'Create', 'PUT': 'Update', 'DELETE': 'Delete', 'PATCH': 'Update',
         'OPTIONS': 'Preflight'}


def summary_of(resource: object, method: str, op: Op | None) -> tuple[str, str]:
    """The declared summary, else one made of the method and the class name (`Update
    organization`, `List organization teams`); the description is the responder's
    docstring, else the class's."""
    name = type(resource).__name__.removesuffix('Resource')
    words = re.sub(r'(?<!^)(?=[A-Z])', ' ', name.removesuffix('List')).lower()
    if name.endswith('List') and method == 'GET':
        made = f'List {words}s'
    else:
        made = f'{VERBS.get(method, method.title())} {words}'
    doc = inspect.getdoc(getattr(resource, f'on_{method.lower()}', None)) or inspect.getdoc(type(resource)) or ''
    return (op.summary if op is not None and op.summary else made), ' '.join(doc.split())


def path_parameters(path: str, api: Api) -> list[dict]:
    return [{'name': name, 'in': 'path', 'required': True, 'schema': {'type': 'string', 'minLength': 1},
             'description': api.path.get(name) or PATH_PARAMS.get(name, '')}
            for name in re.findall(r'{(\w+)}', path)]


def query_parameters(op: Op) -> list[dict]:
    params = op.query + (PAGED if op.paged and CURSOR not in op.query else ())
    found = []
    for param in params:
        schema = schemas.array(param.schema) if param.repeated else param.schema
        found.append({'name': param.name, 'in': 'query', 'required': False, 'schema': schema,
                      'description': param.description, **({'explode': True} if param.repeated else {})})
    return found


def error_codes(path: str, method: str, op: Op | None, api: Api) -> list[int]:
    codes = {400, 414, 431} | ({405} if method in WRITES else set())  # 414, 431: the app's or gunicorn's
    if api.security == CLIENT_KEY:
        return sorted(codes | {401, 403, 413, 429, 503})
    if path.startswith('/api/0/'):
        codes.add(401)  # bad credentials are refused even where none are needed
    if api.security == API or method in WRITES:
        codes.add(403)
    if '{' in path:
        codes.add(404)
    if op is not None and op.body:
        codes |= {413, 415}
    if method in WRITES and api.security == API:
        codes.add(409)
    return sorted(codes)


def responses(path: str, method: str, op: Op | None, api: Api, links: dict) -> dict:
    answers: dict[str, dict] = {}
    returns = op.returns if op is not None else {200: schemas.ANY}
    for status, spec in returns.items():
        answer: dict[str, Any] = {'description': 'Success.'}
        schema = schema_of(spec)
        if schema is not None:
            answer['content'] = {JSON: {'schema': schema}}
        headers = ([('Link', True)] if op is not None and op.paged else []) + \
            [(name, False) for name in (op.headers if op is not None else ())]
        if headers and status == 200:
            answer['headers'] = {name: {'required': required, 'schema': {'type': 'string'},
                                        'description': PAGE_HEADERS.get(name, '')} for name, required in headers}
        if links and 200 <= status < 300 and schema is not None:
            answer['links'] = links
        answers[str(status)] = answer
    overrides = op.errors if op is not None else {}
    for status in sorted(set(error_codes(path, method, op, api)) | set(overrides)):
        answers[str(status)] = {'description': STANDARD_ERRORS[status],
                                'content': {JSON: {'schema': schemas.ref(overrides.get(status, 'Error'))}}}
    return answers


def security(api: Api, method: str) -> list[dict]:
    if api.security == CLIENT_KEY:
        return [{'sentryAuth': []}, {'sentryKey': []}]
    if api.security == ANYONE:
        return [{}, *API_SECURITY]
    return API_SECURITY


def request_body(op: Op) -> dict:
    schema = schemas.SCHEMAS[op.body]
    return {'required': bool(schema.get('required')),
            'content': {media: {'schema': schemas.ref(op.body)} for media in op.body_types}}


def operation(path: str, method: str, resource: object, api: Api, links: dict) -> dict:
    op = api.op(method)
    summary, description = summary_of(resource, method, op)
    found: dict[str, Any] = {
        'operationId': operation_id(path, method),
        'summary': summary,
        'tags': [api.tag or type(resource).__module__.rsplit('.', 1)[-1]],
        'security': security(api, method),
    }
    if description:
        found['description'] = description
    if op is None:
        found['x-undeclared'] = True
    params = query_parameters(op) if op is not None else []
    if params:
        found['parameters'] = params
    if op is not None and op.body:
        found['requestBody'] = request_body(op)
    found['responses'] = responses(path, method, op, api, links)
    return found


def link_objects(op: Op | None, served: dict[str, list[str]]) -> dict:
    """OpenAPI links to every method of each linked path that the app serves."""
    found = {}
    for link in op.links if op is not None else ():
        for method in link.methods or served.get(link.path, []):
            if method in served.get(link.path, []):
                target = operation_id(link.path, method)
                found[target[:1].upper() + target[1:]] = {
                    'operationId': target, 'parameters': dict(link.parameters),
                    **({'requestBody': link.body} if link.body is not None else {})}
    return found


def document(routes: Iterable[tuple[str, object]], url_prefix: str) -> dict:
    routes = list(routes)
    served = {path: implemented(resource) for path, resource in routes}
    paths: dict[str, dict] = {}
    for path, resource in routes:
        api = declared(resource)
        item: dict[str, Any] = {}
        params = path_parameters(path, api)
        if params:
            item['parameters'] = params
        for method in served[path]:
            links = link_objects(api.op(method), served)
            item[method.lower()] = operation(path, method, resource, api, links)
        paths[path] = item
    return {
        'openapi': '3.1.0',
        'info': {
            'title': 'sentrail',
            'version': '0',
            'description': "Sentry's management API v0 and event ingestion, served by sentrail. Every GET "
                           'also answers HEAD; every path answers OPTIONS with its `Allow` header.',
        },
        'servers': [{'url': url_prefix.rstrip('/')}],
        'security': API_SECURITY,
        'paths': paths,
        'components': {'schemas': schemas.SCHEMAS, 'securitySchemes': SECURITY_SCHEMES},
    }


SECURITY_SCHEMES = {
    'apiKey': {'type': 'http', 'scheme': 'basic',
               'description': "An organization API key as the username, with an empty password (`curl -u KEY:`)."},
    'bearerToken': {'type': 'http', 'scheme': 'bearer', 'description': "A user's auth token (`api-tokens/`)."},
    'session': {'type': 'apiKey', 'in': 'cookie', 'name': SESSION_COOKIE,
                'description': f'The session cookie `POST /api/0/auth/` sets; unsafe methods also need the '
                               f'{CSRF_HEADER} header.'},
    'sentryAuth': {'type': 'apiKey', 'in': 'header', 'name': 'X-Sentry-Auth',
                   'description': 'Ingestion only: `Sentry sentry_key=<public key>, sentry_version=7, ...` '
                                  '(also accepted as `Authorization: Sentry ...`).'},
    'sentryKey': {'type': 'apiKey', 'in': 'query', 'name': 'sentry_key',
                  'description': "Ingestion only: the client key's public key, as browser SDKs send it."},
}

# Declarations for the resources of sentrail/http/resources/issues.py and notes.py, kept
# here while their owner rewrites those modules; a class's own `api` attribute wins, so
# each entry goes away when its class carries one.
STREAM_QUERY = (
    Param('query', {'type': 'string'}, 'Issue search; absent means `is:unresolved`, empty means all.'),
    Param('status', {'type': 'string'}, 'The old top-level status filter.'),
    Param('bookmarks', {'type': 'string'}, '`1`: only issues the caller bookmarked.'),
    Param('assigned', {'type': 'string'}, '`1`: only issues assigned to the caller.'),
    Param('sort', {'type': 'string', 'enum': ['date', 'new', 'freq', 'priority', 'user']},
          'Order (default `date`, last seen).'),
)
STREAM_GET = Op(
    returns=ok(['StreamGroup']), headers=('Link', 'X-Hits', 'X-Max-Hits'), summary='Search the issues.',
    query=(*STREAM_QUERY,
           Param('statsPeriod', {'type': 'string', 'enum': ['', '24h', '14d']}, "Each issue's graph period."),
           Param('shortIdLookup', {'type': 'string'}, '`1`: a short id in `query` answers with its issue.'),
           Param('limit', {'type': 'integer', 'minimum': 1}, 'Page size (default and most 100).'), CURSOR))
IDS = Param('id', {'type': 'string'}, 'The issues to act on (repeated).', repeated=True)
STREAM_PUT = Op(body='IssueUpdate', returns={200: 'IssueBulkAnswer', 204: None}, query=(IDS, *STREAM_QUERY),
                summary='Edit the issues named by `id`, or those the search finds.')
STREAM_DELETE = Op(returns=NO_CONTENT, query=(IDS,), summary='Delete the issues named by `id`.')
ORG_PROJECTS = Param('project', {'type': 'string'}, 'Only these projects (ids, repeated; -1: all).', repeated=True)
PENDING: dict[str, Api] = {
    'IssueResource': Api(get=Op(returns=ok('GroupDetail')), put=Op(body='IssueUpdate', returns=ok('Group')),
                         delete=Op(returns={202: None})),
    'IssueActivityResource': Api(get=Op(returns=ok('IssueActivity'))),
    'IssueParticipantListResource': Api(get=Op(returns=ok(['User']))),
    'IssueHashListResource': Api(get=Op(returns=ok(['GroupHash']), paged=True)),
    'IssueTagListResource': Api(get=Op(returns=ok(['GroupTagKey']))),
    'IssueTagResource': Api(get=Op(returns=ok('GroupTagKey')), path={'key': 'The tag key.'}),
    'IssueTagValueListResource': Api(
        get=Op(returns=ok(['TagValue']), paged=True,
               query=(Param('sort', {'type': 'string'}, '`date` (last seen), `age` (first seen) or `count`.'),)),
        path={'key': 'The tag key.'}),
    'ProjectIssueListResource': Api(get=STREAM_GET, put=STREAM_PUT, delete=STREAM_DELETE),
    'OrganizationIssueListResource': Api(
        get=replace(STREAM_GET, query=(ORG_PROJECTS, *STREAM_GET.query)),
        put=replace(STREAM_PUT, query=(ORG_PROJECTS, *STREAM_PUT.query)),
        delete=replace(STREAM_DELETE, query=(ORG_PROJECTS, IDS))),
    'NoteListResource': Api(
        get=Op(returns=ok(['Activity']), paged=True),
        post=Op(body='NoteCreate', returns=created('Activity'), errors={400: 'ErrorText'},
                links=(Link('/api/0/issues/{issue}/notes/{note}/',
                            {'issue': '$request.path.issue', 'note': '$response.body#/id'}),))),
    'NoteResource': Api(put=Op(body='NoteUpdate', returns=ok('Activity')), delete=Op(returns=NO_CONTENT),
                        path={'note': "The note's id."}),
}
