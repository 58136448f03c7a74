"""`organizations/{org}/repos/` (sentry-cli reads it before every set-commits),
`organizations/{org}/repos/{repo}/` and the repository's known `commits/`."""
from __future__ import annotations

import re
from uuid import UUID

import falcon
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from sentrail.commands.releases import CreateRepository, DeleteRepository
from sentrail.domain.sequence import public_number
from sentrail.http import fields
from sentrail.http.errors import FieldErrors, not_found
from sentrail.http.openapi import Api, Link, Op, Param, ok
from sentrail.http.pagination import respond_with_page
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.resources.organizations import ORG_SCOPES
from sentrail.http.resources.releases import respond_commits
from sentrail.http.serializers.releases import repository
from sentrail.projections import releases as store
from sentrail.services import Services


# A git remote as `git remote -v` shows it: any scheme (https, ssh, git+ssh, ...) or scp-like.
REMOTE = re.compile(r'^(?:[a-z][a-z0-9+.-]*://[^\s/]+\S*|[\w.-]+@[\w.-]+:\S+)$', re.IGNORECASE)


def remote_url(value: object) -> str | None:
    """What `set-commits --auto` compares with the local checkout's remote."""
    if value is None or value == '':
        return None
    if not isinstance(value, str) or len(value) > 2000 or not REMOTE.match(value):
        raise FieldErrors({'url': ['Enter a valid URL.']})
    return value


def find_repository(resource: Resource, req: falcon.Request, conn: Connection, org: str, repo: str) -> Row:
    org_row = resource.access(req).organization(conn, org, resource.needed(req))
    number = public_number(repo)
    row = store.repository_by_number(conn, org_row.id, number) if number is not None else None
    if row is None:
        raise not_found()
    return row


class RepositoryListResource(Resource):
    """Active repositories by name (`?status=deleted` for those being deleted), paginated;
    adding one by name, provider and url (the url is what `set-commits --auto` matches)."""

    scopes = ORG_SCOPES
    api = Api(get=Op(returns=ok(['Repository']), paged=True,
                     query=(Param('status', {'type': 'string'}, '`active` (default) or `deleted`.'),)),
              post=Op(body='RepositoryCreate', returns={201: 'Repository'},
                      links=(Link('/api/0/organizations/{org}/repos/{repo}/',
                                  {'org': '$request.path.org', 'repo': '$response.body#/id'}),)))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        with self.services.read() as conn:
            org_row = self.access(req).organization(conn, org, self.needed(req))
            query = store.repositories_query(org_row.id, req.params.get('status', 'active'))
            name = store.repositories.c.name
            respond_with_page(req, resp, self.services.config.url_prefix, conn, query, store.repositories.c.name_key,
                              repository, descending=False,
                              tiebreak=name.collate('C') if conn.dialect.name == 'postgresql' else name)

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        body = read_fields(req)
        with self.services.read() as conn:
            org_row = self.access(req).organization(conn, org, self.needed(req))
        name = fields.string('name', fields.required(body, 'name'), 200)
        provider = fields.optional_string('provider', body.get('provider'), 64)
        outcome = self.services.execute(CreateRepository(
            organization_id=UUID(org_row.id), name=name, provider=provider or None,
            url=remote_url(body.get('url')), actor=self.auth(req).actor(),
        ))
        with self.services.read() as conn:
            resp.media = repository(store.repository_by_number(conn, org_row.id, int(outcome.id)))
        resp.status = falcon.HTTP_201


class RepositoryResource(Resource):
    """One repository; deleting it answers 202 with its pending state, as Sentry does."""

    scopes = ORG_SCOPES
    api = Api(get=Op(returns=ok('Repository')), delete=Op(returns={202: 'Repository'}))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, repo: str) -> None:
        with self.services.read() as conn:
            resp.media = repository(find_repository(self, req, conn, org, repo))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, repo: str) -> None:
        with self.services.read() as conn:
            row = find_repository(self, req, conn, org, repo)
        if row.status == 'active':
            self.services.execute(DeleteRepository(repository_id=UUID(row.id), actor=self.auth(req).actor()))
        with self.services.read() as conn:
            resp.media = repository(store.repository_by_number(conn, row.organization_id, row.number))
        resp.status = falcon.HTTP_202


class RepositoryCommitListResource(Resource):
    """The commits known in a repository, latest learnt first."""

    scopes = {'GET': ORG_SCOPES['GET']}
    api = Api(get=Op(returns=ok(['Commit']), paged=True))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, repo: str) -> None:
        with self.services.read() as conn:
            row = find_repository(self, req, conn, org, repo)
            respond_commits(req, resp, self.services, conn, row.organization_id,
                            store.repository_commits_query(row.id), store.commits.c.seq, descending=True)


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [
        ('/api/0/organizations/{org}/repos/', RepositoryListResource(services)),
        ('/api/0/organizations/{org}/repos/{repo}/', RepositoryResource(services)),
        ('/api/0/organizations/{org}/repos/{repo}/commits/', RepositoryCommitListResource(services)),
    ]
